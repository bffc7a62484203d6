/**
 * Time, as the deploy runners see it: what time it is and how to wait. Injected (RunnerOptions.clock)
 * so tests run every wait on a fake clock that advances at once instead of sleeping.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Seconds since t0, for progress lines. */
export function secondsSince(clock: Clock, t0: number): string {
  return `${Math.round((clock.now() - t0) / 1000)}s`;
}
