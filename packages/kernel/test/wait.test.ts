import { describe, expect, it } from "vitest";
import { fakeClock } from "../src/fake-clock.ts";
import { poll, WaitMeter } from "../src/wait.ts";

describe("poll", () => {
  it("ticks before every check and returns the first answer", async () => {
    const clock = fakeClock();
    const seen: string[] = [];
    let n = 0;
    const value = await poll({
      clock,
      intervalMs: 1000,
      timeoutMs: 60_000,
      onTick: () => {
        seen.push(`tick ${n}`);
      },
      check: () => (++n === 3 ? "done" : undefined),
      onTimeout: () => new Error("late"),
    });
    expect(value).toBe("done");
    expect(seen).toEqual(["tick 0", "tick 1", "tick 2"]);
    expect(clock.slept).toEqual([1000, 1000]);
  });

  it("throws the timeout error once the deadline has passed after a check", async () => {
    const clock = fakeClock();
    let checks = 0;
    await expect(
      poll({
        clock,
        intervalMs: 1000,
        timeoutMs: 3000,
        check: () => {
          checks++;
          return undefined;
        },
        onTimeout: () => new Error("still waiting"),
      }),
    ).rejects.toThrow("still waiting");
    // Checks at 0, 1, 2 and 3 s are within the time; the one at 4 s is past it.
    expect(checks).toBe(5);
  });

  it("stops after maxAttempts, with undefined when there is no timeout error", async () => {
    const clock = fakeClock();
    let checks = 0;
    const value = await poll({
      clock,
      intervalMs: 500,
      timeoutMs: 60_000,
      maxAttempts: 4,
      check: () => {
        checks++;
        return undefined;
      },
    });
    expect(value).toBeUndefined();
    expect(checks).toBe(4);
    expect(clock.slept).toEqual([500, 500, 500]);
  });

  it("lets a check's error through at once", async () => {
    await expect(
      poll({
        clock: fakeClock(),
        intervalMs: 1,
        timeoutMs: 10,
        check: () => {
          throw new Error("gave up");
        },
      }),
    ).rejects.toThrow("gave up");
  });
});

describe("WaitMeter: the time promote spends waiting on AWS", () => {
  it("counts every poll loop, not the work between them", async () => {
    const clock = fakeClock();
    const meter = new WaitMeter(clock);
    let n = 0;
    await poll({ clock: meter, intervalMs: 1000, timeoutMs: 60_000, check: () => (++n === 3 ? 1 : undefined) });
    await clock.sleep(5000); // own work, outside any wait
    n = 0;
    await poll({ clock: meter, intervalMs: 500, timeoutMs: 60_000, check: () => (++n === 2 ? 1 : undefined) });
    expect(meter.waitedMs).toBe(2000 + 500);
    expect(meter.now()).toBe(clock.now());
  });

  it("counts a wait inside a wait once, and a wait that fails too", async () => {
    const clock = fakeClock();
    const meter = new WaitMeter(clock);
    await meter.waiting(async () => {
      await clock.sleep(100);
      await meter.waiting(() => clock.sleep(300));
    });
    expect(meter.waitedMs).toBe(400);
    await expect(
      meter.waiting(async () => {
        await clock.sleep(50);
        throw new Error("timed out");
      }),
    ).rejects.toThrow("timed out");
    expect(meter.waitedMs).toBe(450);
  });
});
