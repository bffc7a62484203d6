/**
 * Time, as the deploy runners see it: what time it is and how to wait. Injected (RunnerOptions.clock)
 * so tests run every wait on a fake clock that advances at once instead of sleeping.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Runs one wait on AWS (a poll loop, the health wait) and counts its time, when the clock meters them (WaitMeter). */
  waiting?<T>(wait: () => Promise<T>): Promise<T>;
}

/**
 * A clock that adds up the time spent waiting on CloudFormation, ECS and the load balancer (every
 * poll loop, and the health waits), for promote's timings: the rest of a promote is mlflow-dev's
 * own work and its API calls. A wait inside a wait is counted once.
 */
export class WaitMeter implements Clock {
  private readonly inner: Clock;
  private depth = 0;
  waitedMs = 0;
  constructor(inner: Clock) {
    this.inner = inner;
  }
  now(): number {
    return this.inner.now();
  }
  sleep(ms: number): Promise<void> {
    return this.inner.sleep(ms);
  }
  async waiting<T>(wait: () => Promise<T>): Promise<T> {
    const t0 = this.now();
    this.depth++;
    try {
      return await wait();
    } finally {
      this.depth--;
      if (this.depth === 0) this.waitedMs += this.now() - t0;
    }
  }
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Seconds since t0, for progress lines. */
export function secondsSince(clock: Clock, t0: number): string {
  return `${Math.round((clock.now() - t0) / 1000)}s`;
}
