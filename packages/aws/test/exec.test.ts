import { oneOffCommand } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import type { AwsClients } from "../src/deploy/engine/clients.ts";
import { DeployError } from "../src/deploy/errors.ts";
import { ONE_OFF_STARTED_BY, runOneOffTask, toOneOffRunTask } from "../src/deploy/exec.ts";
import { fakeClock } from "./fake-clock.ts";
import { exampleModel } from "./helpers.ts";
import { inMemoryEngine } from "./in-memory-engine.ts";

/** exec --env: the RunTask input, and the wait that streams the task's lines and returns its exit code (fake ECS and logs). */

const model = exampleModel("basic", "staging");
const TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mlflow-dev-tracking-staging-mlflow:7";
const TASK = "arn:aws:ecs:eu-west-1:123456789012:task/mlflow-dev-tracking-staging/0123456789abcdef";
const NETWORK = {
  awsvpcConfiguration: {
    subnets: ["subnet-a", "subnet-b"],
    securityGroups: ["sg-1"],
    assignPublicIp: "ENABLED" as const,
  },
};

/**
 * ECS that runs one task: RUNNING for `runningLooks` looks, then STOPPED with `exitCode`; the
 * task's stream gets one more line per look, and `late` lines only after it stopped.
 */
function fakeAws(options: { exitCode?: number; runningLooks?: number; late?: string[]; stoppedReason?: string }) {
  const runTasks: unknown[] = [];
  const lines: string[] = [];
  let looks = 0;
  let stopped = false;
  const ecs = {
    describeServices: async () => ({
      services: [{ status: "ACTIVE", taskDefinition: TD, networkConfiguration: NETWORK }],
    }),
    describeTaskDefinition: async () => ({
      taskDefinition: {
        containerDefinitions: [
          {
            name: "mlflow",
            logConfiguration: {
              logDriver: "awslogs",
              options: { "awslogs-group": "/g", "awslogs-stream-prefix": "server", "awslogs-region": "eu-west-1" },
            },
          },
        ],
      },
      tags: [],
    }),
    runTask: async (input: unknown) => {
      runTasks.push(input);
      return { tasks: [{ taskArn: TASK }] };
    },
    describeTasks: async () => {
      looks++;
      if (looks <= (options.runningLooks ?? 2)) {
        lines.push(`line ${looks}`);
        return { tasks: [{ taskArn: TASK, lastStatus: "RUNNING" }] };
      }
      if (!stopped) lines.push(...(options.late ?? []));
      stopped = true;
      return {
        tasks: [
          {
            taskArn: TASK,
            lastStatus: "STOPPED",
            ...(options.stoppedReason ? { stoppedReason: options.stoppedReason } : {}),
            containers: [{ name: "mlflow", ...(options.exitCode !== undefined ? { exitCode: options.exitCode } : {}) }],
          },
        ],
      };
    },
    stopTask: async () => ({}),
  };
  const streams: string[] = [];
  const logs = {
    getLogEvents: async (input: { logStreamName: string; nextToken?: string }) => {
      streams.push(input.logStreamName);
      if (lines.length === 0) throw Object.assign(new Error("no stream"), { name: "ResourceNotFoundException" });
      const from = Number(input.nextToken ?? 0);
      return {
        events: lines.slice(from).map((message) => ({ message: `${message}\n`, timestamp: 1 })),
        nextForwardToken: String(lines.length),
      };
    },
  };
  const clients = { ecs, logs } as unknown as AwsClients;
  return { clients, runTasks, streams };
}

const wait = () => ({ clock: fakeClock(), pollMs: 1000, timeoutMs: 60_000 });

describe("exec --env", () => {
  it("runs the service's revision in its network, the container's command replaced", () => {
    const input = toOneOffRunTask(model, { taskDefinition: TD, networkConfiguration: NETWORK }, "mlflow", [
      "mlflow",
      "--version",
    ]);
    expect(input).toMatchObject({
      cluster: "mlflow-dev-tracking-staging",
      taskDefinition: TD,
      launchType: "FARGATE",
      count: 1,
      startedBy: ONE_OFF_STARTED_BY,
      networkConfiguration: NETWORK,
      overrides: {
        containerOverrides: [{ name: "mlflow", command: oneOffCommand(model.mlflow.server, ["mlflow", "--version"]) }],
      },
    });
  });

  it("streams the task's lines in order, those after it stopped too, and returns its exit code", async () => {
    const aws = fakeAws({ exitCode: 3, runningLooks: 2, late: ["last words"] });
    const out: string[] = [];
    const status: string[] = [];
    const r = await runOneOffTask(model, inMemoryEngine(aws.clients), ["sh", "-c", "exit 3"], {
      wait: wait(),
      onLine: (l) => out.push(l),
      onStatus: (s) => status.push(s),
    });
    expect(r.exitCode).toBe(3);
    expect(out).toEqual(["line 1", "line 2", "last words"]);
    expect(status).toEqual([
      "started task 0123456789abcdef of mlflow-dev-tracking-staging-mlflow:7",
      "RUNNING",
      "STOPPED",
    ]);
    expect(new Set(aws.streams)).toEqual(new Set(["server/mlflow/0123456789abcdef"]));
    expect(aws.runTasks).toHaveLength(1);
  });

  it("a task that stopped without running the command is a failure naming why", async () => {
    const aws = fakeAws({ stoppedReason: "CannotPullContainerError: no such image" });
    const run = runOneOffTask(model, inMemoryEngine(aws.clients), ["true"], { wait: wait(), onLine: () => {} });
    await expect(run).rejects.toThrow(DeployError);
    await expect(
      runOneOffTask(
        model,
        inMemoryEngine(fakeAws({ stoppedReason: "CannotPullContainerError: no such image" }).clients),
        ["true"],
        {
          wait: wait(),
          onLine: () => {},
        },
      ),
    ).rejects.toThrow(/did not run the command: CannotPullContainerError: no such image/);
  });

  it("without a service there is nothing to run beside: a failure saying to promote", async () => {
    const aws = fakeAws({ exitCode: 0 });
    (aws.clients.ecs as unknown as { describeServices: () => Promise<unknown> }).describeServices = async () => ({
      services: [],
    });
    await expect(
      runOneOffTask(model, inMemoryEngine(aws.clients), ["true"], { wait: wait(), onLine: () => {} }),
    ).rejects.toThrow(/nothing runs in staging/);
    expect(aws.runTasks).toEqual([]);
  });
});
