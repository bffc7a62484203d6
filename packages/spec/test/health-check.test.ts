import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_HEALTH_CHECK_RETRIES,
  defaultStartPeriodSeconds,
  estimatedStartSeconds,
  parseSpec,
  parseSpecOrThrow,
  resolve,
  SERVER_START_TIMES,
} from "../src/index.ts";

const basic = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");

/** examples/basic with its own mlflow.healthCheck block. */
function withHealthCheck(lines: string): string {
  return basic.replace(/^ {2}workers: 2$/m, `  workers: 2\n  healthCheck:\n${lines}`);
}

describe("the server's start time", () => {
  it("the estimate lies at or above every measured start (pnpm bench --start-time)", () => {
    for (const row of SERVER_START_TIMES.rows) {
      const estimate = estimatedStartSeconds({ cpu: row.cpu, workers: row.workers, jobs: false });
      expect(estimate, `${row.cpu} CPU units, ${row.workers} workers`).toBeGreaterThanOrEqual(row.maxSeconds);
      expect(row.medianSeconds).toBeLessThanOrEqual(row.maxSeconds);
    }
  });

  it("grows with the processes that import MLflow, and below 512 CPU units with less CPU", () => {
    // By hand: 26 s fixed + 14 s per process, times 512 / cpu below 512 CPU units.
    expect(estimatedStartSeconds({ cpu: 512, workers: 2, jobs: false })).toBe(54);
    expect(estimatedStartSeconds({ cpu: 2048, workers: 2, jobs: false })).toBe(54);
    expect(estimatedStartSeconds({ cpu: 256, workers: 1, jobs: false })).toBe(80);
    // Job execution adds the job runner and its seven consumers: 26 + 9 × 14.
    expect(estimatedStartSeconds({ cpu: 2048, workers: 1, jobs: true })).toBe(152);
  });
});

describe("the default start period", () => {
  it("is 1.5 times the estimate plus 10 s, rounded up to 5 s, at most ECS's 300 s", () => {
    // examples/basic staging: 54 × 1.5 + 10 = 91 -> 95.
    expect(defaultStartPeriodSeconds({ cpu: 512, workers: 2, jobs: false })).toBe(95);
    // 1 worker: 40 × 1.5 + 10 = 70; 4 workers: 82 × 1.5 + 10 = 133 -> 135.
    expect(defaultStartPeriodSeconds({ cpu: 512, workers: 1, jobs: false })).toBe(70);
    expect(defaultStartPeriodSeconds({ cpu: 2048, workers: 4, jobs: false })).toBe(135);
    // 8 workers with jobs: 26 + 16 × 14 = 250 s, 385 with the margin: ECS's limit.
    expect(defaultStartPeriodSeconds({ cpu: 4096, workers: 8, jobs: true })).toBe(300);
  });

  it("examples/basic: 95 s on staging and on the local stack that mirrors it, instead of the old fixed 180 s", () => {
    const spec = parseSpecOrThrow(basic);
    for (const environment of ["staging", "local"]) {
      const hc = resolve(spec, environment).mlflow.healthCheck;
      expect(hc, environment).toMatchObject({
        intervalSeconds: 5,
        timeoutSeconds: 4,
        retries: DEFAULT_HEALTH_CHECK_RETRIES,
        startPeriodSeconds: 95,
      });
    }
  });
});

describe("mlflow.healthCheck", () => {
  it("overrides the start period and the retries on both runtimes", () => {
    const spec = parseSpecOrThrow(withHealthCheck("    startPeriodSeconds: 45\n    retries: 4\n"));
    for (const environment of ["staging", "local"])
      expect(resolve(spec, environment).mlflow.healthCheck, environment).toMatchObject({
        retries: 4,
        startPeriodSeconds: 45,
      });
    // 45 s + 4 × 5 s = 65 s, after the estimated 54 s start: nothing to warn about.
    const r = parseSpec(withHealthCheck("    startPeriodSeconds: 45\n    retries: 4\n"));
    expect(r.ok && r.warnings).toEqual([]);
  });

  it("warns when a healthy server would be declared unhealthy before its estimated start", () => {
    const r = parseSpec(withHealthCheck("    startPeriodSeconds: 5\n    retries: 2\n"));
    expect(r.ok).toBe(true);
    const warnings = r.ok ? r.warnings : [];
    // Both environments run 2 workers at 512 CPU units (the local stack mirrors staging).
    expect(warnings.map((w) => w.path)).toEqual([
      "mlflow.healthCheck.startPeriodSeconds",
      "mlflow.healthCheck.startPeriodSeconds",
    ]);
    expect(warnings[0]?.message).toContain(
      `is declared unhealthy after 15 s, before its estimated start of 54 s (measured on MLflow ${SERVER_START_TIMES.mlflowVersion}): a healthy server would be replaced. Remove the setting to get 95 s, or raise it`,
    );
  });

  it("refuses values ECS does not accept, naming the bound", () => {
    const r = parseSpec(withHealthCheck("    startPeriodSeconds: 301\n    retries: 11\n"));
    expect(r.ok).toBe(false);
    const messages = r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual([
      "mlflow.healthCheck.startPeriodSeconds: must be at most 300, got 301",
      "mlflow.healthCheck.retries: must be at most 10, got 11",
    ]);
  });
});
