import type { AwsEngine } from "@mlflow-dev/aws/deploy";
import { poll } from "@mlflow-dev/kernel/wait";

/**
 * Waits until no operation runs on the stack (its status leaves *_IN_PROGRESS, except a CREATE
 * change set under review, which never moves by itself), so `destroy` may delete it. Returns the
 * status (the last one seen when the time is up), or undefined without a stack. An interrupted
 * promote leaves its change set running.
 */
export async function settledStackStatus(
  engine: AwsEngine,
  stack: string,
  stackPhase: (status: string | undefined) => string,
  options: { timeoutMs: number; pollMs: number } = { timeoutMs: 30 * 60_000, pollMs: 2_000 },
): Promise<string | undefined> {
  let last: string | undefined;
  const settled = await poll({
    intervalMs: options.pollMs,
    timeoutMs: options.timeoutMs,
    check: async () => {
      last = await engine
        .describeStack(stack)
        .then((s) => s?.status)
        .catch(() => undefined);
      return stackPhase(last) === "busy" ? undefined : { status: last };
    },
  });
  return settled ? settled.status : last;
}
