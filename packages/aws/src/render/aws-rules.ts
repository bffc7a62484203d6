import type { AwsTarget, Model } from "@mlflow-dev/spec";
import {
  bindingNames,
  checkFargateSize,
  connectionDemand,
  effectivePool,
  fittingPoolCeiling,
  MIN_CONNECTIONS_PER_POOL,
  peakConnections,
  RESERVED_CONNECTIONS,
  ROLLOUT_OVERLAP,
  rdsMaxConnections,
  serverCommand,
  TRANSFER_MARGIN_SECONDS,
} from "@mlflow-dev/spec";
import { ACCESS_LOG_PREFIX, accessLogsOn } from "./cloudformation/bucket.ts";
import { formatCidr, isNetworkAddress, networkOf, parseCidr, SMALLEST_SUBNET_PREFIX } from "./cloudformation/cidr.ts";
import { gcScheduleOverrides } from "./cloudformation/gc-schedule.ts";
import { TAG_KEYS } from "./cloudformation/tags.ts";
import {
  ALB_IDLE_TIMEOUT,
  FARGATE_EPHEMERAL_STORAGE,
  largeArtifacts,
  SPOOLED_TRANSFERS_PER_WORKER,
  SYSTEM_STORAGE_GIB,
  TASK_STORE_MIB_PER_SECOND,
} from "./large-artifacts.ts";
import { unique } from "./order.ts";
import { awsTarget } from "./target.ts";

/**
 * Settings the Model can express that ECS Fargate (or the stack around it) cannot honour.
 * Each check names the setting, says why, and how to fix it; all problems are returned at once.
 */

export interface CompatibilityProblem {
  /** Where the setting lives, e.g. environments.staging.cpu. */
  setting: string;
  message: string;
}

export class AwsCompatibilityError extends Error {
  readonly problems: readonly CompatibilityProblem[];
  constructor(problems: readonly CompatibilityProblem[]) {
    super(
      [
        `the spec cannot be deployed to ECS Fargate (${problems.length} problem${problems.length === 1 ? "" : "s"}):`,
        ...problems.map((p) => `  ${p.setting}: ${p.message}`),
      ].join("\n"),
    );
    this.name = "AwsCompatibilityError";
    this.problems = problems;
  }
}

/** Environment variables the AWS renderer sets itself (the runtime bindings); the Model must not set them too. */
export const AWS_MANAGED_ENV: readonly string[] = bindingNames("aws");

/** ECS container health check limits (seconds, retries). */
export const ECS_HEALTH_CHECK_LIMITS = {
  intervalSeconds: [5, 300],
  timeoutSeconds: [2, 120],
  retries: [1, 10],
  startPeriodSeconds: [0, 300],
} as const;

/** AWS allows 50 tags per resource; mlflow-dev uses 3 (two of its own and Name). */
export const MAX_USER_TAGS = 47;

/** ECS refuses a task definition larger than 64 KiB (RegisterTaskDefinition; the ECS service quota "Task definition size"). */
export const ECS_TASK_DEFINITION_MAX_BYTES = 64 * 1024;

/**
 * What the spec may add to a task definition (its variables, server flags and allowed hosts): half
 * of ECS's limit, the other half kept for what mlflow-dev renders around it (roles, image, logs, health check).
 */
export const SPEC_TASK_DEFINITION_BUDGET_BYTES = ECS_TASK_DEFINITION_MAX_BYTES / 2;

type Check = (model: Model, target: AwsTarget, at: (key: string) => string) => CompatibilityProblem[];

const checkTaskSize: Check = (model, _target, at) => {
  const size = checkFargateSize(model.resources.cpu, model.resources.memory);
  return size.ok ? [] : [{ setting: at(size.field), message: size.message }];
};

const checkHealthCheck: Check = (model) => {
  const hc = model.mlflow.healthCheck;
  const problems: CompatibilityProblem[] = [];
  for (const [key, [min, max]] of Object.entries(ECS_HEALTH_CHECK_LIMITS)) {
    const value = hc[key as keyof typeof ECS_HEALTH_CHECK_LIMITS];
    if (value < min || value > max)
      problems.push({
        setting: `mlflow.healthCheck.${key}`,
        message: `ECS container health checks accept ${min} to ${max}, got ${value}. Change it in the resolver (packages/spec) so both runtimes keep the same health check`,
      });
  }
  if (hc.command.length === 0)
    problems.push({
      setting: "mlflow.healthCheck.command",
      message: "is empty: ECS needs a command to run (CMD form)",
    });
  return problems;
};

const checkNewNetwork: Check = (_model, target, at) => {
  if (target.network.mode !== "new") return [];
  const text = target.network.cidr;
  const cidr = parseCidr(text);
  if (!cidr)
    return [{ setting: at("network.cidr"), message: `"${text}" is not an IPv4 CIDR block such as 10.0.0.0/16` }];
  const problems: CompatibilityProblem[] = [];
  if (cidr.prefix + 2 > SMALLEST_SUBNET_PREFIX)
    problems.push({
      setting: at("network.cidr"),
      message: `/${cidr.prefix} is too small: the VPC is split into 4 subnets (2 public, 2 private) and AWS subnets are /${SMALLEST_SUBNET_PREFIX} at least. Use /${SMALLEST_SUBNET_PREFIX - 2} or larger (e.g. /16)`,
    });
  if (!isNetworkAddress(cidr))
    problems.push({
      setting: at("network.cidr"),
      message: `${text} has host bits set: a VPC block must start at its network address. Use ${formatCidr(networkOf(cidr))}`,
    });
  return problems;
};

const checkExistingNetwork: Check = (_model, target, at) => {
  const n = target.network;
  if (n.mode !== "existing") return [];
  const problems: CompatibilityProblem[] = [];
  for (const key of ["publicSubnetIds", "privateSubnetIds"] as const) {
    const ids = n[key];
    const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (twice.length > 0)
      problems.push({
        setting: at(`network.${key}`),
        message: `lists ${unique(twice).join(", ")} more than once. List each subnet once, at least 2 in different availability zones`,
      });
    else if (ids.length < 2)
      problems.push({
        setting: at(`network.${key}`),
        message:
          "needs at least 2 subnets in different availability zones: an ALB and a DB subnet group span two zones",
      });
  }
  const shared = n.publicSubnetIds.filter((id) => n.privateSubnetIds.includes(id));
  if (shared.length > 0)
    problems.push({
      setting: at("network.privateSubnetIds"),
      message: `${shared.join(", ")} is also listed as public: tasks and the database run in private subnets only. List each subnet once`,
    });
  return problems;
};

const checkCertificate: Check = (_model, target, at) => {
  if (target.certificateArn === undefined) return [];
  const problems: CompatibilityProblem[] = [];
  if (target.domain === undefined)
    problems.push({
      setting: at("domain"),
      message: "is required when certificateArn is set (the certificate must cover it)",
    });
  const region = target.certificateArn.split(":")[3];
  if (region !== target.region)
    problems.push({
      setting: at("certificateArn"),
      message: `is in ${region} but the environment is in ${target.region}: an ALB needs a certificate from its own region. Request or import one in ${target.region}`,
    });
  return problems;
};

/** The load balancer's access logs stay outside the prefix the MLflow tasks may read, write and delete. */
const checkAccessLogPrefix: Check = (model, target) => {
  const prefix = model.artifacts.prefix;
  if (!accessLogsOn(target)) return [];
  if (prefix !== ACCESS_LOG_PREFIX && !prefix.startsWith(`${ACCESS_LOG_PREFIX}/`)) return [];
  return [
    {
      setting: "artifacts.prefix",
      message: `("${prefix}") is where an internet-facing load balancer writes its access logs (${ACCESS_LOG_PREFIX}/): the MLflow tasks could change them. Choose another prefix, e.g. mlflow`,
    },
  ];
};

const checkAutoscaling: Check = (_model, target, at) => {
  const a = target.autoscaling;
  if (!a) return [];
  if (a.min <= target.desiredCount && target.desiredCount <= a.max) return [];
  return [
    {
      setting: at("desiredCount"),
      message: `(${target.desiredCount}) must lie between autoscaling.min (${a.min}) and autoscaling.max (${a.max}): Application Auto Scaling would move it at once`,
    },
  ];
};

const checkTags: Check = (_model, target, at) => {
  const problems: CompatibilityProblem[] = [];
  const keys = Object.keys(target.tags);
  for (const key of keys) {
    if (key.toLowerCase().startsWith("aws:"))
      problems.push({
        setting: at(`tags.${key}`),
        message: "uses the aws: prefix, which AWS reserves. Rename the tag",
      });
    if (key === "Name" || key === TAG_KEYS.service || key === TAG_KEYS.environment || key.startsWith("mlflow-dev:"))
      problems.push({
        setting: at(`tags.${key}`),
        message: "is set by mlflow-dev on every resource. Remove it or use another key",
      });
  }
  if (keys.length > MAX_USER_TAGS)
    problems.push({
      setting: at("tags"),
      message: `has ${keys.length} tags: AWS allows 50 per resource and mlflow-dev adds 3. Keep at most ${MAX_USER_TAGS}`,
    });
  return problems;
};

/**
 * The service's peak connections (connection-budget.ts) fit its database's max_connections less the
 * reserve. The pool is sized to fit unless mlflow.env sets it (read as MLflow reads it: 0 is its
 * default), or the database is too small for the smallest pool (MIN_CONNECTIONS_PER_POOL).
 */
const checkConnectionBudget: Check = (model, target, at) => {
  const max = rdsMaxConnections(target.database.instanceClass);
  if (max === undefined) return [];
  const env = model.mlflow.environment;
  const pool = effectivePool(env);
  const perPool = pool.poolSize + pool.maxOverflow;
  const demand = connectionDemand({
    desiredCount: target.desiredCount,
    autoscalingMax: target.autoscaling?.max,
    workers: model.mlflow.workers,
    auth: model.mlflow.auth,
  });
  const peak = peakConnections(demand, perPool);
  const budget = max - RESERVED_CONNECTIONS;
  if (!Number.isFinite(peak) || peak <= budget) return [];
  const fits = fittingPoolCeiling(demand, max) ?? 0;
  const tasks = `${demand.peakTasks / ROLLOUT_OVERLAP} task${demand.peakTasks === ROLLOUT_OVERLAP ? "" : "s"} at most (${target.autoscaling ? "autoscaling.max" : "desiredCount"}), twice that during a rollout`;
  const pools = `${demand.poolsPerWorker} pools per worker (the tracking and model registry stores${demand.poolsPerWorker > 2 ? ", the basic-auth store" : ""})`;
  return [
    {
      setting: at("database.instanceClass"),
      message: `${target.database.instanceClass} allows about ${max} PostgreSQL connections (RDS's default max_connections, ${RESERVED_CONNECTIONS} kept for administrators and one-off tasks), but the service may open ${peak}: ${demand.peakTasks} tasks (${tasks}) x ${demand.workers} workers x ${pools} x ${perPool} connections per pool. Connections beyond the limit are refused ("too many clients") under load. Fix one of: a larger instance class; fewer workers or tasks;${fits >= MIN_CONNECTIONS_PER_POOL ? ` at most ${fits} connections per pool (MLFLOW_SQLALCHEMYSTORE_POOL_SIZE + MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW in this environment's mlflow.env, or leave them unset and mlflow-dev sizes the pool)` : ""}`,
    },
  ];
};

/**
 * The largest artifact fits what AWS allows (large-artifacts.ts): the server's silence while it
 * moves the artifact within the ALB's longest idle timeout, and its spool within Fargate's largest
 * ephemeral storage.
 */
const checkLargeArtifacts: Check = (model) => {
  const large = largeArtifacts(model);
  const problems: CompatibilityProblem[] = [];
  const direct =
    "or let clients go to the bucket themselves (mlflow.proxyArtifacts: false, or MLflow's multipart transfers from 500 MiB, which its Python client uses with this server)";
  if (large.silentSeconds > ALB_IDLE_TIMEOUT.maxSeconds)
    problems.push({
      setting: "artifacts.largestGiB",
      message: `is ${large.largestGiB} GiB: moving it between the task's disk and S3 takes about ${large.silentSeconds} s at ${TASK_STORE_MIB_PER_SECOND} MiB/s, during which the server sends nothing, but a load balancer cuts a connection idle for more than ${ALB_IDLE_TIMEOUT.maxSeconds} s (the longest idle timeout AWS allows). Lower artifacts.largestGiB to at most ${Math.floor(((ALB_IDLE_TIMEOUT.maxSeconds - TRANSFER_MARGIN_SECONDS) * TASK_STORE_MIB_PER_SECOND) / 1024)}, ${direct}`,
    });
  if (large.neededStorageGiB > FARGATE_EPHEMERAL_STORAGE.maxGiB) {
    const workers = model.mlflow.workers === 1 ? "1 worker" : `${model.mlflow.workers} workers`;
    const perTransfer =
      (FARGATE_EPHEMERAL_STORAGE.maxGiB - SYSTEM_STORAGE_GIB) / (SPOOLED_TRANSFERS_PER_WORKER * model.mlflow.workers);
    problems.push({
      setting: "artifacts.largestGiB",
      message: `is ${large.largestGiB} GiB: in ${model.environment}, each of the server's ${workers} may hold an upload and a download of it on the task's disk (${large.spoolGiB} GiB, plus ${SYSTEM_STORAGE_GIB} GiB for the image and system), but a Fargate task has at most ${FARGATE_EPHEMERAL_STORAGE.maxGiB} GiB of ephemeral storage. Lower artifacts.largestGiB to at most ${Math.floor(perTransfer * 10) / 10}, ${model.mlflow.workers > 1 ? "run fewer workers (mlflow.workers), " : ""}${direct}`,
    });
  }
  return problems;
};

const checkEnvironmentNames: Check = (model) => {
  const problems: CompatibilityProblem[] = [];
  for (const name of AWS_MANAGED_ENV) {
    if (name in model.mlflow.environment)
      problems.push({
        setting: `mlflow.environment.${name}`,
        message: "is set by the AWS renderer from the deploy context; the Model must not set it too",
      });
  }
  for (const ref of model.mlflow.secrets) {
    if (ref.env in model.mlflow.environment)
      problems.push({
        setting: `mlflow.environment.${ref.env}`,
        message: `is also the secret ${ref.name}: ECS refuses a variable that is both a value and a secret`,
      });
  }
  return problems;
};

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/** The spec's variables, flags and hosts fit the ECS task definition (each variable on its own, and all together). */
const checkTaskDefinitionSize: Check = (model, _target, at) => {
  const budget = SPEC_TASK_DEFINITION_BUDGET_BYTES;
  const why = `ECS refuses a task definition larger than ${ECS_TASK_DEFINITION_MAX_BYTES / 1024} KiB, and mlflow-dev keeps ${budget / 1024} KiB of it for the spec's variables and server flags`;
  const problems: CompatibilityProblem[] = [];
  for (const [name, value] of Object.entries(model.mlflow.environment)) {
    const size = bytes({ name, value });
    if (size > budget)
      problems.push({
        setting: at(`mlflow.env.${name}`),
        message: `is ${value.length} characters long (${size} bytes in the task definition): ${why}. Keep large values out of the environment: put them in the image, or in a file the server reads`,
      });
  }
  if (problems.length > 0) return problems;
  // The variables the task holds from the Model: its environment and the artifact destination (a
  // runtime binding whose value is the Model's own); deploy facts are in the other half.
  const variables = { ...model.mlflow.environment, MLFLOW_ARTIFACTS_DESTINATION: model.artifacts.destination };
  const total =
    bytes(Object.entries(variables).map(([name, value]) => ({ name, value }))) +
    bytes(serverCommand(model.mlflow.server)) +
    bytes(model.mlflow.allowedHosts);
  if (total <= budget) return [];
  return [
    {
      setting: at("mlflow"),
      message: `the server's variables, flags and allowed hosts take ${total} bytes of the task definition together: ${why}. Shorten or remove some of them`,
    },
  ];
};

/** ECS refuses RunTask overrides larger than 8 KiB (and EventBridge Scheduler passes its Input as them). */
export const ECS_RUN_TASK_OVERRIDES_MAX_BYTES = 8192;

/** The scheduled gc's command (the one-off script and gc's program) fits the overrides RunTask takes. */
const checkGcSchedule: Check = (model) => {
  if (model.gc.schedule === undefined) return [];
  const size = bytes(gcScheduleOverrides(model));
  if (size <= ECS_RUN_TASK_OVERRIDES_MAX_BYTES) return [];
  return [
    {
      setting: "gc.schedule",
      message: `the scheduled gc's command (the server's setup lines and gc's program) takes ${size} bytes, but ECS refuses task overrides larger than ${ECS_RUN_TASK_OVERRIDES_MAX_BYTES} bytes, so the schedule could never start it. Remove gc.schedule and run \`mlflow-dev gc --env ${model.environment}\` on demand (from a CI job's schedule, for example), or shorten the server's setup (fewer mlflow.extraArgs)`,
    },
  ];
};

const CHECKS: readonly Check[] = [
  checkTaskSize,
  checkHealthCheck,
  checkNewNetwork,
  checkExistingNetwork,
  checkCertificate,
  checkAccessLogPrefix,
  checkAutoscaling,
  checkTags,
  checkEnvironmentNames,
  checkTaskDefinitionSize,
  checkConnectionBudget,
  checkLargeArtifacts,
  checkGcSchedule,
];

/** Every reason the Model cannot be rendered for ECS Fargate; empty when it can. */
export function checkCompatibility(model: Model): CompatibilityProblem[] {
  const target = awsTarget(model);
  const at = (key: string) => `environments.${model.environment}.${key}`;
  return CHECKS.flatMap((check) => check(model, target, at));
}
