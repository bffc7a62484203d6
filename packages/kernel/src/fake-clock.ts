import type { Clock } from "./wait.ts";

/** A clock for tests: sleep advances now() by ms and returns at once; `slept` lists the pauses. */
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
