import { StackStatus } from "@aws-sdk/client-cloudformation";
import { describe, expect, it } from "vitest";
import {
  destroyStackAction,
  isSuccess,
  isTerminal,
  planStackAction,
  promoteStackAction,
  stackPhase,
} from "../src/deploy/stack-status.ts";

/** Every status of the SDK, and what promote, destroy and plan do with a stack in it. */
const EXPECTED: Record<StackStatus, { promote: string; destroy: string; plan: string }> = {
  CREATE_COMPLETE: { promote: "update", destroy: "teardown-then-delete", plan: "update" },
  CREATE_FAILED: { promote: "refuse", destroy: "delete", plan: "blocked" },
  CREATE_IN_PROGRESS: { promote: "refuse", destroy: "refuse", plan: "blocked" },
  DELETE_COMPLETE: { promote: "create", destroy: "delete", plan: "create" },
  DELETE_FAILED: { promote: "refuse", destroy: "delete", plan: "blocked" },
  DELETE_IN_PROGRESS: { promote: "refuse", destroy: "refuse", plan: "blocked" },
  IMPORT_COMPLETE: { promote: "update", destroy: "teardown-then-delete", plan: "update" },
  IMPORT_IN_PROGRESS: { promote: "refuse", destroy: "refuse", plan: "blocked" },
  IMPORT_ROLLBACK_COMPLETE: { promote: "update", destroy: "teardown-then-delete", plan: "update" },
  IMPORT_ROLLBACK_FAILED: { promote: "refuse", destroy: "delete", plan: "blocked" },
  IMPORT_ROLLBACK_IN_PROGRESS: { promote: "refuse", destroy: "refuse", plan: "blocked" },
  REVIEW_IN_PROGRESS: { promote: "create", destroy: "delete", plan: "create" },
  ROLLBACK_COMPLETE: { promote: "replace", destroy: "delete", plan: "create" },
  ROLLBACK_FAILED: { promote: "refuse", destroy: "delete", plan: "blocked" },
  ROLLBACK_IN_PROGRESS: { promote: "refuse", destroy: "refuse", plan: "blocked" },
  UPDATE_COMPLETE: { promote: "update", destroy: "teardown-then-delete", plan: "update" },
  UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: { promote: "refuse", destroy: "refuse", plan: "blocked" },
  UPDATE_FAILED: { promote: "refuse", destroy: "delete", plan: "blocked" },
  UPDATE_IN_PROGRESS: { promote: "refuse", destroy: "refuse", plan: "blocked" },
  UPDATE_ROLLBACK_COMPLETE: { promote: "update", destroy: "teardown-then-delete", plan: "update" },
  UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: { promote: "refuse", destroy: "refuse", plan: "blocked" },
  UPDATE_ROLLBACK_FAILED: { promote: "refuse", destroy: "delete", plan: "blocked" },
  UPDATE_ROLLBACK_IN_PROGRESS: { promote: "refuse", destroy: "refuse", plan: "blocked" },
};

describe("what a stack status allows", () => {
  it("covers every StackStatus of the SDK", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.values(StackStatus).sort());
  });

  it.each(Object.values(StackStatus))("%s", (status) => {
    const stack = { status };
    const want = EXPECTED[status];
    expect({
      promote: promoteStackAction("s", stack).do,
      destroy: destroyStackAction("s", stack).do,
      plan: planStackAction(stack),
    }).toEqual(want);
    expect(isTerminal(status)).toBe(!status.endsWith("_IN_PROGRESS"));
    expect(isSuccess(status)).toBe(
      ["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "DELETE_COMPLETE"].includes(status),
    );
  });

  it("treats no stack as one to create, and nothing to destroy", () => {
    expect(stackPhase(undefined)).toBe("absent");
    expect(promoteStackAction("s", undefined).do).toBe("create");
    expect(destroyStackAction("s", undefined).do).toBe("nothing");
    expect(planStackAction(undefined)).toBe("create");
  });

  it("treats a status newer than the SDK as busy while in progress, else broken", () => {
    expect(stackPhase("SOMETHING_NEW_IN_PROGRESS")).toBe("busy");
    expect(stackPhase("SOMETHING_NEW_FAILED")).toBe("broken");
  });

  it("says why promote refuses, and what to do", () => {
    expect(promoteStackAction("app-staging", { status: "UPDATE_IN_PROGRESS" })).toEqual({
      do: "refuse",
      message: "the stack app-staging is UPDATE_IN_PROGRESS: another operation is running on it",
      hint: "Wait until it finishes (aws cloudformation describe-stacks), then run promote again.",
    });
    const failed = promoteStackAction("app-staging", {
      status: "UPDATE_ROLLBACK_FAILED",
      statusReason: "bucket in use",
    });
    expect(failed).toMatchObject({
      message: "the stack app-staging is UPDATE_ROLLBACK_FAILED (bucket in use)",
      hint: expect.stringContaining("continue-update-rollback"),
    });
    expect(promoteStackAction("app-staging", { status: "DELETE_FAILED" })).toMatchObject({
      hint: "Inspect it in the CloudFormation console; mlflow-dev destroy removes it.",
    });
    expect(destroyStackAction("app-staging", { status: "DELETE_IN_PROGRESS" })).toMatchObject({
      hint: "Wait until it finishes, then run destroy again.",
    });
  });
});
