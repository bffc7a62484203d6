import type { Deployment, Service, Task } from "@aws-sdk/client-ecs";
import type { AwsModel } from "../render/aws-model.ts";
import { OutputName, secretName, serviceName, stackName } from "../render/names.ts";
import { servedMlflowVersion } from "../render/task-definition.ts";
import type { AwsEngine } from "./engine/engine.ts";
import type { StackInfo } from "./engine/stack-info.ts";

/**
 * What `status --env` shows of an environment: the stack, the ECS service and its primary
 * deployment, the tasks, the URL, the image and MLflow version, and whether all of it is healthy.
 * readEnvironmentStatus does the AWS reads; environmentStatus and the health rules are pure.
 */

export interface TaskStatus {
  id: string;
  lastStatus: string;
  health: string;
  revision?: string;
}

export interface EnvironmentStatus {
  environment: string;
  stack: { name: string; status: string; reason?: string };
  service?: {
    name: string;
    status: string;
    taskDefinition?: string;
    /** The primary deployment's rollout state (COMPLETED, IN_PROGRESS, FAILED). */
    rolloutState?: string;
    rolloutStateReason?: string;
    desired: number;
    running: number;
    pending: number;
  };
  tasks: TaskStatus[];
  url?: string;
  /** The CloudWatch log group of the tasks' output. */
  logGroup?: string;
  image?: string;
  /** Where the image comes from: built into the stack's ECR repository, or pulled as the spec names it. */
  imageOrigin?: "build" | "pull";
  mlflowVersion: string;
  /** The MLflow version read from the running revision's label, else the spec's. */
  mlflowVersionFrom: "task-definition" | "spec";
  /** The primary deployment's creation and last update (ISO 8601). */
  lastRollout?: { createdAt?: string; updatedAt?: string };
  healthy: boolean;
  /** What keeps the environment from being healthy (empty when healthy). */
  problems: string[];
}

/** The raw reads status is made of (what AWS answered). */
export interface EnvironmentReads {
  stack: StackInfo;
  service?: Service;
  taskDefinition?: Record<string, unknown>;
  tasks: Task[];
}

/** The engine's verbs status reads with. */
export type StatusReader = Pick<
  AwsEngine,
  "describeStack" | "describeService" | "describeTaskDefinition" | "runningTasks"
>;

/** The environment's state, or undefined when it has no stack. */
export async function readEnvironmentStatus(
  model: AwsModel,
  engine: StatusReader,
): Promise<EnvironmentStatus | undefined> {
  const stack = await engine.describeStack(stackName(model));
  if (!stack) return undefined;
  const service = await engine.describeService(model);
  const taskDefinition = service?.taskDefinition
    ? await engine.describeTaskDefinition(service.taskDefinition)
    : undefined;
  const tasks: Task[] = service ? await engine.runningTasks(model) : [];
  return environmentStatus(model, {
    stack,
    ...(service ? { service } : {}),
    ...(taskDefinition ? { taskDefinition } : {}),
    tasks,
  });
}

const COMPLETE_STACK = new Set(["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"]);

function primaryDeployment(service: Service | undefined): Deployment | undefined {
  return service?.deployments?.find((d) => d.status === "PRIMARY");
}

/** The status of an environment from what AWS answered (pure). */
export function environmentStatus(model: AwsModel, reads: EnvironmentReads): EnvironmentStatus {
  const { stack, service, taskDefinition } = reads;
  const primary = primaryDeployment(service);
  const containers = (taskDefinition?.containerDefinitions ?? []) as { image?: string }[];
  const image = containers[0]?.image;
  const ecr = stack.outputs[OutputName.ecrRepositoryUri];
  const labelled = servedMlflowVersion(taskDefinition);
  const tasks: TaskStatus[] = reads.tasks.map((t) => ({
    id: (t.taskArn ?? "").split("/").pop() ?? "",
    lastStatus: t.lastStatus ?? "UNKNOWN",
    health: t.healthStatus ?? "UNKNOWN",
    ...(t.taskDefinitionArn ? { revision: t.taskDefinitionArn.split("/").pop() ?? t.taskDefinitionArn } : {}),
  }));
  const status: Omit<EnvironmentStatus, "healthy" | "problems"> = {
    environment: model.environment,
    stack: { name: stack.name, status: stack.status, ...(stack.statusReason ? { reason: stack.statusReason } : {}) },
    ...(service
      ? {
          service: {
            name: service.serviceName ?? serviceName(model),
            status: service.status ?? "UNKNOWN",
            ...(service.taskDefinition ? { taskDefinition: service.taskDefinition.split("/").pop() } : {}),
            ...(primary?.rolloutState ? { rolloutState: primary.rolloutState } : {}),
            ...(primary?.rolloutStateReason ? { rolloutStateReason: primary.rolloutStateReason } : {}),
            desired: service.desiredCount ?? 0,
            running: service.runningCount ?? 0,
            pending: service.pendingCount ?? 0,
          },
        }
      : {}),
    tasks,
    ...(stack.outputs[OutputName.serviceUrl] ? { url: stack.outputs[OutputName.serviceUrl] } : {}),
    ...(stack.outputs[OutputName.logGroupName] ? { logGroup: stack.outputs[OutputName.logGroupName] } : {}),
    ...(image ? { image, imageOrigin: ecr && image.startsWith(`${ecr}:`) ? "build" : "pull" } : {}),
    mlflowVersion: labelled ?? model.mlflow.version,
    mlflowVersionFrom: labelled ? "task-definition" : "spec",
    ...(primary
      ? {
          lastRollout: {
            ...(primary.createdAt ? { createdAt: new Date(primary.createdAt).toISOString() } : {}),
            ...(primary.updatedAt ? { updatedAt: new Date(primary.updatedAt).toISOString() } : {}),
          },
        }
      : {}),
  };
  const problems = healthProblems(status);
  return { ...status, healthy: problems.length === 0, problems };
}

/** Why an environment is not healthy: the stack not complete, tasks missing or not HEALTHY, a rollout not done. */
export function healthProblems(s: Omit<EnvironmentStatus, "healthy" | "problems">): string[] {
  const problems: string[] = [];
  if (!COMPLETE_STACK.has(s.stack.status))
    problems.push(`the stack ${s.stack.name} is ${s.stack.status}${s.stack.reason ? ` (${s.stack.reason})` : ""}`);
  const svc = s.service;
  if (!svc) {
    problems.push("the stack has no running ECS service");
    return problems;
  }
  if (svc.rolloutState && svc.rolloutState !== "COMPLETED")
    problems.push(
      `the rollout of ${svc.taskDefinition ?? "the service"} is ${svc.rolloutState}${svc.rolloutStateReason ? ` (${svc.rolloutStateReason})` : ""}`,
    );
  if (svc.running !== svc.desired) problems.push(`${svc.running} of ${svc.desired} task(s) running`);
  const unhealthy = s.tasks.filter((t) => t.health !== "HEALTHY");
  if (unhealthy.length > 0)
    problems.push(`task(s) not HEALTHY: ${unhealthy.map((t) => `${t.id} ${t.lastStatus}/${t.health}`).join(", ")}`);
  return problems;
}

/** The Secrets Manager secret holding the basic-auth admin password (undefined without auth: basic). */
export function authSecretName(model: AwsModel): string | undefined {
  return model.mlflow.auth === "basic" ? secretName(model, "auth-admin-password") : undefined;
}
