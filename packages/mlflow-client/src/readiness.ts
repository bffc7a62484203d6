import { type Clock, realClock } from "@mlflow-dev/kernel/wait";
import type { MlflowClient } from "./client.ts";
import { bodyExcerpt, NotReadyError, TransportError } from "./errors.ts";
import { LOAD_BALANCER_STATUSES } from "./retry.ts";

/**
 * One readiness wait for every caller: the smoke test of a rollout, the local stack's start-up,
 * the CLI's live parity pre-check. A wait polls a list of checks; an attempt passes when every
 * check does. A check that throws anything but a TransportError stops the wait at once (a
 * refused password will not become accepted by waiting).
 */

export type Readiness =
  | { ready: true }
  | {
      ready: false;
      /** Why not, for the error message: `HTTP 503: upstream connect error`, a transport error's message. */
      reason: string;
      /** The server itself answered (not a load balancer's 502-504, not a failed connection). */
      answered?: boolean;
    };

export type ReadinessCheck = (client: MlflowClient, signal: AbortSignal | undefined) => Promise<Readiness>;

/** GET `path` answers 200 (default /health; each attempt may take `timeoutMs`, default 10 s). */
export function healthCheck(options: { path?: string; timeoutMs?: number } = {}): ReadinessCheck {
  const path = options.path ?? "/health";
  return async (client, signal) => {
    const r = await client.exchange("GET", path, {
      retry: false,
      timeoutMs: options.timeoutMs ?? 10_000,
      ...(signal ? { signal } : {}),
    });
    if (r.status === 200) return { ready: true };
    const excerpt = bodyExcerpt(r.body);
    return {
      ready: false,
      reason: `HTTP ${r.status}${excerpt ? `: ${excerpt}` : ""}`,
      answered: !LOAD_BALANCER_STATUSES.includes(r.status),
    };
  };
}

export interface Attempt {
  attempt: number;
  elapsedMs: number;
  ready: boolean;
  reason?: string;
}

export interface WaitOptions {
  /** Give up after this long (at least one attempt is made). */
  timeoutMs: number;
  /** Pause after an attempt that did not pass. */
  intervalMs: number;
  signal?: AbortSignal;
  /** Called after every attempt (progress output). */
  onAttempt?: (attempt: Attempt) => void;
  /** What must hold, checked in order (default: GET /health answers 200). */
  checks?: readonly ReadinessCheck[];
  /** Passing attempts needed in a row, taken back to back (default 1): a server warming up its workers. */
  consecutive?: number;
  /**
   * How long the server itself may keep answering "not ready" before the wait stops early (a
   * definite answer, unlike a load balancer's 502-504 or a refused connection). Default: the
   * whole timeout.
   */
  settleMs?: number;
  /** Default: the real clock. */
  clock?: Clock;
}

export interface Ready {
  attempts: number;
  elapsedMs: number;
}

/** Waits until every check passes `consecutive` times in a row; throws NotReadyError when time runs out. */
export async function waitUntilReady(client: MlflowClient, options: WaitOptions): Promise<Ready> {
  const checks = options.checks ?? [healthCheck()];
  const needed = options.consecutive ?? 1;
  const clock = options.clock ?? realClock;
  const started = clock.now();
  let passes = 0;
  let answeringSince: number | undefined;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    const verdict = await evaluate(checks, client, options.signal);
    const now = clock.now();
    const elapsedMs = now - started;
    options.onAttempt?.({
      attempt,
      elapsedMs,
      ready: verdict.ready,
      ...(verdict.ready ? {} : { reason: verdict.reason }),
    });
    if (verdict.ready) {
      answeringSince = undefined;
      if (++passes >= needed) return { attempts: attempt, elapsedMs };
      continue;
    }
    passes = 0;
    answeringSince = verdict.answered ? (answeringSince ?? now) : undefined;
    const settled =
      options.settleMs !== undefined && answeringSince !== undefined && now - answeringSince > options.settleMs;
    if (elapsedMs >= options.timeoutMs || settled)
      throw new NotReadyError(client.baseUrl, verdict.reason, attempt, elapsedMs);
    await clock.sleep(Math.min(options.intervalMs, options.timeoutMs - elapsedMs), options.signal);
  }
}

async function evaluate(
  checks: readonly ReadinessCheck[],
  client: MlflowClient,
  signal: AbortSignal | undefined,
): Promise<Readiness> {
  for (const check of checks) {
    let verdict: Readiness;
    try {
      verdict = await check(client, signal);
    } catch (e) {
      if (!(e instanceof TransportError)) throw e;
      verdict = { ready: false, reason: e.message };
    }
    if (!verdict.ready) return verdict;
  }
  return { ready: true };
}
