import { describe, expect, it } from "vitest";
import {
  connectionDemand,
  fittingPoolCeiling,
  instanceClassMemoryGiB,
  parseSpecOrThrow,
  peakConnections,
  poolSettings,
  rdsMaxConnections,
  resolve,
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
    const demand = connectionDemand({ desiredCount: 2, autoscalingMax: 3, workers: 4, auth: "basic" });
    expect(demand).toEqual({ peakTasks: 6, workers: 4, poolsPerWorker: 2 });
    expect(peakConnections(demand, 15)).toBe(720);
    // (84 - 10) / (6 x 4 x 2) = 1.5
    expect(fittingPoolCeiling(demand, 84)).toBe(1);
  });

  it("keeps 10 + 5 per pool when that fits, and sizes the pool down to what the database holds otherwise", () => {
    expect(poolSettings(spec({}), "staging")).toEqual({ poolSize: 10, maxOverflow: 5 });
    // 2 tasks x 4 workers x 2 pools = 16 pools; (84 - 10) / 16 = 4 per pool.
    expect(poolSettings(spec({ workers: 4, auth: "basic" }), "staging")).toEqual({ poolSize: 3, maxOverflow: 1 });
    // A larger class gives the full pool back.
    expect(poolSettings(spec({ workers: 4, auth: "basic", instanceClass: "db.t4g.large" }), "staging")).toEqual({
      poolSize: 10,
      maxOverflow: 5,
    });
    // An unknown class keeps the default (validation cannot check it).
    expect(poolSettings(spec({ workers: 4, instanceClass: "db.x2iedn.large" }), "staging").poolSize).toBe(10);
  });

  it("the local stack runs the pool of the environment it mirrors, so both runtimes run one server", () => {
    const s = spec({ workers: 4, auth: "basic", max: 2 });
    const local = resolve(s, "local").mlflow.environment;
    const staging = resolve(s, "staging").mlflow.environment;
    expect(local.MLFLOW_SQLALCHEMYSTORE_POOL_SIZE).toBe(staging.MLFLOW_SQLALCHEMYSTORE_POOL_SIZE);
    expect(local.MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW).toBe(staging.MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW);
    // 4 tasks x 4 workers x 2 pools = 32; (84 - 10) / 32 = 2
    expect(staging).toMatchObject({ MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "2", MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: "0" });
  });
});
