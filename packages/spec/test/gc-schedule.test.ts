import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatIssue, gcRunsPerMonth, parseGcSchedule, parseSpec, parseSpecOrThrow, resolve } from "../src/index.ts";

/** gc.schedule's grammar (EventBridge Scheduler's rate() and cron(), at most hourly) and how often it runs. */

const basic = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");

const runs = (expression: string) => {
  const r = parseGcSchedule(expression);
  if (!r.ok) throw new Error(r.message);
  return gcRunsPerMonth(r.schedule);
};

describe("gc.schedule", () => {
  it.each([
    "rate(1 day)",
    "rate(7 days)",
    "rate(1 hour)",
    "rate(90 minutes)",
    "cron(0 3 * * ? *)",
    "cron(30 2 ? * MON-FRI *)",
    "cron(0 0/6 * * ? *)",
    "cron(15 4 1,15 * ? *)",
    "cron(0 1 ? * SUN#1 *)",
    "cron(0 1 L * ? *)",
    "cron(0 23 ? JAN-MAR 6L 2027-2030)",
  ])("accepts %s", (expression) => {
    expect(parseGcSchedule(expression)).toMatchObject({ ok: true });
  });

  it.each([
    ["rate(1 days)", "needs the singular unit for 1: rate(1 day)"],
    ["rate(2 day)", "needs the plural unit: rate(2 days)"],
    ["rate(0 days)", 'is not "<positive whole number> <unit>"'],
    ["rate(1 week)", 'is not "<positive whole number> <unit>"'],
    ["rate(30 minutes)", "runs gc more than once an hour"],
    ["cron(0 3 * * *)", "has 5 fields"],
    ["cron(0 3 * * * *)", "exactly one of day-of-month and day-of-week must be ?"],
    ["cron(0 3 ? * ? *)", "exactly one of day-of-month and day-of-week must be ?"],
    ["cron(*/5 3 * * ? *)", "runs gc more than once an hour"],
    ["cron(0 24 * * ? *)", 'the hours field "24" has "24", outside 0-23'],
    ["cron(0 3 * FOO ? *)", 'the month field "FOO" has "FOO", outside 1-12 (or JAN-DEC)'],
    ["cron(0 ? * * ? *)", "cannot be ?"],
    ["at(2027-01-01T00:00:00)", "runs once (at)"],
    ["daily", "is neither rate(...) nor cron(...)"],
    [" rate(1 day)", "has spaces around it"],
  ])("refuses %s: %s, and says how to fix it", (expression, why) => {
    const r = parseGcSchedule(expression);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toContain(why);
    expect(r.message).toContain("Use rate(<n> minutes|hours|days), such as rate(1 day), or cron(");
  });

  it("counts about how many runs a month", () => {
    expect(runs("rate(1 day)")).toBeCloseTo(30.42, 1);
    expect(runs("rate(12 hours)")).toBeCloseTo(60.83, 1);
    expect(runs("cron(0 3 * * ? *)")).toBeCloseTo(30.42, 1);
    expect(runs("cron(0 3 ? * MON-FRI *)")).toBeCloseTo((5 * 30.42) / 7, 1);
    expect(runs("cron(0 0/6 * * ? *)")).toBeCloseTo(4 * 30.42, 1);
    expect(runs("cron(0 3 1 * ? *)")).toBe(1);
    expect(runs("cron(0 3 1 JAN,JUL ? *)")).toBeCloseTo(2 / 12, 5);
  });

  it("is optional; the Model carries it, and the spec error says where", () => {
    expect(resolve(parseSpecOrThrow(basic), "staging").gc.schedule).toBeUndefined();
    const model = resolve(parseSpecOrThrow(`${basic}gc:\n  schedule: rate(1 day)\n`), "staging");
    expect(model.gc).toEqual({ olderThanDays: 30, schedule: "rate(1 day)" });
    const bad = parseSpec(`${basic}gc:\n  schedule: rate(1 days)\n`, "mlflow-dev.yaml");
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    const line = basic.split("\n").length + 1;
    expect(bad.issues.map(formatIssue)).toEqual([
      expect.stringMatching(
        new RegExp(`^mlflow-dev\\.yaml:${line}:13 gc\\.schedule: rate\\(1 days\\) needs the singular unit for 1`),
      ),
    ]);
  });
});
