import type { Reporter } from "@mlflow-dev/kernel/progress";
import { poll, secondsSince, type WaitOptions } from "@mlflow-dev/kernel/wait";
import type { AwsModel } from "../../render/aws-model.ts";
import type { DeployContext } from "../../render/context.ts";
import { LOG_STREAM_PREFIX } from "../../render/names.ts";
import {
  type MigrationPlacement,
  toMigrationRunTask,
  toMigrationTaskDefinition,
} from "../../render/task-definition.ts";
import { awsErrorMessage, DeployError } from "../errors.ts";
import type { AwsClients } from "./clients.ts";
import { registerIfChanged, revisionOf } from "./ecs-service.ts";
import { retryIamPropagation } from "./iam-propagation.ts";
import { indentLines, lastLogLines, taskLogStream } from "./task-logs.ts";

export interface MigrationResult {
  taskArn: string;
  taskDefinitionArn: string;
}

/**
 * Runs the database migration once, as its own ECS task, and waits for it to exit. Exit 0 lets the
 * rollout go on; anything else stops it before the service is touched, with the task's last log lines.
 */
export async function runMigration(
  clients: AwsClients,
  model: AwsModel,
  ctx: DeployContext,
  placement: Omit<MigrationPlacement, "taskDefinitionArn">,
  report: Reporter,
  wait: WaitOptions,
): Promise<MigrationResult> {
  const registration = await registerIfChanged(clients.ecs, toMigrationTaskDefinition(model, ctx));
  report.info(
    `${registration.registered ? "registered" : "reusing"} ${revisionOf(registration.arn)} (image ${ctx.imageUri})`,
  );
  const input = toMigrationRunTask(model, { ...placement, taskDefinitionArn: registration.arn });
  let taskArn: string;
  try {
    // The first task of a new stack is where ECS first assumes its roles: IAM may still be propagating them.
    const r = await retryIamPropagation("starting the migration task", () => clients.ecs.runTask(input), {
      clock: wait.clock,
      report,
    });
    const failure = r.failures?.[0];
    if (failure || !r.tasks?.[0]?.taskArn)
      throw new Error(
        failure ? `${failure.reason ?? "failed"}${failure.detail ? `: ${failure.detail}` : ""}` : "no task",
      );
    taskArn = r.tasks[0].taskArn;
  } catch (e) {
    throw new DeployError(`the migration task could not be started: ${awsErrorMessage(e)}`, { cause: e });
  }
  report.info(`started ${taskArn.split("/").pop()}`);
  const { clock } = wait;
  const t0 = clock.now();
  let last = "";
  return poll<MigrationResult>({
    clock,
    intervalMs: wait.pollMs,
    timeoutMs: wait.timeoutMs,
    check: async () => {
      const d = await clients.ecs.describeTasks({ cluster: input.cluster, tasks: [taskArn] });
      const task = d.tasks?.[0];
      const status = task?.lastStatus ?? "UNKNOWN";
      if (status !== last) report.info(`${status} (${secondsSince(clock, t0)})`);
      last = status;
      if (status !== "STOPPED") return undefined;
      const container = task?.containers?.[0];
      const exitCode = container?.exitCode;
      if (exitCode === 0) return { taskArn, taskDefinitionArn: registration.arn };
      const lines = await lastLogLines(
        clients.logs,
        ctx.logGroupName,
        taskLogStream(LOG_STREAM_PREFIX.migrate, taskArn),
      );
      const why =
        exitCode === undefined || exitCode === null
          ? `did not run: ${[task?.stoppedReason, container?.reason].filter(Boolean).join("; ") || "no reason given"}`
          : `exited ${exitCode}`;
      throw new DeployError(
        `the migration task ${why}${lines.length ? `; its last log lines:\n${indentLines(lines)}` : " (no log lines)"}`,
        {
          hint: `The service was not touched. Fix the cause (database reachable from the tasks? image ${ctx.imageUri} correct?), then run mlflow-dev promote --env ${model.environment} again.`,
        },
      );
    },
    onTimeout: async () => {
      await clients.ecs.stopTask({ cluster: input.cluster, task: taskArn, reason: "mlflow-dev: migration timed out" });
      return new DeployError(
        `the migration task did not finish within ${Math.round(wait.timeoutMs / 1000)}s and was stopped`,
      );
    },
  });
}
