import { type Clock, realClock } from "@mlflow-dev/kernel/wait";
import { TransportError } from "./errors.ts";

/**
 * When a request is sent again. A failure without an HTTP answer (refused, dropped, reset) is
 * retried; a timeout only when `timeouts` is set (the server may still be working on it); an
 * answer only when its status is in `statuses` (a load balancer's 502-504 while a target
 * restarts). A 4xx is an answer and is never retried unless listed.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 3; without limit when only `forMs` is set). */
  attempts?: number;
  /** Instead of (or as well as) a count: keep retrying until this long after the first attempt. */
  forMs?: number;
  /** The wait before the second attempt; it doubles each time, up to `maxDelayMs`. */
  delayMs: number;
  /** The longest wait between two attempts (default 8 × delayMs). */
  maxDelayMs?: number;
  /** Statuses that count as transient. */
  statuses?: readonly number[];
  /** Retry a request that timed out too. */
  timeouts?: boolean;
}

/** The client's default for idempotent methods: three attempts, 0.5 s then 1 s apart, on connection failures. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, delayMs: 500 };

/** What a load balancer answers while its target restarts or is not registered yet. */
export const LOAD_BALANCER_STATUSES: readonly number[] = [502, 503, 504];

/** Methods that may be sent twice with the same outcome (not DELETE: its second answer is a 404). */
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "OPTIONS"]);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method.toUpperCase());
}

/**
 * Runs `attempt` under `policy`. `statusOf` reads the status of a result (for `statuses`); the
 * last result or error is returned or thrown when the policy is spent.
 */
export async function withRetry<T>(
  policy: RetryPolicy | undefined,
  attempt: () => Promise<T>,
  statusOf: (result: T) => number,
  signal?: AbortSignal,
  clock: Clock = realClock,
): Promise<T> {
  if (!policy) return attempt();
  const started = clock.now();
  const maxAttempts = policy.attempts ?? (policy.forMs !== undefined ? Number.POSITIVE_INFINITY : 3);
  const maxDelay = policy.maxDelayMs ?? policy.delayMs * 8;
  const retried = new Set(policy.statuses ?? []);
  for (let n = 1, delay = policy.delayMs; ; n++, delay = Math.min(delay * 2, maxDelay)) {
    const spent = () => n >= maxAttempts || (policy.forMs !== undefined && clock.now() - started >= policy.forMs);
    try {
      const result = await attempt();
      if (!retried.has(statusOf(result)) || spent()) return result;
    } catch (e) {
      if (!(e instanceof TransportError) || (e.timedOut && !policy.timeouts) || spent()) throw e;
    }
    await clock.sleep(delay, signal);
  }
}
