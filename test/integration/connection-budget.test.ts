import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { toAwsModel } from "@mlflow-dev/aws";
import { type AwsClients, createAwsClients, destroyAwsClients, send, targetFor } from "@mlflow-dev/aws/deploy";
import {
  connectionDemand,
  parseSpecOrThrow,
  peakConnections,
  RESERVED_CONNECTIONS,
  rdsMaxConnections,
  resolve,
  WORKER_CONCURRENCY_VARIABLE,
} from "@mlflow-dev/spec";
import {
  cli,
  destroyEmulated,
  EMULATOR,
  emulatedEnv,
  emulatedTaskContainers,
  emulatorAnswers,
  emulatorEnv,
  showRun,
  specFixture,
  tempDir,
  uvicornWorkers,
} from "@mlflow-dev/test-support";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const execFileAsync = promisify(execFile);

/**
 * The database's connection budget, live (issue 26): validate counts tasks at their maximum
 * (autoscaling.max, twice over during a rollout) × workers × pools × connections per pool against
 * the instance class's max_connections less a reserve (packages/spec/src/connection-budget.ts,
 * render/aws-rules.ts); the emulator runs RDS PostgreSQL with the class's max_connections (patch 14:
 * db.t4g.micro, 84).
 *
 * The smallest spec at the budget's edge: examples/basic (2 workers, db.t4g.micro) with
 * autoscaling.max 2 and desiredCount 2, the pool sized by mlflow-dev (3 kept + 1 overflow), two
 * pools per worker (MLflow's tracking and model registry stores each keep an engine):
 * 2 tasks × 2 (rollout) × 2 workers × 2 pools × 4 = 64 of 84 - 10 = 74. Promoted to the emulator
 * at its maximum, under concurrent load on both stores from more clients than the service has
 * pooled connections (2 × 2 × 2 × 4 = 32): no request fails, pg_stat_activity's peak, sampled
 * in the database's own container through its published port, stays within max_connections, and
 * each worker serves at most 3 requests at once (one fewer than a pool's connections: MLflow's
 * tracking store may hold two of a pool's connections in one request), read from the threads of
 * its process in the task's container.
 *
 * The counter-proof: the same spec with one connection more per pool (4 + 1) would open 80 at its
 * peak. No setting lets such a spec through validation (there is no override, for tests or
 * otherwise), so what is asserted is the refusal and its numbers, by validate and by promote,
 * before anything is created.
 */
const ACCOUNT = "272727272727";
const AWS_ENV = emulatorEnv(ACCOUNT);
const suffix = randomBytes(3).toString("hex");
const NAME = `itconnbudget-${suffix}`;
const OVER_NAME = `itconnover-${suffix}`;
const STACK = `mlflow-dev-${NAME}-staging`;
const SERVICE = `${NAME}-mlflow`;
const TASKS = 2;
const WORKERS = 2;
/** Requests each worker serves at once: one fewer than a pool's 3 + 1 connections. */
const CONCURRENCY = 3;
/** Concurrent clients of the load: more than the service's pooled connections (32). */
const CLIENTS = 48;
const LOAD_SECONDS = 40;

const emulatorUp = await emulatorAnswers("connection-budget.test.ts");

/** examples/basic at autoscaling max 2 (desiredCount 2) on db.t4g.micro; `env` goes to its mlflow.env. */
function budgetSpec(name: string, env?: Record<string, string>) {
  return emulatedEnv(specFixture("examples/basic").name(name), {
    account: ACCOUNT,
    settings: {
      desiredCount: TASKS,
      autoscaling: { min: 1, max: TASKS },
      database: { instanceClass: "db.t4g.micro" },
      ...(env ? { mlflow: { env } } : {}),
    },
  });
}

let dir: string;
let overDir: string;
let clients: AwsClients | undefined;
let promoted = false;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(() => {
  dir = tempDir(`mlflow-dev-${NAME}-`);
  budgetSpec(NAME).write(dir);
  overDir = tempDir(`mlflow-dev-${OVER_NAME}-`);
  budgetSpec(OVER_NAME, {
    MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "4",
    MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: "1",
  }).write(overDir);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  if (promoted) destroyEmulated(dir, AWS_ENV);
  if (clients) destroyAwsClients(clients);
}, 600_000);

describe("the connection budget at its edge (validate, no emulator)", () => {
  it("the edge spec fits: 64 connections at its peak of db.t4g.micro's 84 less the reserve of 10, and validate accepts it", () => {
    const spec = parseSpecOrThrow(readFileSync(join(dir, "mlflow-dev.yaml"), "utf8"));
    const model = toAwsModel(resolve(spec, "staging"));
    expect(model.mlflow.environment).toMatchObject({
      MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "3",
      MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: "1",
    });
    const demand = connectionDemand({ desiredCount: TASKS, autoscalingMax: TASKS, workers: WORKERS, auth: "none" });
    expect(model.mlflow.workers).toBe(WORKERS);
    expect(rdsMaxConnections("db.t4g.micro")).toBe(84);
    expect(demand.poolsPerWorker).toBe(2);
    expect(peakConnections(demand, 4)).toBe(64);
    expect(peakConnections(demand, 4)).toBeLessThanOrEqual(84 - RESERVED_CONNECTIONS);
    expect(peakConnections(demand, 5)).toBeGreaterThan(84 - RESERVED_CONNECTIONS);
    const r = cli(["validate"], { cwd: dir });
    expect(r.code, showRun(r)).toBe(0);
  });

  it("one connection more per pool (4 + 1): validate refuses it with the numbers and the fixes, exit 2", () => {
    const r = cli(["validate"], { cwd: overDir });
    expect(r.code, showRun(r)).toBe(2);
    expect(r.stderr).toContain("environments.staging.database.instanceClass");
    expect(r.stderr).toContain("db.t4g.micro allows about 84 PostgreSQL connections");
    expect(r.stderr).toContain(`${RESERVED_CONNECTIONS} kept for administrators and one-off tasks`);
    expect(r.stderr).toContain("but the service may open 80: 4 tasks (2 tasks at most (autoscaling.max)");
    expect(r.stderr).toContain(
      "x 2 workers x 2 pools per worker (the tracking and model registry stores) x 5 connections per pool",
    );
    expect(r.stderr).toContain("at most 4 connections per pool");
  });
});

describe.skipIf(!emulatorUp && !process.env.CI)("the connection budget at autoscaling max, on the emulator", () => {
  let remote: string;

  beforeAll(async () => {
    if (!emulatorUp) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    clients = await createAwsClients({
      region: AWS_ENV.AWS_REGION,
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
    });
  });

  it("promote refuses the over-budget spec before creating anything, exit 2", async () => {
    const r = cli(["promote", "--env", "staging"], { cwd: overDir, env: AWS_ENV });
    expect(r.code, showRun(r)).toBe(2);
    expect(r.stderr).toContain("but the service may open 80");
    const stacks = await clients?.cloudformation
      .describeStacks({ StackName: `mlflow-dev-${OVER_NAME}-staging` })
      .then((d) => d.Stacks ?? [])
      .catch(() => []);
    expect(stacks).toEqual([]);
  });

  it("the edge spec promoted at its maximum (2 tasks): a load from 48 clients (runs, metrics, searches, the model registry) without one failed request, and pg_stat_activity's peak within max_connections", async () => {
    const p = cli(["promote", "--env", "staging", "--json"], { cwd: dir, env: AWS_ENV, timeout: 1_200_000 });
    promoted = true;
    expect(p.code, showRun(p)).toBe(0);
    remote = JSON.parse(p.stdout).url;
    const aws = clients as AwsClients;

    // The service runs at its maximum, with the pool mlflow-dev sized.
    const service = (await aws.ecs.describeServices({ cluster: STACK, services: [SERVICE] })).services?.[0];
    expect(service).toMatchObject({ desiredCount: TASKS, runningCount: TASKS });
    const taskDefinition = (await aws.ecs.describeTaskDefinition({ taskDefinition: service?.taskDefinition }))
      .taskDefinition;
    const environment = Object.fromEntries(
      (taskDefinition?.containerDefinitions?.find((c) => c.name === "mlflow")?.environment ?? []).map((e) => [
        e.name,
        e.value,
      ]),
    );
    expect(environment).toMatchObject({
      MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "3",
      MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: "1",
      [WORKER_CONCURRENCY_VARIABLE]: String(CONCURRENCY),
    });

    // Each task's uvicorn workers (the forks of the server's main process, which imported MLflow's app) and their threads.
    const workerThreads = async (): Promise<Record<string, number>> => {
      const ids = emulatedTaskContainers(`${STACK}-mlflow`);
      const threads: Record<string, number> = {};
      for (const id of ids) {
        const top = (await execFileAsync("docker", ["top", id, "-eo", "pid,ppid,nlwp,args"])).stdout
          .split("\n")
          .slice(1)
          .map((row) => row.trim().split(/\s+/))
          .map(([pid = "", ppid = "", nlwp = "", ...args]) => ({ pid, ppid, nlwp, args: args.join(" ") }));
        for (const worker of uvicornWorkers(top).workers) threads[`${id}/${worker.pid}`] = Number(worker.nlwp);
      }
      return threads;
    };
    const idleThreads = await workerThreads();
    expect(Object.keys(idleThreads)).toHaveLength(TASKS * WORKERS);
    const peakThreads: Record<string, number> = { ...idleThreads };
    let watchingThreads = true;
    const threadWatcher = (async () => {
      while (watchingThreads) {
        for (const [worker, n] of Object.entries(await workerThreads()))
          peakThreads[worker] = Math.max(peakThreads[worker] ?? 0, n);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    // The database: its container's published port on this host, the password from Secrets Manager.
    const dbId =
      (await aws.cloudformation.describeStackResource({ StackName: STACK, LogicalResourceId: "Database" }))
        .StackResourceDetail?.PhysicalResourceId ?? "";
    const container = execFileSync("docker", ["ps", "--filter", "name=ministack-rds-", "--format", "{{.Names}}"], {
      encoding: "utf8",
    })
      .split("\n")
      .find((n) => n.endsWith(dbId));
    expect(container, `a running RDS container for ${dbId}`).toBeDefined();
    const published = execFileSync("docker", ["port", container ?? "", "5432/tcp"], { encoding: "utf8" });
    const port = Number(/:(\d+)\s*$/m.exec(published)?.[1]);
    const password =
      (await aws.secretsManager.getSecretValue({ SecretId: `mlflow-dev/${NAME}/staging/db-password` })).SecretString ??
      "";
    const db = new pg.Client({
      host: "127.0.0.1",
      port,
      user: "mlflow",
      password,
      database: "mlflow",
      ssl: { rejectUnauthorized: false },
    });
    await db.connect();
    cleanups.push(() => db.end());
    const maxConnections = Number((await db.query("SHOW max_connections")).rows[0]?.max_connections);
    expect(maxConnections).toBe(84);
    // Every client session but this one, by the address it comes from (a task's).
    const sample = async () =>
      (
        await db.query<{ addr: string; n: number }>(
          "select coalesce(client_addr::text, 'local') as addr, count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() group by 1",
        )
      ).rows;
    const before = await sample();
    let peak = 0;
    const peakByAddress: Record<string, number> = {};
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const rows = await sample();
        peak = Math.max(
          peak,
          rows.reduce((sum, r) => sum + r.n, 0),
        );
        for (const r of rows) peakByAddress[r.addr] = Math.max(peakByAddress[r.addr] ?? 0, r.n);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    // The load: each client creates runs, logs metrics, searches runs and experiments, ends its runs.
    const target = targetFor(remote, EMULATOR);
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await send(target, method, `/api/2.0/mlflow/${path}`, {
        timeoutMs: 60_000,
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
      });
      return r;
    };
    const created = await api("POST", "experiments/create", { name: `load-${suffix}` });
    expect(created.status, created.body.toString()).toBe(200);
    const experimentId = JSON.parse(created.body.toString()).experiment_id as string;
    // The model registry store keeps a pool of its own: the load reads it too.
    const model = await api("POST", "registered-models/create", { name: `load-${suffix}` });
    expect(model.status, model.body.toString()).toBe(200);
    const counts: Record<string, number> = {};
    const failures: string[] = [];
    const record = (what: string, r: { status: number; body: Buffer } | Error) => {
      const outcome = r instanceof Error ? `${what}: ${r.message}` : `${what}: ${r.status}`;
      counts[r instanceof Error ? "transport error" : String(r.status)] =
        (counts[r instanceof Error ? "transport error" : String(r.status)] ?? 0) + 1;
      if (r instanceof Error || r.status !== 200)
        failures.push(r instanceof Error ? outcome : `${outcome} ${r.body.toString().slice(0, 300)}`);
      return r instanceof Error || r.status !== 200 ? undefined : JSON.parse(r.body.toString());
    };
    const call = (what: string, method: string, path: string, body?: unknown) =>
      api(method, path, body).then(
        (r) => record(what, r),
        (e: Error) => record(what, e),
      );
    const deadline = Date.now() + LOAD_SECONDS * 1000;
    const started = Date.now();
    const client = async (n: number) => {
      let step = 0;
      while (Date.now() < deadline) {
        const run = await call("runs/create", "POST", "runs/create", {
          experiment_id: experimentId,
          run_name: `client-${n}-${step}`,
          start_time: Date.now(),
        });
        const runId = run?.run?.info?.run_id as string | undefined;
        if (runId) {
          const now = Date.now();
          await call("runs/log-batch", "POST", "runs/log-batch", {
            run_id: runId,
            metrics: Array.from({ length: 10 }, (_, i) => ({ key: `m${i}`, value: i * step, timestamp: now, step })),
            params: [{ key: "client", value: String(n) }],
          });
        }
        await call("runs/search", "POST", "runs/search", {
          experiment_ids: [experimentId],
          filter: `metrics.m1 >= 0`,
          max_results: 50,
        });
        await call("experiments/search", "POST", "experiments/search", { max_results: 20 });
        await call("registered-models/get", "GET", `registered-models/get?name=load-${suffix}`);
        await call(
          "model-versions/search",
          "GET",
          `model-versions/search?filter=${encodeURIComponent(`name='load-${suffix}'`)}`,
        );
        if (runId) await call("runs/update", "POST", "runs/update", { run_id: runId, status: "FINISHED" });
        step++;
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
    const seconds = (Date.now() - started) / 1000;
    sampling = false;
    watchingThreads = false;
    await sampler;
    await threadWatcher;
    const addedThreads = Object.fromEntries(
      Object.entries(peakThreads).map(([worker, n]) => [worker, n - (idleThreads[worker] ?? n)]),
    );

    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(
      `connection budget load: ${CLIENTS} clients, ${total} requests in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)}/s), outcomes ${JSON.stringify(counts)}; database sessions before ${JSON.stringify(before)}, peak ${peak} of max_connections ${maxConnections} (by address ${JSON.stringify(peakByAddress)}); pooled at most ${TASKS} tasks x ${WORKERS} workers x 2 stores x 4 = ${TASKS * WORKERS * 2 * 4}, ${CONCURRENCY} requests at once per worker`,
    );
    expect(failures.slice(0, 10), `${failures.length} of ${total} requests failed`).toEqual([]);
    expect(total).toBeGreaterThan(CLIENTS * 5);
    // The load opened more than one connection per worker, and never more than the database allows.
    expect(peak).toBeGreaterThan(TASKS * WORKERS);
    expect(peak).toBeLessThanOrEqual(maxConnections - RESERVED_CONNECTIONS);
    expect(peak).toBeLessThanOrEqual(maxConnections);
    // Each worker served at most CONCURRENCY requests at once: its thread pool grew by at most that
    // many threads (MLflow's default pool, 40, would have grown by up to 12 under 48 clients on 4
    // workers), and the load reached the pool of some.
    console.log(
      `worker threads: idle ${JSON.stringify(idleThreads)}, added under load ${JSON.stringify(addedThreads)}`,
    );
    for (const [worker, added] of Object.entries(addedThreads))
      expect(added, `${worker}: threads added under load`).toBeLessThanOrEqual(CONCURRENCY);
    expect(Math.max(...Object.values(addedThreads))).toBeGreaterThan(0);
    // The load balancer spread it: both tasks' addresses held sessions.
    expect(Object.keys(peakByAddress).filter((a) => a !== "local").length).toBeGreaterThanOrEqual(TASKS);
  }, 1_800_000);
});
