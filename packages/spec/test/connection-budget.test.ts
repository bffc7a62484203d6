import { describe, expect, it } from "vitest";
import {
  connectionDemand,
  effectivePool,
  fittingPoolCeiling,
  instanceClassMemoryGiB,
  MIN_CONNECTIONS_PER_POOL,
  parseSpecOrThrow,
  peakConnections,
  poolSettings,
  rdsMaxConnections,
  resolve,
  WORKER_CONCURRENCY_VARIABLE,
  workerConcurrency,
} from "../src/index.ts";

/** A spec with one AWS environment whose size, workers, tasks and database class a case sets. */
function spec({
  workers = 2,
  auth = "none",
  desired = 1,
  max,
  instanceClass = "db.t4g.micro",
}: {
  workers?: number;
  auth?: "none" | "basic";
  desired?: number;
  max?: number;
  instanceClass?: string;
}) {
  return parseSpecOrThrow(`name: tracking
mlflow:
  workers: ${workers}
  auth: ${auth}
artifacts:
  bucket: b-artifacts
environments:
  local: {}
  staging:
    region: eu-west-1
    account: "123456789012"
    cpu: 1024
    memory: 4096
    desiredCount: ${desired}
${max === undefined ? "" : `    autoscaling: { min: 1, max: ${max} }\n`}    database: { instanceClass: ${instanceClass} }
`);
}

describe("the database's connection budget", () => {
  it("estimates RDS's default max_connections from three quarters of the class's memory", () => {
    // LEAST(DBInstanceClassMemory / 9531392, 5000): 1 GiB x 0.75 / 9531392 = 84.5.
    expect(rdsMaxConnections("db.t4g.micro")).toBe(84);
    expect(rdsMaxConnections("db.t3.small")).toBe(168);
    expect(rdsMaxConnections("db.m7g.large")).toBe(675);
    expect(rdsMaxConnections("db.r6g.16xlarge")).toBe(5000);
    expect(instanceClassMemoryGiB("db.r6g.large")).toBe(16);
    expect(rdsMaxConnections("db.x2iedn.large")).toBeUndefined();
  });

  it("counts the peak: the largest task count twice over (a rollout), every worker, one pool per store", () => {
    // Pools: the tracking store and the model registry store (an engine each), and basic auth's.
    const demand = connectionDemand({ desiredCount: 2, autoscalingMax: 3, workers: 4, auth: "basic" });
    expect(demand).toEqual({ peakTasks: 6, workers: 4, poolsPerWorker: 3 });
    expect(peakConnections(demand, 15)).toBe(1080);
    // (84 - 10) / (6 x 4 x 3) = 1.03
    expect(fittingPoolCeiling(demand, 84)).toBe(1);
    expect(connectionDemand({ desiredCount: 1, workers: 2, auth: "none" }).poolsPerWorker).toBe(2);
  });

  it("keeps 10 + 5 per pool when that fits, and sizes the pool down to what the database holds otherwise", () => {
    // 2 tasks x 1 worker x 2 pools = 4 pools; (84 - 10) / 4 = 18: the full 15.
    expect(poolSettings(spec({ workers: 1 }), "staging")).toEqual({ poolSize: 10, maxOverflow: 5 });
    // 2 tasks x 2 workers x 2 pools = 8 pools; (84 - 10) / 8 = 9 per pool.
    expect(poolSettings(spec({}), "staging")).toEqual({ poolSize: 6, maxOverflow: 3 });
    // 2 tasks x 4 workers x 3 pools = 24 pools; (84 - 10) / 24 = 3 per pool.
    expect(poolSettings(spec({ workers: 4, auth: "basic" }), "staging")).toEqual({ poolSize: 2, maxOverflow: 1 });
    // A larger class gives the full pool back.
    expect(poolSettings(spec({ workers: 4, auth: "basic", instanceClass: "db.t4g.large" }), "staging")).toEqual({
      poolSize: 10,
      maxOverflow: 5,
    });
    // An unknown class keeps the default (validation cannot check it).
    expect(poolSettings(spec({ workers: 4, instanceClass: "db.x2iedn.large" }), "staging").poolSize).toBe(10);
  });

  it("the local stack runs the pool of the environment it mirrors, so both runtimes run one server", () => {
    const s = spec({ workers: 2, auth: "basic", max: 2 });
    const local = resolve(s, "local").mlflow.environment;
    const staging = resolve(s, "staging").mlflow.environment;
    for (const name of [
      "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE",
      "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW",
      WORKER_CONCURRENCY_VARIABLE,
    ])
      expect(local[name], name).toBe(staging[name]);
    // 4 tasks x 2 workers x 3 pools = 24; (84 - 10) / 24 = 3: 2 kept + 1, two requests at once per worker.
    expect(staging).toMatchObject({
      MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "2",
      MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: "1",
      [WORKER_CONCURRENCY_VARIABLE]: "2",
    });
  });

  it("never runs a pool of one, nor an overflow of 0, which MLflow reads as unset (SQLAlchemy's 5 + 10)", () => {
    // 4 tasks x 4 workers x 3 pools = 48; (84 - 10) / 48 = 1: the smallest pool, 1 + 1, which validation refuses.
    expect(poolSettings(spec({ workers: 4, auth: "basic", max: 2 }), "staging")).toEqual({
      poolSize: 1,
      maxOverflow: 1,
    });
    for (let ceiling = MIN_CONNECTIONS_PER_POOL; ceiling <= 15; ceiling++) {
      const { poolSize, maxOverflow } = poolSettings(
        spec({ workers: 1, instanceClass: "db.t4g.micro", desired: Math.max(1, Math.floor(74 / (4 * ceiling))) }),
        "staging",
      );
      expect(poolSize).toBeGreaterThanOrEqual(1);
      expect(maxOverflow).toBeGreaterThanOrEqual(1);
    }
    expect(effectivePool({ MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "0", MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: "0" })).toEqual({
      poolSize: 5,
      maxOverflow: 10,
    });
    expect(effectivePool({ MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "3", MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: "2" })).toEqual({
      poolSize: 3,
      maxOverflow: 2,
    });
  });

  it("each worker serves one request fewer than a pool's connections at once, and follows a pool mlflow.env sets", () => {
    expect(workerConcurrency(15)).toBe(14);
    expect(workerConcurrency(2)).toBe(1);
    // 2 tasks x 2 workers x 2 pools = 8; (84 - 10) / 8 = 9 per pool: 8 requests at once.
    expect(resolve(spec({}), "staging").mlflow.environment[WORKER_CONCURRENCY_VARIABLE]).toBe("8");
    const own = parseSpecOrThrow(
      `name: tracking
artifacts:
  bucket: b-artifacts
environments:
  local:
    mlflow:
      env: { MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "4", MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: "0" }
`,
    );
    // An overflow of 0 is MLflow's default, 10: 4 + 10 = 14 per pool.
    expect(resolve(own, "local").mlflow.environment[WORKER_CONCURRENCY_VARIABLE]).toBe("13");
  });
});
