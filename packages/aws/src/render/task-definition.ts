import { type AwsRuntimeFacts, RUNTIME_BINDINGS, SERVER_HARDENING, serverCommand } from "@mlflow-dev/spec";
import type { AwsModel } from "./aws-model.ts";
import { taskAssignPublicIp } from "./cloudformation/network.ts";
import { toTags } from "./cloudformation/tags.ts";
import { type DeployContext, secretArnOf } from "./context.ts";
import { largeArtifacts } from "./large-artifacts.ts";
import {
  CONTAINER_NAME,
  clusterName,
  dnsSuffixOf,
  LOG_STREAM_PREFIX,
  migrationTaskFamily,
  taskFamily,
} from "./names.ts";
import { compareCodeUnits, sortedByName, unique } from "./order.ts";

/**
 * The CPU architecture every task runs on (the image is built and pulled for it); the cost
 * estimate prices Fargate by it.
 */
export const CPU_ARCHITECTURE = "X86_64" as const;

/** The ECS RegisterTaskDefinition input (the subset mlflow-dev sets), keys in a fixed order. */
export interface TaskDefinition {
  family: string;
  requiresCompatibilities: ["FARGATE"];
  networkMode: "awsvpc";
  runtimePlatform: { operatingSystemFamily: "LINUX"; cpuArchitecture: typeof CPU_ARCHITECTURE };
  cpu: string;
  memory: string;
  executionRoleArn: string;
  taskRoleArn: string;
  containerDefinitions: [ContainerDefinition];
  /** The scratch volume (a bind mount of the task's ephemeral storage), SERVER_HARDENING. */
  volumes: { name: string }[];
  /** More than Fargate's default 20 GiB when the largest artifact's spool needs it (large-artifacts.ts). */
  ephemeralStorage?: { sizeInGiB: number };
  tags: { key: string; value: string }[];
}

export interface ContainerDefinition {
  name: string;
  image: string;
  essential: true;
  entryPoint: string[];
  command: string[];
  user: string;
  readonlyRootFilesystem: boolean;
  linuxParameters: { capabilities: { drop: string[] }; initProcessEnabled: boolean };
  mountPoints: { sourceVolume: string; containerPath: string; readOnly: false }[];
  portMappings?: PortMapping[];
  healthCheck?: ContainerHealthCheck;
  environment: { name: string; value: string }[];
  secrets: { name: string; valueFrom: string }[];
  logConfiguration: LogConfiguration;
  /** The MLflow version of the image, so a later promote can tell an upgrade from a downgrade. */
  dockerLabels: Record<string, string>;
}

/** The container label that records the MLflow version a revision runs. */
export const MLFLOW_VERSION_LABEL = "mlflow-dev.mlflow-version";

/** The MLflow version a registered task definition runs, when it says (revisions since the label). */
export function servedMlflowVersion(registered: Record<string, unknown> | undefined): string | undefined {
  const containers = (registered?.containerDefinitions ?? []) as { dockerLabels?: Record<string, string> }[];
  return containers[0]?.dockerLabels?.[MLFLOW_VERSION_LABEL];
}

/** Every field of ContainerDefinition: the container fields mlflow-dev renders, in order. */
export const CONTAINER_DEFINITION_KEYS = [
  "name",
  "image",
  "essential",
  "entryPoint",
  "command",
  "user",
  "readonlyRootFilesystem",
  "linuxParameters",
  "mountPoints",
  "portMappings",
  "healthCheck",
  "environment",
  "secrets",
  "logConfiguration",
  "dockerLabels",
] as const satisfies readonly (keyof ContainerDefinition)[];

export interface PortMapping {
  name: string;
  containerPort: number;
  protocol: "tcp";
  appProtocol: "http";
}

export interface ContainerHealthCheck {
  command: string[];
  interval: number;
  timeout: number;
  retries: number;
  startPeriod: number;
}

export interface LogConfiguration {
  logDriver: "awslogs";
  options: { "awslogs-group": string; "awslogs-region": string; "awslogs-stream-prefix": string };
}

/** The MLflow server's task definition. Entrypoint and command are the Model's, as on every runtime. */
export function toTaskDefinition(model: AwsModel, ctx: DeployContext): TaskDefinition {
  return taskDefinition(
    model,
    ctx,
    taskFamily(model),
    {
      ...containerBase(ctx),
      entryPoint: [...model.mlflow.entrypoint],
      command: serverCommand(model.mlflow.server),
      ...toHardening(),
      portMappings: toPortMappings(model),
      healthCheck: toHealthCheck(model),
      environment: toEnvironment(model, ctx),
      secrets: toSecrets(model, ctx),
      logConfiguration: toLogConfiguration(model, ctx, LOG_STREAM_PREFIX.server),
      dockerLabels: versionLabel(model),
    },
    toEphemeralStorage(model),
  );
}

/**
 * The one-off migration's task definition (family `<family>-migrate`). RunTask overrides can
 * change the command but not the entrypoint, so the migration gets its own family: same image,
 * environment, secrets and roles; no port and no health check.
 */
export function toMigrationTaskDefinition(model: AwsModel, ctx: DeployContext): TaskDefinition {
  return taskDefinition(model, ctx, migrationTaskFamily(model), {
    ...containerBase(ctx),
    entryPoint: [...model.mlflow.migration.entrypoint],
    command: [...model.mlflow.migration.command],
    ...toHardening(),
    environment: toEnvironment(model, ctx),
    secrets: toSecrets(model, ctx),
    logConfiguration: toLogConfiguration(model, ctx, LOG_STREAM_PREFIX.migrate),
    dockerLabels: versionLabel(model),
  });
}

/** Where the migration task runs: stack outputs, passed in by the deploy tool. */
export interface MigrationPlacement {
  taskDefinitionArn: string;
  subnetIds: string[];
  securityGroupId: string;
}

/** The ECS RunTask input that runs the migration once, where the service's tasks run (same subnets and public IP setting). */
export function toMigrationRunTask(model: AwsModel, placement: MigrationPlacement) {
  return {
    cluster: clusterName(model),
    taskDefinition: placement.taskDefinitionArn,
    launchType: "FARGATE" as const,
    count: 1,
    startedBy: "mlflow-dev-migrate",
    propagateTags: "TASK_DEFINITION" as const,
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: [...placement.subnetIds],
        securityGroups: [placement.securityGroupId],
        assignPublicIp: taskAssignPublicIp(model),
      },
    },
  };
}

function taskDefinition(
  model: AwsModel,
  ctx: DeployContext,
  family: string,
  container: ContainerDefinition,
  storage: { ephemeralStorage?: { sizeInGiB: number } } = {},
): TaskDefinition {
  return {
    family,
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: CPU_ARCHITECTURE },
    cpu: String(model.resources.cpu),
    memory: String(model.resources.memory),
    executionRoleArn: ctx.executionRoleArn,
    taskRoleArn: ctx.taskRoleArn,
    containerDefinitions: [container],
    volumes: [{ name: SERVER_HARDENING.scratchVolume }],
    ...storage,
    tags: toTags(model).map((t) => ({ key: t.Key, value: t.Value })),
  };
}

/** The server task's ephemeral storage (the migration spools nothing), when the spool of the largest artifact needs more than Fargate's default. */
function toEphemeralStorage(model: AwsModel): { ephemeralStorage?: { sizeInGiB: number } } {
  const size = largeArtifacts(model).ephemeralStorageGiB;
  return size === undefined ? {} : { ephemeralStorage: { sizeInGiB: size } };
}

/** Name, image and the hardening both the server and the migration run with (SERVER_HARDENING). */
function containerBase(ctx: DeployContext) {
  return { name: CONTAINER_NAME, image: ctx.imageUri, essential: true as const };
}

/** SERVER_HARDENING in ECS form: the user, the read-only root, capabilities, init, the scratch mount. */
export function toHardening() {
  return {
    user: SERVER_HARDENING.user,
    readonlyRootFilesystem: SERVER_HARDENING.readOnlyRootFilesystem,
    linuxParameters: {
      capabilities: { drop: [...SERVER_HARDENING.dropCapabilities] },
      initProcessEnabled: SERVER_HARDENING.init,
    },
    mountPoints: [
      {
        sourceVolume: SERVER_HARDENING.scratchVolume,
        containerPath: SERVER_HARDENING.scratchPath,
        readOnly: false as const,
      },
    ],
  };
}

function versionLabel(model: AwsModel): Record<string, string> {
  return { [MLFLOW_VERSION_LABEL]: model.mlflow.version };
}

export function toPortMappings(model: AwsModel): PortMapping[] {
  return [{ name: "http", containerPort: model.mlflow.port, protocol: "tcp", appProtocol: "http" }];
}

/** The Model's health check in ECS form: CMD exec form, seconds. */
export function toHealthCheck(model: AwsModel): ContainerHealthCheck {
  const hc = model.mlflow.healthCheck;
  return {
    command: ["CMD", ...hc.command],
    interval: hc.intervalSeconds,
    timeout: hc.timeoutSeconds,
    retries: hc.retries,
    startPeriod: hc.startPeriodSeconds,
  };
}

/** Host headers MLflow accepts on AWS: the spec's, the domain, the ALB's DNS name, then extras. */
export function toAllowedHosts(model: AwsModel, ctx: DeployContext): string[] {
  const target = model.target;
  return unique([
    ...model.mlflow.allowedHosts,
    ...(target.domain ? [target.domain] : []),
    `*.elb.${dnsSuffixOf(target.region)}`,
    ...(ctx.extraAllowedHosts ?? []),
  ]);
}

/** The deploy facts the runtime bindings' AWS values read. */
export function toRuntimeFacts(model: AwsModel, ctx: DeployContext): AwsRuntimeFacts {
  return { databaseHost: ctx.databaseHost, allowedHosts: toAllowedHosts(model, ctx) };
}

/**
 * The Model's environment plus the runtime bindings' AWS values (runtime-contract.ts), sorted by
 * name. No secret values.
 */
export function toEnvironment(model: AwsModel, ctx: DeployContext): { name: string; value: string }[] {
  const facts = toRuntimeFacts(model, ctx);
  const env: Record<string, string> = { ...model.mlflow.environment };
  for (const binding of RUNTIME_BINDINGS) if (binding.aws) env[binding.name] = binding.aws.value(model, facts);
  return Object.entries(env)
    .sort(([a], [b]) => compareCodeUnits(a, b))
    .map(([name, value]) => ({ name, value }));
}

/** Each SecretRef as an ECS secret: the variable name and the Secrets Manager ARN, sorted by name. */
export function toSecrets(model: AwsModel, ctx: DeployContext): { name: string; valueFrom: string }[] {
  return sortedByName(model.mlflow.secrets.map((ref) => ({ name: ref.env, valueFrom: secretArnOf(model, ctx, ref) })));
}

export function toLogConfiguration(model: AwsModel, ctx: DeployContext, streamPrefix: string): LogConfiguration {
  const target = model.target;
  return {
    logDriver: "awslogs",
    options: {
      "awslogs-group": ctx.logGroupName,
      "awslogs-region": target.region,
      "awslogs-stream-prefix": streamPrefix,
    },
  };
}
