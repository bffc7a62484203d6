import type { RunTaskCommandInput } from "@aws-sdk/client-ecs";
import { poll, type WaitOptions } from "@mlflow-dev/kernel/wait";
import { oneOffCommand } from "@mlflow-dev/spec";
import type { AwsModel } from "../render/aws-model.ts";
import { clusterName } from "../render/names.ts";
import { revisionOf } from "./engine/ecs-service.ts";
import type { AwsEngine } from "./engine/engine.ts";
import { awsErrorMessage, DeployError } from "./errors.ts";
import { awslogsOf } from "./logs.ts";

/**
 * `exec --env`: a one-off Fargate task from the server's running task definition (same image,
 * environment, secrets, roles), placed as the service's tasks are (its subnets, security group and
 * public IP setting), with the container's command replaced by the one-off script
 * (spec/one-off-command.ts). Its CloudWatch output is streamed while it runs; the result is the
 * container's exit code.
 */

export const ONE_OFF_STARTED_BY = "mlflow-dev-exec";

export interface OneOffOptions {
  wait: WaitOptions;
  /** Each line the task writes, as it arrives. */
  onLine: (line: string) => void;
  /** Progress (the task started, its status changes), for stderr. */
  onStatus?: (line: string) => void;
}

export interface OneOffResult {
  taskArn: string;
  taskDefinition: string;
  exitCode: number;
}

/** The RunTask input of a one-off command beside the service (pure). */
export function toOneOffRunTask(
  model: AwsModel,
  service: { taskDefinition: string; networkConfiguration: NonNullable<RunTaskCommandInput["networkConfiguration"]> },
  container: string,
  argv: readonly string[],
): RunTaskCommandInput {
  return {
    cluster: clusterName(model),
    taskDefinition: service.taskDefinition,
    launchType: "FARGATE",
    count: 1,
    startedBy: ONE_OFF_STARTED_BY,
    propagateTags: "TASK_DEFINITION",
    networkConfiguration: service.networkConfiguration,
    overrides: { containerOverrides: [{ name: container, command: oneOffCommand(model.mlflow.server, argv) }] },
  };
}

/** After the task stopped: at most this many looks for its last lines, this far apart. */
const DRAIN_LOOKS = 10;
const DRAIN_INTERVAL_MS = 1000;

export async function runOneOffTask(
  model: AwsModel,
  engine: AwsEngine,
  argv: readonly string[],
  options: OneOffOptions,
): Promise<OneOffResult> {
  const service = await engine.describeService(model);
  if (!service?.taskDefinition || !service.networkConfiguration)
    throw new DeployError(`nothing runs in ${model.environment}: there is no ECS service to run the command beside`, {
      hint: `Run mlflow-dev promote --env ${model.environment} first.`,
    });
  const registered = await engine.describeTaskDefinition(service.taskDefinition);
  const awslogs = awslogsOf(registered);
  const container = awslogs?.container ?? (registered?.containerDefinitions as { name?: string }[])?.[0]?.name;
  if (!container)
    throw new DeployError(`the service's task definition ${revisionOf(service.taskDefinition)} has no container`);
  const input = toOneOffRunTask(
    model,
    { taskDefinition: service.taskDefinition, networkConfiguration: service.networkConfiguration },
    container,
    argv,
  );
  let taskArn: string;
  try {
    const r = await engine.runTask(input);
    const failure = r.failures?.[0];
    if (failure || !r.tasks?.[0]?.taskArn)
      throw new Error(
        failure ? `${failure.reason ?? "failed"}${failure.detail ? `: ${failure.detail}` : ""}` : "no task",
      );
    taskArn = r.tasks[0].taskArn;
  } catch (e) {
    throw new DeployError(`the one-off task could not be started: ${awsErrorMessage(e)}`, { cause: e });
  }
  const taskId = taskArn.split("/").pop() ?? taskArn;
  options.onStatus?.(`started task ${taskId} of ${revisionOf(service.taskDefinition)}`);
  const stream = awslogs ? engine.streamReader(awslogs.group, `${awslogs.prefix}/${container}/${taskId}`) : undefined;
  let last = "";
  const stopped = await poll({
    clock: options.wait.clock,
    intervalMs: options.wait.pollMs,
    timeoutMs: options.wait.timeoutMs,
    onTick: async () => {
      for (const line of (await stream?.read()) ?? []) options.onLine(line);
    },
    check: async () => {
      const task = await engine.describeTask(input.cluster, taskArn);
      const status = task?.lastStatus ?? "UNKNOWN";
      if (status !== last) options.onStatus?.(status);
      last = status;
      return status === "STOPPED" ? task : undefined;
    },
    onTimeout: async () => {
      await engine.stopTask(input.cluster, taskArn, "mlflow-dev exec: timed out");
      return new DeployError(
        `the one-off task ${taskId} did not finish within ${Math.round(options.wait.timeoutMs / 1000)}s and was stopped`,
      );
    },
  });
  // The last lines can reach CloudWatch after the task stopped: read until two looks bring nothing.
  if (stream)
    for (let look = 0, quiet = 0; look < DRAIN_LOOKS && quiet < 2; look++) {
      await options.wait.clock.sleep(DRAIN_INTERVAL_MS);
      const lines = await stream.read();
      for (const line of lines) options.onLine(line);
      quiet = lines.length === 0 ? quiet + 1 : 0;
    }
  const c = stopped.containers?.find((x) => x.name === container) ?? stopped.containers?.[0];
  if (c?.exitCode === undefined || c.exitCode === null)
    throw new DeployError(
      `the one-off task ${taskId} did not run the command: ${[stopped.stoppedReason, c?.reason].filter(Boolean).join("; ") || "no reason given"}`,
      {
        hint: "mlflow-dev status --env shows whether the service's own tasks start; the same image and secrets run here.",
      },
    );
  return { taskArn, taskDefinition: service.taskDefinition, exitCode: c.exitCode };
}
