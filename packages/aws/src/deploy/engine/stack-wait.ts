import type { CloudFormation, StackEvent } from "@aws-sdk/client-cloudformation";
import type { Reporter } from "@mlflow-dev/kernel/progress";
import { poll, type WaitOptions } from "@mlflow-dev/kernel/wait";
import { DeployError } from "../errors.ts";
import { failedStackHint, isSuccess, isTerminal } from "../stack-status.ts";
import { formatEvent, StackEventStream, stackFailureMessage, validationFailures } from "./stack-events.ts";
import { getStack, type StackInfo } from "./stack-info.ts";

/** Waiting for a stack operation to end, with its events streamed while it runs. */

/**
 * Polls until the stack leaves *_IN_PROGRESS, printing its events. Success returns the stack;
 * failure throws with the events of the resources that failed (the stack has rolled back by then).
 */
export async function waitForStack(
  cfn: CloudFormation,
  stackName: string,
  events: StackEventStream,
  report: Reporter,
  wait: WaitOptions,
): Promise<StackInfo> {
  const failures: StackEvent[] = [];
  const stream = async () => {
    for (const e of await events.next()) {
      report.info(formatEvent(e));
      if (e.ResourceStatus?.endsWith("_FAILED")) failures.push(e);
    }
  };
  let status = "";
  const stack = await poll<StackInfo>({
    clock: wait.clock,
    intervalMs: wait.pollMs,
    timeoutMs: wait.timeoutMs,
    onTick: stream,
    check: async () => {
      const s = await getStack(cfn, stackName);
      if (!s) throw new DeployError(`the stack ${stackName} disappeared while waiting for it`);
      status = s.status;
      return isTerminal(s.status) ? s : undefined;
    },
    onTimeout: () =>
      new DeployError(`the stack ${stackName} is still ${status} after ${Math.round(wait.timeoutMs / 60000)} minutes`, {
        hint: "It keeps going in CloudFormation: follow it in the console or with `aws cloudformation describe-stack-events`, then run the command again.",
      }),
  });
  // The events between the last look and the end.
  await stream();
  if (isSuccess(stack.status)) return stack;
  const validation = await validationFailures(cfn, stackName);
  throw new DeployError(stackFailureMessage(stackName, stack, [...failures, ...validation]), {
    hint: failedStackHint(stack.status),
  });
}

/** Deletes a stack and waits until it is gone, printing its events. */
export async function deleteStack(
  cfn: CloudFormation,
  stackName: string,
  report: Reporter,
  wait: WaitOptions,
): Promise<void> {
  const stack = await getStack(cfn, stackName);
  if (!stack) return;
  const events = await StackEventStream.from(cfn, stack.id);
  await cfn.deleteStack({ StackName: stack.id });
  let status = stack.status;
  await poll<true>({
    clock: wait.clock,
    intervalMs: wait.pollMs,
    timeoutMs: wait.timeoutMs,
    onTick: async () => {
      for (const e of await events.next()) report.info(formatEvent(e));
    },
    check: async () => {
      const now = await getStack(cfn, stack.id);
      if (!now || now.status === "DELETE_COMPLETE") return true;
      status = now.status;
      if (now.status === "DELETE_FAILED") {
        const r = await cfn.describeStackEvents({ StackName: stack.id });
        const failed = (r.StackEvents ?? []).filter((e) => e.ResourceStatus === "DELETE_FAILED");
        throw new DeployError(stackFailureMessage(stackName, now, failed), {
          hint: "Fix the resources named above (or delete them by hand), then run destroy again.",
        });
      }
      return undefined;
    },
    onTimeout: () =>
      new DeployError(`the stack ${stackName} is still ${status} after ${Math.round(wait.timeoutMs / 60000)} minutes`),
  });
}
