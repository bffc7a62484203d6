import {
  type ECS,
  paginateListTaskDefinitions,
  type Service,
  type Task,
  waitUntilServicesStable,
} from "@aws-sdk/client-ecs";
import type { Reporter } from "@mlflow-dev/kernel/progress";
import { poll, type WaitOptions } from "@mlflow-dev/kernel/wait";
import { estimateServerMemory } from "@mlflow-dev/spec";
import type { AwsModel } from "../../render/aws-model.ts";
import type { DeployContext } from "../../render/context.ts";
import { clusterName, LOG_STREAM_PREFIX, serviceName } from "../../render/names.ts";
import type { TaskDefinition } from "../../render/task-definition.ts";
import { type FieldChange, taskDefinitionChanges } from "../diff.ts";
import { awsErrorMessage, awsErrorName, DeployError } from "../errors.ts";
import type { DeployWaits } from "../options.ts";
import type { AwsClients } from "./clients.ts";
import { indentLines, lastLogLines, taskLogStream } from "./task-logs.ts";

/** Task definitions and the ECS service: register, compare, wait for a steady state. */

/** A registered revision (latest ACTIVE of a family, or an ARN) with its tags, or undefined. */
export async function describeTaskDefinition(ecs: ECS, ref: string): Promise<Record<string, unknown> | undefined> {
  try {
    const r = await ecs.describeTaskDefinition({ taskDefinition: ref, include: ["TAGS"] });
    if (!r.taskDefinition) return undefined;
    return { ...(r.taskDefinition as Record<string, unknown>), tags: r.tags ?? [] };
  } catch (e) {
    if (
      awsErrorName(e) === "ClientException" &&
      /not found|Unable to describe|does not exist|inactive/i.test(awsErrorMessage(e))
    )
      return undefined;
    throw e;
  }
}

export interface Registration {
  arn: string;
  /** A new revision was registered (false: the latest ACTIVE one already matched). */
  registered: boolean;
  changes: FieldChange[];
}

/** Registers the task definition unless the family's latest ACTIVE revision already is exactly it. */
export async function registerIfChanged(ecs: ECS, desired: TaskDefinition): Promise<Registration> {
  const latest = await describeTaskDefinition(ecs, desired.family);
  const changes = taskDefinitionChanges(latest, desired);
  if (latest && changes.length === 0) return { arn: String(latest.taskDefinitionArn), registered: false, changes };
  const r = await ecs.registerTaskDefinition(desired as never);
  const arn = r.taskDefinition?.taskDefinitionArn;
  if (!arn) throw new DeployError(`ECS registered ${desired.family} but returned no ARN`);
  return { arn, registered: true, changes };
}

/** The environment's ECS service; undefined before the first promote created it (or its cluster). */
export async function describeService(ecs: ECS, model: AwsModel): Promise<Service | undefined> {
  try {
    const r = await ecs.describeServices({ cluster: clusterName(model), services: [serviceName(model)] });
    const s = r.services?.[0];
    return s && s.status !== "INACTIVE" ? s : undefined;
  } catch (e) {
    if (awsErrorName(e) === "ClusterNotFoundException") return undefined;
    throw e;
  }
}

/** The circuit breaker's threshold lives with the rest of the failure-detection arithmetic. */
export { circuitBreakerThreshold } from "../../render/failure-detection.ts";

export function revisionOf(arn: string | undefined): string {
  return arn ? (arn.split("/").pop() ?? arn) : "(none)";
}

/** The service runs exactly this revision, all of its tasks, with its rollout completed. */
export function isSteadyOn(service: Service | undefined, taskDefinitionArn: string): boolean {
  if (!service) return false;
  const deployments = service.deployments ?? [];
  const primary = deployments.find((d) => d.status === "PRIMARY");
  // Other deployments may still be listed (a failed one keeps its diagnostics) but run nothing.
  const othersDrained = deployments.every((d) => d === primary || (d.runningCount ?? 0) === 0);
  return (
    othersDrained &&
    primary?.taskDefinition === taskDefinitionArn &&
    (primary.rolloutState === undefined || primary.rolloutState === "COMPLETED") &&
    (primary.runningCount ?? 0) >= (service.desiredCount ?? 0) &&
    (service.runningCount ?? 0) >= (service.desiredCount ?? 0)
  );
}

/**
 * Polls the service until the revision runs steadily, printing deployment progress and service
 * events. Throws when ECS gives up on the revision (circuit breaker) or the time runs out, with
 * the stopped tasks' reasons and their last log lines.
 */
export async function waitForSteadyState(
  clients: AwsClients,
  model: AwsModel,
  ctx: Pick<DeployContext, "logGroupName">,
  taskDefinitionArn: string,
  report: Reporter,
  wait: WaitOptions,
): Promise<void> {
  const seenEvents = new Set<string>();
  let lastLine = "";
  let first = true;
  const show = (line: string) => {
    if (line !== lastLine) report.info(line);
    lastLine = line;
  };
  await poll<true>({
    clock: wait.clock,
    intervalMs: wait.pollMs,
    timeoutMs: wait.timeoutMs,
    check: async () => {
      const service = await describeService(clients.ecs, model);
      if (!service)
        throw new DeployError(`the ECS service ${serviceName(model)} does not exist in ${clusterName(model)}`);
      // Stream: the service events and the deployment's progress since the last look.
      for (const e of [...(service.events ?? [])].reverse()) {
        const id = e.id ?? `${e.createdAt?.toISOString()}${e.message}`;
        if (seenEvents.has(id)) continue;
        seenEvents.add(id);
        // The history before this rollout is not news.
        if (!first) report.info(`event: ${e.message}`);
      }
      first = false;
      const ours = (service.deployments ?? []).find((d) => d.taskDefinition === taskDefinitionArn);
      show(
        ours
          ? `${revisionOf(taskDefinitionArn)}: ${ours.runningCount ?? 0}/${ours.desiredCount ?? 0} running, ${ours.pendingCount ?? 0} pending (${ours.status}, ${ours.rolloutState ?? "?"})`
          : `${revisionOf(taskDefinitionArn)}: no deployment`,
      );
      // Decide.
      if (isSteadyOn(service, taskDefinitionArn)) {
        // The container health check is the revision's own verdict: steady means HEALTHY.
        const health = await revisionHealth(clients.ecs, model, taskDefinitionArn);
        if (health.length > 0 && health.every((h) => h === "HEALTHY")) return true;
        show(`${revisionOf(taskDefinitionArn)}: health ${health.join(", ") || "(no task)"}`);
      }
      // A task that stops before the revision is steady (out of memory, a failed health check, an
      // exit) has the answer already; ECS would only retry it until its circuit breaker trips.
      if ((ours?.failedTasks ?? 0) > 0 && ours?.rolloutState !== "COMPLETED")
        throw new DeployError(
          `a task of ${revisionOf(taskDefinitionArn)} stopped before the rollout completed${await stoppedTaskDetails(clients, model, ctx, taskDefinitionArn)}`,
        );
      const primary = (service.deployments ?? []).find((d) => d.status === "PRIMARY");
      if (ours?.rolloutState === "FAILED" || (primary && primary.taskDefinition !== taskDefinitionArn)) {
        const why = ours?.rolloutStateReason || `ECS runs ${revisionOf(primary?.taskDefinition)} instead`;
        throw new DeployError(
          `ECS gave up on ${revisionOf(taskDefinitionArn)}: ${why}${await stoppedTaskDetails(clients, model, ctx, taskDefinitionArn)}`,
        );
      }
      return undefined;
    },
    onTimeout: async () =>
      new DeployError(
        `${revisionOf(taskDefinitionArn)} did not reach a steady state within ${Math.round(wait.timeoutMs / 1000)}s${await stoppedTaskDetails(clients, model, ctx, taskDefinitionArn)}`,
      ),
  });
}

/** The healthStatus ECS reports for each running task of the revision ([] when none runs). */
export async function revisionHealth(ecs: ECS, model: AwsModel, taskDefinitionArn: string): Promise<string[]> {
  const list = await ecs.listTasks({
    cluster: clusterName(model),
    serviceName: serviceName(model),
    desiredStatus: "RUNNING",
  });
  if (!list.taskArns?.length) return [];
  const d = await ecs.describeTasks({ cluster: clusterName(model), tasks: list.taskArns.slice(0, 100) });
  return (d.tasks ?? [])
    .filter((t) => t.taskDefinitionArn === taskDefinitionArn && t.lastStatus === "RUNNING")
    .map((t) => t.healthStatus ?? "UNKNOWN");
}

/** What a stopped task's reason means for the spec, and the setting to change. */
export function stopCauseHint(model: AwsModel, reason: string): string {
  const { memory, source } = model.resources;
  const { workers, jobs } = model.mlflow;
  if (/OutOfMemoryError/.test(reason))
    return (
      `\n  The MLflow container used more than the task's ${memory} MiB (${source}.memory) and was killed.` +
      ` Raise ${source}.memory, or lower mlflow.workers (${workers})${jobs ? ", or turn off mlflow.jobs" : ""};` +
      ` mlflow-dev validate estimates ${estimateServerMemory({ workers, jobs })} MiB for this server.`
    );
  if (/health check/i.test(reason)) {
    const hc = model.mlflow.healthCheck;
    return (
      `\n  The MLflow container did not pass its health check (GET ${model.mlflow.healthPath} inside the container)` +
      ` within its ${hc.startPeriodSeconds} s start period and ${hc.retries} retries every ${hc.intervalSeconds} s.` +
      " If its server is only slower to start than that, raise mlflow.healthCheck.startPeriodSeconds."
    );
  }
  return "";
}

/** Why the revision's tasks stopped, with the last log lines of the newest one. */
export async function stoppedTaskDetails(
  clients: AwsClients,
  model: AwsModel,
  ctx: Pick<DeployContext, "logGroupName">,
  taskDefinitionArn: string,
): Promise<string> {
  try {
    // The service's stopped tasks; once a stack's rollback deleted the service (a failed first
    // rollout), the revision's family finds them (ECS lists stopped tasks for at least an hour).
    let tasks = await stoppedTasksOf(clients, model, { serviceName: serviceName(model) }, taskDefinitionArn).catch(
      () => [],
    );
    if (tasks.length === 0)
      tasks = await stoppedTasksOf(clients, model, { family: familyOf(taskDefinitionArn) }, taskDefinitionArn);
    const newest = tasks[0];
    if (!newest) return "";
    const container = newest.containers?.[0];
    const exit =
      container?.exitCode === undefined || container.exitCode === null ? "" : `, exit code ${container.exitCode}`;
    const reason = [newest.stoppedReason, container?.reason].filter(Boolean).join("; ");
    const lines = await lastLogLines(
      clients.logs,
      ctx.logGroupName,
      taskLogStream(LOG_STREAM_PREFIX.server, newest.taskArn ?? ""),
    );
    return `\n  ${tasks.length} task(s) of it stopped; the newest: ${reason || "no reason given"}${exit}${stopCauseHint(model, reason)}${lines.length ? `\n  its last log lines:\n${indentLines(lines)}` : ""}`;
  } catch {
    return "";
  }
}

/** The stopped tasks of a revision, found by the filter, newest first. */
async function stoppedTasksOf(
  clients: AwsClients,
  model: AwsModel,
  filter: { serviceName: string } | { family: string },
  taskDefinitionArn: string,
): Promise<Task[]> {
  const list = await clients.ecs.listTasks({ cluster: clusterName(model), desiredStatus: "STOPPED", ...filter });
  if (!list.taskArns?.length) return [];
  const d = await clients.ecs.describeTasks({ cluster: clusterName(model), tasks: list.taskArns.slice(0, 100) });
  return (d.tasks ?? [])
    .filter((t) => t.taskDefinitionArn === taskDefinitionArn)
    .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
}

/** The family of a task definition ARN (`…:task-definition/<family>:<revision>`). */
function familyOf(taskDefinitionArn: string): string {
  return (taskDefinitionArn.split("/").pop() ?? "").replace(/:\d+$/, "");
}

/** Every ACTIVE revision of a family, deregistered (ECS keeps them INACTIVE). */
export async function deregisterTaskDefinitionFamily(clients: AwsClients, family: string): Promise<string[]> {
  const arns: string[] = [];
  // familyPrefix matches by prefix: the server family is a prefix of the migration family.
  for await (const r of paginateListTaskDefinitions(
    { client: clients.ecs },
    { familyPrefix: family, status: "ACTIVE" },
  ))
    arns.push(...(r.taskDefinitionArns ?? []).filter((a) => a.split("/").pop()?.replace(/:\d+$/, "") === family));
  for (const arn of arns) await clients.ecs.deregisterTaskDefinition({ taskDefinition: arn });
  return arns;
}

/** Sets the service's desired count; with `waits`, waits until ECS runs exactly that many tasks. */
export async function setDesiredCount(
  clients: AwsClients,
  model: AwsModel,
  desiredCount: number,
  waits?: DeployWaits,
): Promise<void> {
  const target = { cluster: clusterName(model), services: [serviceName(model)] };
  await clients.ecs.updateService({ cluster: target.cluster, service: serviceName(model), desiredCount });
  if (!waits) return;
  await waitUntilServicesStable(
    { client: clients.ecs, maxWaitTime: waits.serviceTimeoutMs / 1000, minDelay: waits.pollMs / 1000, maxDelay: 15 },
    target,
  );
}

/** The service's running tasks (at most 100), as DescribeTasks gives them. */
export async function runningTasks(ecs: ECS, model: AwsModel): Promise<Task[]> {
  const list = await ecs.listTasks({
    cluster: clusterName(model),
    serviceName: serviceName(model),
    desiredStatus: "RUNNING",
  });
  const arns = (list.taskArns ?? []).slice(0, 100);
  if (arns.length === 0) return [];
  return (await ecs.describeTasks({ cluster: clusterName(model), tasks: arns })).tasks ?? [];
}
