import type { AwsEnv, Spec } from "./schema.ts";
import { mirroredEnvironment, serverProcesses } from "./task-size.ts";

/**
 * How many PostgreSQL connections a service can open at its peak, against what its RDS instance
 * allows. Pure.
 *
 * Every worker keeps one SQLAlchemy pool per store it opens, each up to pool size + overflow
 * connections: MLflow's tracking store and its model registry store each cache an engine of their
 * own (two class-level engine maps in MLflow 3.17), and with `auth: basic` the basic-auth store
 * keeps a third. At its peak a service runs its largest task count (autoscaling max, else desiredCount) twice over: a
 * rollout starts the new tasks (maximumPercent 200) while the old ones still serve. RDS sets
 * max_connections to LEAST(DBInstanceClassMemory / 9531392, 5000); DBInstanceClassMemory is the
 * class's memory less what RDS keeps for the operating system, which AWS does not publish, so
 * mlflow-dev counts three quarters of the class's memory (an estimate that errs low).
 */

/** Pools every worker keeps: MLflow's tracking store and its model registry store, an engine each. */
export const POOLS_PER_WORKER = 2;
/** SQLAlchemy's own ceiling per pool (5 kept + 10 overflow), which mlflow-dev never exceeds. */
export const MAX_CONNECTIONS_PER_POOL = 15;
/**
 * The smallest pool mlflow-dev runs: one kept and one overflow. MLflow reads a pool size or an
 * overflow of 0 as unset (SQLAlchemy's default, 5 or 10), and one request of the tracking store may
 * hold two of a pool's connections at once (WORKER_CONCURRENCY_MARGIN).
 */
export const MIN_CONNECTIONS_PER_POOL = 2;
/**
 * Connections of a pool one request may hold at once beyond its first: MLflow 3.17's tracking
 * store opens a session inside another (`log_batch` holds the run's session while `_log_params`
 * and `_log_metrics` each open their own), so a worker whose every request thread holds one
 * connection and waits for a second stalls until SQLAlchemy's 30 s checkout timeout refuses
 * them. Measured: one worker, 48 clients, two request threads on 1 + 1 connections: every request
 * stalled and was refused; on 2 + 1 (one spare), none.
 */
export const WORKER_CONCURRENCY_MARGIN = 1;
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
  /** SQLAlchemy pools per worker: the tracking and model registry stores, and the basic-auth store with auth: basic. */
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
    poolsPerWorker: input.auth === "basic" ? POOLS_PER_WORKER + 1 : POOLS_PER_WORKER,
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
export function poolSettings(spec: Spec, environment: string): PoolSettings {
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
    ceiling = Math.max(
      MIN_CONNECTIONS_PER_POOL,
      fittingPoolCeiling(demand, rdsMaxConnections(env.database.instanceClass)) ?? ceiling,
    );
  }
  const poolSize = Math.min(Math.ceil((ceiling * 2) / 3), ceiling - 1);
  return { poolSize, maxOverflow: ceiling - poolSize };
}

/** SQLAlchemy's defaults, which MLflow keeps when a variable is unset, empty or 0. */
const SQLALCHEMY_DEFAULT_POOL: PoolSettings = { poolSize: 5, maxOverflow: 10 };

/**
 * The pool a server's environment gives each of its stores, read as MLflow reads it
 * (mlflow/store/db/utils.py: a variable that is unset, empty or 0 keeps SQLAlchemy's default).
 */
export function effectivePool(environment: Readonly<Record<string, string>>): PoolSettings {
  const read = (name: string, fallback: number) => Number(environment[name] ?? "") || fallback;
  return {
    poolSize: read("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", SQLALCHEMY_DEFAULT_POOL.poolSize),
    maxOverflow: read("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW", SQLALCHEMY_DEFAULT_POOL.maxOverflow),
  };
}

/** A pool's settings: `poolSize` kept, up to `maxOverflow` more (both at least 1, see MIN_CONNECTIONS_PER_POOL). */
export interface PoolSettings {
  poolSize: number;
  maxOverflow: number;
}

/**
 * How many requests each worker serves at once (its request threads: MLflow's Flask app runs in a
 * thread of uvicorn's pool, 40 by default): one fewer than a pool's connections, so that each
 * request thread can take a connection of every pool, and one of them a second
 * (WORKER_CONCURRENCY_MARGIN), without waiting. More requests wait in the worker's line instead of
 * in SQLAlchemy's, where they are refused after 30 s: with 40 threads on 3 + 1 connections a
 * load of 48 clients had 39 of 411 requests refused, at 7 requests a second with the processor
 * idle. The server applies it through WORKER_CONCURRENCY_VARIABLE (runtime-contract.ts).
 */
export function workerConcurrency(connectionsPerPool: number): number {
  return Math.max(1, connectionsPerPool - WORKER_CONCURRENCY_MARGIN);
}
