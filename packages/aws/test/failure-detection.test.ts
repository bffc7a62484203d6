import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatPlan, type PlanResult } from "../src/deploy/index.ts";
import {
  circuitBreakerThreshold,
  describeFailureDetection,
  estimateMonthlyCost,
  FARGATE_LAUNCH_SECONDS,
  failureDetectionBound,
  TARGET_GROUP_HEALTH,
  toRolloutPlan,
  toTemplate,
} from "../src/index.ts";
import { EXAMPLES_DIR, exampleModel, modelFromYaml } from "./helpers.ts";

const basicYaml = readFileSync(`${EXAMPLES_DIR}basic/mlflow-dev.yaml`, "utf8");
const basic = exampleModel("basic", "staging");

describe("failureDetectionBound", () => {
  it("examples/basic staging, against a hand calculation: about 15 minutes", () => {
    // One task (desired count 1): the circuit breaker trips after max(3, min(200, ceil(1/2))) = 3
    // failed launches. 512 CPU units with 2 workers: the server starts in about 54 s (26 + 2 × 14),
    // so the start period is 54 × 1.5 + 10 = 91 -> 95 s.
    // Container check: 95 s start period + 10 retries × 5 s = 145 s.
    // Target group: grace period 95 + 2 × 5 = 105 s, then 3 failed checks × 5 s = 120 s.
    // One failed launch: 60 s to launch + 145 s (the later check) + 30 s deregistration = 235 s.
    // The rollback: 60 s to launch + 54 s start + 2 healthy checks × 5 s + 30 s draining = 154 s.
    // In all: 3 × 235 + 154 = 859 s, 14.3 minutes: "about 15 minutes".
    expect(failureDetectionBound(basic)).toEqual({
      failedLaunches: 3,
      launchSeconds: 60,
      containerCheckSeconds: 145,
      loadBalancerCheckSeconds: 120,
      stopSeconds: 30,
      perFailedLaunchSeconds: 235,
      rollbackSeconds: 154,
      totalSeconds: 859,
      minutes: 15,
    });
  });

  it("reads the settings the template renders", () => {
    const resources = toTemplate(basic).Resources;
    const tg = resources.TargetGroup?.Properties as Record<string, unknown>;
    const service = resources.Service?.Properties as Record<string, unknown>;
    const hc = basic.mlflow.healthCheck;
    expect(tg.HealthCheckIntervalSeconds).toBe(hc.intervalSeconds);
    expect(tg.HealthyThresholdCount).toBe(TARGET_GROUP_HEALTH.healthyThresholdCount);
    expect(tg.UnhealthyThresholdCount).toBe(TARGET_GROUP_HEALTH.unhealthyThresholdCount);
    expect(tg.TargetGroupAttributes).toContainEqual({
      Key: "deregistration_delay.timeout_seconds",
      Value: String(TARGET_GROUP_HEALTH.deregistrationDelaySeconds),
    });
    const d = failureDetectionBound(basic);
    expect(service.HealthCheckGracePeriodSeconds).toBe(d.loadBalancerCheckSeconds - 3 * hc.intervalSeconds);
    expect(service.DeploymentConfiguration).toMatchObject({
      DeploymentCircuitBreaker: { Enable: true, Rollback: true },
    });
    expect(d.launchSeconds).toBe(FARGATE_LAUNCH_SECONDS);
  });

  it("a short start period and fewer retries: the target group's check is then the later one", () => {
    const quick = modelFromYaml(
      basicYaml.replace(/^ {2}workers: 2$/m, "  workers: 2\n  healthCheck:\n    startPeriodSeconds: 5\n    retries: 2"),
      "staging",
    );
    // Container: 5 + 2 × 5 = 15 s; target group: 5 + 10 + 15 = 30 s. 3 × (60 + 30 + 30) + 154 = 514 s.
    expect(failureDetectionBound(quick)).toMatchObject({
      containerCheckSeconds: 15,
      loadBalancerCheckSeconds: 30,
      perFailedLaunchSeconds: 120,
      totalSeconds: 514,
      minutes: 9,
    });
  });

  it("takes more failed launches for a larger service", () => {
    // Ten tasks need a database with the connections for them (on db.t4g.micro they do not fit).
    const ten = modelFromYaml(
      basicYaml.replace("desiredCount: 1", "desiredCount: 10").replace("db.t4g.micro", "db.t4g.medium"),
      "staging",
    );
    const d = failureDetectionBound(ten);
    expect(d.failedLaunches).toBe(5);
    expect(d.totalSeconds).toBe(5 * 235 + 154);
    expect([0, 1, 6, 7, 10, 399, 400, 1000].map(circuitBreakerThreshold)).toEqual([3, 3, 3, 4, 5, 200, 200, 200]);
  });

  it("plan prints it, and its --json carries the figures", () => {
    const p: PlanResult = {
      environment: "staging",
      stack: "mlflow-dev-tracking-staging",
      region: "eu-west-1",
      account: "123456789012",
      stackAction: "create",
      secrets: [],
      infrastructure: [],
      stateful: [],
      refused: [],
      image: "ghcr.io/mlflow/mlflow:v3.17.2-full",
      imageOrigin: "mlflow-dev's default",
      service: { action: "create", changes: [] },
      mlflowVersion: { kind: "first", to: basic.mlflow.version },
      rollout: toRolloutPlan(basic, { imageUri: "ghcr.io/mlflow/mlflow:v3.17.2-full" }),
      failureDetection: failureDetectionBound(basic),
      upToDate: false,
      cost: estimateMonthlyCost(basic),
      preflight: [],
    };
    const lines = formatPlan(p).split("\n");
    const from = lines.indexOf("failure detection (on AWS, from the health checks and the circuit breaker):");
    expect(from).toBeGreaterThan(0);
    expect(lines.slice(from + 1, from + 3)).toEqual([
      "  a broken revision is detected and rolled back within about 15 minutes",
      "  (3 failed launches × 235 s: 60 s to launch, 145 s of health checks, 30 s to drain; then 154 s to run the previous revision again)",
    ]);
    expect(describeFailureDetection(p.failureDetection)[0]).toBe(
      "a broken revision is detected and rolled back within about 15 minutes",
    );
    expect(JSON.parse(JSON.stringify(p)).failureDetection).toMatchObject({ minutes: 15, totalSeconds: 859 });
  });
});
