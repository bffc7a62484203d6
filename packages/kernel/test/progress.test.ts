import { afterEach, describe, expect, it, vi } from "vitest";
import { lineReporter, progress, seconds, stepReporter } from "../src/progress.ts";

describe("progress", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function recorded(heartbeatMs = 15_000) {
    vi.useFakeTimers();
    const lines: string[] = [];
    const p = progress({ write: (t) => lines.push(t), now: () => Date.now(), heartbeatMs });
    return { p, lines };
  }

  it("each step says how long the one before it took", () => {
    const { p, lines } = recorded();
    p.step("promote staging: secrets\n", "secrets");
    vi.advanceTimersByTime(3_200);
    p.step("promote staging: infrastructure\n", "infrastructure");
    p.stop();
    expect(lines).toEqual(["promote staging: secrets\n", "  (secrets: 3.2 s)\n", "promote staging: infrastructure\n"]);
  });

  it("a silent wait gets a heartbeat every 15 s with the step's elapsed time; output resets it", () => {
    const { p, lines } = recorded();
    p.step("promote staging: infrastructure\n", "infrastructure");
    vi.advanceTimersByTime(14_000);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1_000);
    expect(lines.at(-1)).toBe("  ... still infrastructure (15.0 s)\n");
    vi.advanceTimersByTime(10_000);
    p.line("  Database CREATE_IN_PROGRESS\n");
    vi.advanceTimersByTime(14_000);
    expect(lines.at(-1)).toBe("  Database CREATE_IN_PROGRESS\n");
    vi.advanceTimersByTime(1_000);
    expect(lines.at(-1)).toBe("  ... still infrastructure (40.0 s)\n");
    p.stop();
    vi.advanceTimersByTime(60_000);
    expect(lines.at(-1)).toBe("  ... still infrastructure (40.0 s)\n");
  });

  it("a detail line may name what is still going on; nothing is said before the first label", () => {
    const { p, lines } = recorded(5_000);
    vi.advanceTimersByTime(20_000);
    expect(lines).toEqual([]);
    p.line("  starting the stack\n", "starting the stack");
    vi.advanceTimersByTime(5_000);
    expect(lines.at(-1)).toBe("  ... still starting the stack (25.0 s)\n");
    p.stop();
  });

  it("writes minutes past one minute", () => {
    expect(seconds(59_400)).toBe("59.4 s");
    expect(seconds(754_000)).toBe("12 min 34 s");
  });

  it("stepReporter prints a deploy's steps, details and warnings under its prefix", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const r = stepReporter("promote staging", { write: (t) => lines.push(t), now: () => Date.now() });
    r.step("secrets");
    r.info("created db-password");
    vi.advanceTimersByTime(2_000);
    r.warn("slow");
    r.step("infrastructure");
    expect(lines).toEqual([
      "promote staging: secrets\n",
      "  created db-password\n",
      "  warning: slow\n",
      "  (secrets: 2.0 s)\n",
      "promote staging: infrastructure\n",
    ]);
  });

  it("lineReporter's heartbeat names the last line", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const report = lineReporter({ write: (t) => lines.push(t), now: () => Date.now(), heartbeatMs: 5_000 });
    report("waiting for mlflow");
    vi.advanceTimersByTime(5_000);
    expect(lines).toEqual(["  waiting for mlflow\n", "  ... still waiting for mlflow (5.0 s)\n"]);
  });

  it("status off a terminal writes nothing; the next heartbeat names it, a line clears it", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const report = lineReporter({ write: (t) => lines.push(t), now: () => Date.now(), heartbeatMs: 5_000, tty: false });
    report("pulling postgres:17");
    report.status("pulling postgres:17: 12.0 MB of 150 MB, 1 of 7 layers downloaded");
    report.status("pulling postgres:17: 80.0 MB of 150 MB, 4 of 7 layers downloaded");
    expect(lines).toEqual(["  pulling postgres:17\n"]);
    vi.advanceTimersByTime(5_000);
    expect(lines.at(-1)).toBe("  ... still pulling postgres:17: 80.0 MB of 150 MB, 4 of 7 layers downloaded (5.0 s)\n");
    report("pulled postgres:17");
    vi.advanceTimersByTime(5_000);
    expect(lines.at(-1)).toBe("  ... still pulled postgres:17 (10.0 s)\n");
  });

  it("status on a terminal redraws one line in place, at most every 200 ms, cut to the width; the next line clears it", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const p = progress({ write: (t) => lines.push(t), now: () => Date.now(), tty: true, columns: 30 });
    p.line("  pulling postgres:17\n", "pulling postgres:17");
    p.status("postgres:17: 1 MB of 150 MB");
    p.status("postgres:17: 2 MB of 150 MB");
    vi.advanceTimersByTime(200);
    p.status("postgres:17: 3.0 MB of 150 MB, 1 of 7 layers downloaded");
    p.line("  pulled postgres:17\n");
    p.stop();
    expect(lines).toEqual([
      "  pulling postgres:17\n",
      "\r\x1b[2K  postgres:17: 1 MB of 150 MB",
      "\r\x1b[2K  postgres:17: 3.0 MB of 150…",
      "\r\x1b[2K",
      "  pulled postgres:17\n",
    ]);
  });
});
