import type { AwsEnv, Spec } from "./schema.ts";
import { mirroredEnvironment, serverProcesses } from "./task-size.ts";

/**
 * How many PostgreSQL connections a service can open at its peak, against what its RDS instance
 * allows. Pure.
 *
 * Every worker keeps one SQLAlchemy pool per store it opens (the tracking store, and with
 * `auth: basic` the basic-auth store too), each up to pool size + overflow connections. At its
 * peak a service runs its largest task count (autoscaling max, else desiredCount) twice over: a
 * rollout starts the new tasks (maximumPercent 200) while the old ones still serve. RDS sets
 * max_connections to LEAST(DBInstanceClassMemory / 9531392, 5000); DBInstanceClassMemory is the
 * class's memory less what RDS keeps for the operating system, which AWS does not publish, so
 * mlflow-dev counts three quarters of the class's memory (an estimate that errs low).
 */

/** SQLAlchemy's own ceiling per pool (5 kept + 10 overflow), which mlflow-dev never exceeds. */
export const MAX_CONNECTIONS_PER_POOL = 15;
/** The smallest pool that still serves a worker's concurrent requests without queueing each one. */
export const MIN_CONNECTIONS_PER_POOL = 2;
/** A rollout runs up to twice the service's tasks (the ECS service's maximumPercent, 200). */
export const ROLLOUT_OVERLAP = 2;
/**
 * Connections kept out of the service's budget: PostgreSQL's superuser_reserved_connections (3),
 * RDS's rds.rds_superuser_reserved_connections (2), and 5 for one-off sessions (the migration
 * task, an operator's psql).
 */
export const RESERVED_CONNECTIONS = 10;
/** The share of an instance class's memory counted as DBInstanceClassMemory. */
export const CLASS_MEMORY_SHARE = 0.75;
const BYTES_PER_CONNECTION = 9_531_392;
const RDS_MAX_CONNECTIONS_CAP = 5000;

/** Memory (GiB) of an RDS instance class size, for the families whose memory follows their size. */
const SIZE_MEMORY_GIB: Record<string, Record<string, number>> = {
  burstable: { micro: 1, small: 2, medium: 4, large: 8, xlarge: 16, "2xlarge": 32 },
  general: { large: 8, xlarge: 16, "2xlarge": 32, "4xlarge": 64, "8xlarge": 128, "12xlarge": 192, "16xlarge": 256 },
  memory: { large: 16, xlarge: 32, "2xlarge": 64, "4xlarge": 128, "8xlarge": 256, "12xlarge": 384, "16xlarge": 512 },
};

/** RDS instance families mlflow-dev knows the memory of: t (burstable), m (general), r (memory optimised). */
function familyKind(family: string): keyof typeof SIZE_MEMORY_GIB | undefined {
  if (/^t[34]g?$/.test(family)) return "burstable";
  if (/^m[5-8][a-z]*$/.test(family)) return "general";
  if (/^r[5-8][a-z]*$/.test(family)) return "memory";
  return undefined;
}

/** The memory of an instance class in GiB, or undefined for a class mlflow-dev does not know. */
export function instanceClassMemoryGiB(instanceClass: string): number | undefined {
  const [, family, size] = /^db\.([a-z0-9]+)\.([a-z0-9]+)$/.exec(instanceClass) ?? [];
  if (family === undefined || size === undefined) return undefined;
  const kind = familyKind(family);
  return kind === undefined ? undefined : SIZE_MEMORY_GIB[kind]?.[size];
}

/** RDS's default max_connections for PostgreSQL on this class (estimated low), or undefined when unknown. */
export function rdsMaxConnections(instanceClass: string): number | undefined {
  const gib = instanceClassMemoryGiB(instanceClass);
  if (gib === undefined) return undefined;
  const memory = gib * 1024 ** 3 * CLASS_MEMORY_SHARE;
  return Math.min(Math.floor(memory / BYTES_PER_CONNECTION), RDS_MAX_CONNECTIONS_CAP);
}

/** What one environment's service may open at its peak. */
export interface ConnectionDemand {
  /** Tasks at the peak: the largest task count, twice over during a rollout. */
  peakTasks: number;
  workers: number;
  /** SQLAlchemy pools per worker: the tracking store, and the basic-auth store with auth: basic. */
  poolsPerWorker: number;
}

export function connectionDemand(input: {
  desiredCount: number;
  autoscalingMax?: number;
  workers: number;
  auth: "none" | "basic";
}): ConnectionDemand {
  return {
    peakTasks: (input.autoscalingMax ?? input.desiredCount) * ROLLOUT_OVERLAP,
    workers: input.workers,
    poolsPerWorker: input.auth === "basic" ? 2 : 1,
  };
}

/** Connections the service may hold at its peak with this many per pool. */
export function peakConnections(demand: ConnectionDemand, perPool: number): number {
  return demand.peakTasks * demand.workers * demand.poolsPerWorker * perPool;
}

/**
 * The largest connections per pool (pool size + overflow) that fits the database with the reserve,
 * at most SQLAlchemy's 15; undefined when the class's limit is unknown.
 */
export function fittingPoolCeiling(demand: ConnectionDemand, maxConnections: number | undefined): number | undefined {
  if (maxConnections === undefined) return undefined;
  const pools = demand.peakTasks * demand.workers * demand.poolsPerWorker;
  return Math.min(MAX_CONNECTIONS_PER_POOL, Math.floor((maxConnections - RESERVED_CONNECTIONS) / pools));
}

/**
 * The pool settings of an environment's server (MLflow reads them when it creates its SQLAlchemy
 * engines, the basic-auth store's too). SQLAlchemy's defaults keep 5 connections and open up to 10
 * more, closing each extra one as soon as it is returned: a worker serving more than 5 requests at
 * once opened and closed a PostgreSQL session (a backend process and a SCRAM login) for most
 * requests, 6 to 16 a second with 8 clients at 2 vCPU; with 10 kept + 5 overflow 1 to 3 (`pnpm
 * bench --throughput`). So: 10 kept + 5 overflow when that fits the database of the AWS environment it runs as (the
 * local stack: the one it mirrors), else the largest that fits, two thirds kept. Never below one
 * connection: a spec whose database cannot hold even that is refused by validation.
 */
export function poolSettings(spec: Spec, environment: string): { poolSize: number; maxOverflow: number } {
  const name = environment === "local" ? mirroredEnvironment(spec) : environment;
  const env = name === undefined ? undefined : (spec.environments[name] as AwsEnv | undefined);
  let ceiling = MAX_CONNECTIONS_PER_POOL;
  if (env !== undefined && "region" in env) {
    const demand = connectionDemand({
      desiredCount: env.desiredCount,
      autoscalingMax: env.autoscaling?.max,
      workers: serverProcesses(spec, env.cpu).workers,
      auth: spec.mlflow.auth,
    });
    ceiling = Math.max(1, fittingPoolCeiling(demand, rdsMaxConnections(env.database.instanceClass)) ?? ceiling);
  }
  const poolSize = Math.ceil((ceiling * 2) / 3);
  return { poolSize, maxOverflow: ceiling - poolSize };
}
