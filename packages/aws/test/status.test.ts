import type { Service, Task } from "@aws-sdk/client-ecs";
import { describe, expect, it } from "vitest";
import pins from "../../../pins.json" with { type: "json" };
import type { StackInfo } from "../src/deploy/engine/stack-info.ts";
import { authSecretName, environmentStatus } from "../src/deploy/index.ts";
import { MLFLOW_VERSION_LABEL } from "../src/render/task-definition.ts";
import { exampleModel, modelFromYaml, VARIANT_SPECS } from "./helpers.ts";

/** status --env's verdict from what AWS answers (pure: no SDK call). */

const model = exampleModel("basic", "staging");
const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlflow-dev-tracking-staging";

function stack(status = "UPDATE_COMPLETE", outputs: Record<string, string> = {}): StackInfo {
  return {
    name: "mlflow-dev-tracking-staging",
    id: "arn:stack",
    status,
    outputs: { ServiceUrl: "http://tracking.example.test", LogGroupName: "/mlflow-dev/tracking/staging", ...outputs },
    parameters: {},
  };
}

function service(running = 1, rolloutState = "COMPLETED"): Service {
  return {
    serviceName: "tracking-mlflow",
    status: "ACTIVE",
    taskDefinition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/mlflow-dev-tracking-staging-mlflow:3",
    desiredCount: 1,
    runningCount: running,
    pendingCount: 0,
    deployments: [
      { status: "ACTIVE", rolloutState: "COMPLETED", createdAt: new Date("2025-12-01T00:00:00Z") },
      {
        status: "PRIMARY",
        rolloutState: rolloutState as "COMPLETED",
        createdAt: new Date("2026-01-02T03:04:05Z"),
        updatedAt: new Date("2026-01-02T03:09:05Z"),
      },
    ],
  };
}

const task = (health = "HEALTHY"): Task => ({
  taskArn: "arn:aws:ecs:eu-west-1:123456789012:task/cluster/abc123",
  lastStatus: "RUNNING",
  healthStatus: health as "HEALTHY",
  taskDefinitionArn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/mlflow-dev-tracking-staging-mlflow:3",
});

describe("environmentStatus", () => {
  it("healthy: a complete stack, the rollout completed, every task running and HEALTHY", () => {
    const s = environmentStatus(model, {
      stack: stack(),
      service: service(),
      taskDefinition: {
        containerDefinitions: [
          {
            image: `ghcr.io/mlflow/mlflow:v${pins.mlflowPrevious}-full`,
            dockerLabels: { [MLFLOW_VERSION_LABEL]: pins.mlflowPrevious },
          },
        ],
      },
      tasks: [task()],
    });
    expect(s).toEqual({
      environment: "staging",
      stack: { name: "mlflow-dev-tracking-staging", status: "UPDATE_COMPLETE" },
      service: {
        name: "tracking-mlflow",
        status: "ACTIVE",
        taskDefinition: "mlflow-dev-tracking-staging-mlflow:3",
        rolloutState: "COMPLETED",
        desired: 1,
        running: 1,
        pending: 0,
      },
      tasks: [
        { id: "abc123", lastStatus: "RUNNING", health: "HEALTHY", revision: "mlflow-dev-tracking-staging-mlflow:3" },
      ],
      url: "http://tracking.example.test",
      logGroup: "/mlflow-dev/tracking/staging",
      image: `ghcr.io/mlflow/mlflow:v${pins.mlflowPrevious}-full`,
      imageOrigin: "pull",
      mlflowVersion: pins.mlflowPrevious,
      mlflowVersionFrom: "task-definition",
      lastRollout: { createdAt: "2026-01-02T03:04:05.000Z", updatedAt: "2026-01-02T03:09:05.000Z" },
      healthy: true,
      problems: [],
    });
  });

  it("an image in the stack's ECR repository was built; without the label the spec's version is shown", () => {
    const s = environmentStatus(model, {
      stack: stack("UPDATE_COMPLETE", { EcrRepositoryUri: ECR }),
      service: service(),
      taskDefinition: { containerDefinitions: [{ image: `${ECR}:${pins.mlflow}-abcdef012345` }] },
      tasks: [task()],
    });
    expect(s).toMatchObject({ imageOrigin: "build", mlflowVersion: pins.mlflow, mlflowVersionFrom: "spec" });
  });

  it("a task not HEALTHY makes the environment unhealthy, naming the task", () => {
    const s = environmentStatus(model, { stack: stack(), service: service(), tasks: [task("UNHEALTHY")] });
    expect(s.healthy).toBe(false);
    expect(s.problems).toEqual(["task(s) not HEALTHY: abc123 RUNNING/UNHEALTHY"]);
  });

  it("a stack in progress, a rollout not done and tasks missing are each a problem", () => {
    const s = environmentStatus(model, {
      stack: { ...stack("UPDATE_IN_PROGRESS"), statusReason: "User Initiated" },
      service: service(0, "IN_PROGRESS"),
      tasks: [],
    });
    expect(s.problems).toEqual([
      "the stack mlflow-dev-tracking-staging is UPDATE_IN_PROGRESS (User Initiated)",
      "the rollout of mlflow-dev-tracking-staging-mlflow:3 is IN_PROGRESS",
      "0 of 1 task(s) running",
    ]);
  });

  it("a stack without a service is not healthy", () => {
    const s = environmentStatus(model, { stack: stack(), tasks: [] });
    expect(s).toMatchObject({ healthy: false, problems: ["the stack has no running ECS service"] });
    expect(s.service).toBeUndefined();
    expect(s.lastRollout).toBeUndefined();
  });
});

describe("authSecretName", () => {
  it("names the admin password's secret with basic auth only", () => {
    expect(authSecretName(model)).toBeUndefined();
    const v = VARIANT_SPECS["domain-http-build"]!;
    const basic = modelFromYaml(v.yaml, v.environment);
    expect(basic.mlflow.auth).toBe("basic");
    expect(authSecretName(basic)).toBe(`mlflow-dev/${basic.name}/${basic.environment}/auth-admin-password`);
  });
});
