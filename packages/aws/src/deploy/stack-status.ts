import type { StackStatus } from "@aws-sdk/client-cloudformation";

/**
 * What a CloudFormation stack status allows, in one place: promote, plan and destroy ask here and
 * act on the answer. Pure: a status (and the stack's reason) in, a decision out.
 *
 * - absent:  no stack (never created, or deleted): create it.
 * - create:  a stack with nothing in it yet (a change set under review): create it.
 * - replace: the first creation failed and rolled back (ROLLBACK_COMPLETE): the empty stack can
 *            only be deleted, then created again.
 * - update:  a stack in a stable state: change it through a change set.
 * - busy:    another operation is running on it: nothing may start until it finishes.
 * - broken:  a failed state that needs a hand (a failed rollback, a failed delete).
 */
export type StackPhase = "absent" | "create" | "replace" | "update" | "busy" | "broken";

/** Every status the SDK knows; Record<StackStatus, ...> makes a new one a compile error here. */
const PHASES: Record<StackStatus, StackPhase> = {
  CREATE_COMPLETE: "update",
  CREATE_FAILED: "broken",
  CREATE_IN_PROGRESS: "busy",
  DELETE_COMPLETE: "absent",
  DELETE_FAILED: "broken",
  DELETE_IN_PROGRESS: "busy",
  IMPORT_COMPLETE: "update",
  IMPORT_IN_PROGRESS: "busy",
  IMPORT_ROLLBACK_COMPLETE: "update",
  IMPORT_ROLLBACK_FAILED: "broken",
  IMPORT_ROLLBACK_IN_PROGRESS: "busy",
  REVIEW_IN_PROGRESS: "create",
  ROLLBACK_COMPLETE: "replace",
  ROLLBACK_FAILED: "broken",
  ROLLBACK_IN_PROGRESS: "busy",
  UPDATE_COMPLETE: "update",
  UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: "busy",
  UPDATE_FAILED: "broken",
  UPDATE_IN_PROGRESS: "busy",
  UPDATE_ROLLBACK_COMPLETE: "update",
  UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: "busy",
  UPDATE_ROLLBACK_FAILED: "broken",
  UPDATE_ROLLBACK_IN_PROGRESS: "busy",
};

/** The phase of a status; undefined is no stack; a status newer than the SDK is busy or broken. */
export function stackPhase(status: string | undefined): StackPhase {
  if (status === undefined) return "absent";
  const known = (PHASES as Record<string, StackPhase | undefined>)[status];
  if (known) return known;
  return status.endsWith("_IN_PROGRESS") ? "busy" : "broken";
}

/** The stack has left *_IN_PROGRESS: the operation on it is over, one way or the other. */
export function isTerminal(status: string): boolean {
  return !status.endsWith("_IN_PROGRESS");
}

/** The operation on the stack succeeded (a rollback is not a success). */
export function isSuccess(status: string): boolean {
  return /^(CREATE|UPDATE|IMPORT|DELETE)_COMPLETE$/.test(status);
}

interface StackState {
  status: string;
  statusReason?: string;
}

/** A refusal: the message and hint of the DeployError the command throws. */
export interface Refusal {
  do: "refuse";
  message: string;
  hint: string;
}

function busy(name: string, status: string, hint: string): Refusal {
  return { do: "refuse", message: `the stack ${name} is ${status}: another operation is running on it`, hint };
}

/** What promote does with the stack before its infrastructure change set. */
export type PromoteStackAction = { do: "create" } | { do: "update" } | { do: "replace" } | Refusal;

export function promoteStackAction(name: string, stack: StackState | undefined): PromoteStackAction {
  switch (stackPhase(stack?.status)) {
    case "absent":
    case "create":
      return { do: "create" };
    case "replace":
      return { do: "replace" };
    case "update":
      return { do: "update" };
    case "busy":
      return busy(
        name,
        stack?.status ?? "",
        "Wait until it finishes (aws cloudformation describe-stacks), then run promote again.",
      );
    case "broken": {
      const status = stack?.status ?? "";
      return {
        do: "refuse",
        message: `the stack ${name} is ${status}${stack?.statusReason ? ` (${stack.statusReason})` : ""}`,
        hint: status.endsWith("ROLLBACK_FAILED")
          ? "Continue the rollback (aws cloudformation continue-update-rollback) or run mlflow-dev destroy, then promote again."
          : "Inspect it in the CloudFormation console; mlflow-dev destroy removes it.",
      };
    }
  }
}

/**
 * What destroy does: nothing without a stack; a stable stack first gets the teardown settings
 * (deletion protection off, what to keep) through a change set; any other is deleted as it is.
 */
export type DestroyStackAction = { do: "nothing" } | { do: "teardown-then-delete" } | { do: "delete" } | Refusal;

export function destroyStackAction(name: string, stack: StackState | undefined): DestroyStackAction {
  if (!stack) return { do: "nothing" };
  switch (stackPhase(stack.status)) {
    case "update":
      return { do: "teardown-then-delete" };
    case "busy":
      return busy(name, stack.status, "Wait until it finishes, then run destroy again.");
    default:
      return { do: "delete" };
  }
}

/** What plan shows: a new stack, a change set against the stack, or nothing (busy or broken). */
export type PlanStackAction = "create" | "update" | "blocked";

export function planStackAction(stack: StackState | undefined): PlanStackAction {
  switch (stackPhase(stack?.status)) {
    case "absent":
    case "create":
    case "replace":
      return "create";
    case "update":
      return "update";
    default:
      return "blocked";
  }
}

/** The next step after an operation on the stack ended in this (failed) status. */
export function failedStackHint(status: string): string {
  if (status === "ROLLBACK_COMPLETE")
    return "The stack was rolled back: the resources it created were deleted. Fix the cause above, then run the command again (the empty stack is replaced).";
  if (status === "UPDATE_ROLLBACK_COMPLETE")
    return "The update was rolled back: the stack is as it was before. Fix the cause above, then run the command again.";
  if (status.endsWith("ROLLBACK_FAILED"))
    return "The rollback itself failed: see the events above, fix the resources named there, then continue the rollback with `aws cloudformation continue-update-rollback` (or delete the stack).";
  return "See the events above.";
}
