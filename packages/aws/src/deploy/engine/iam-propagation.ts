import type { Reporter } from "@mlflow-dev/kernel/progress";
import type { Clock } from "@mlflow-dev/kernel/wait";
import { awsErrorMessage, awsErrorName } from "../errors.ts";

/**
 * IAM is eventually consistent: a role the stack has just created can be refused for tens of
 * seconds when ECS first assumes it ("ECS was unable to assume the role ..."), although nothing is
 * wrong with it. The first call that makes ECS assume the stack's roles retries such an answer a
 * bounded number of times; any other error, or the same one after the last attempt, goes to the
 * caller as it came.
 */

const PROPAGATION_MESSAGE =
  /unable to assume (the )?role|cannot be assumed|not authorized to perform: sts:AssumeRole|role .* (is invalid|does not exist|is not valid)/i;

/** Whether an AWS error is IAM still propagating a new role (as opposed to a wrong role or policy). */
export function isIamPropagationError(e: unknown): boolean {
  const name = awsErrorName(e);
  if (!/InvalidParameter|AccessDenied|ClientException|ValidationError/.test(name)) return false;
  return PROPAGATION_MESSAGE.test(awsErrorMessage(e));
}

export interface IamRetryPolicy {
  /** Calls in all, the first included. */
  attempts: number;
  /** Wait before the second call; doubled after each refusal. */
  delayMs: number;
  /** Longest wait between two calls. */
  maxDelayMs: number;
}

/** About 75 s in all (5 + 10 + 20 + 20 + 20): AWS documents propagation "within seconds", observed up to about a minute. */
export const IAM_PROPAGATION_RETRY: IamRetryPolicy = { attempts: 6, delayMs: 5_000, maxDelayMs: 20_000 };

export async function retryIamPropagation<T>(
  what: string,
  call: () => Promise<T>,
  options: { clock: Clock; report: Reporter; policy?: IamRetryPolicy },
): Promise<T> {
  const policy = options.policy ?? IAM_PROPAGATION_RETRY;
  let delay = policy.delayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= policy.attempts || !isIamPropagationError(e)) throw e;
      options.report.info(
        `${what}: IAM has not propagated the new role yet (${awsErrorName(e)}); retrying in ${Math.round(delay / 1000)} s (attempt ${attempt + 1} of ${policy.attempts})`,
      );
      await options.clock.sleep(delay);
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}
