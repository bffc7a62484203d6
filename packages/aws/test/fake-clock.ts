import type { Clock } from "../src/deploy/clock.ts";

/** A clock for tests: sleep advances now() by ms and returns at once. */
export function fakeClock(start = Date.UTC(2026, 0, 1)): Clock & { slept: number[] } {
  let t = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  };
}
