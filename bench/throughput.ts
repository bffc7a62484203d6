/**
 * `pnpm bench --throughput`: the generated MLflow server against MLflow's reference configuration
 * (`mlflow server --serve-artifacts` with MLflow's defaults: 4 workers, job execution on), on the
 * same PostgreSQL (a database each) and the same MinIO (a prefix each), with equal CPU and memory
 * limits (environments.local.resources of the bench spec: 2 vCPU, 4 GiB, which the reference
 * needs), from the same image.
 *
 * Interleaved rounds (--rounds N, default 3) of --seconds S (default 20) each: 8 concurrent
 * clients each doing runs/create + runs/log-batch (100 metrics, 10 params) + runs/get. Then a
 * 32 MiB artifact up and down through the proxy (median of 5 each, the servers taking turns), and
 * runs/search latency once each database holds --search-runs N runs (default 10,000; copied in
 * SQL from runs the API created, with their metrics). Peak RSS from Docker's stats stream; the
 * PostgreSQL sessions each server opened during the rounds (pg_stat_database.sessions). --workers
 * N sets the generated server's workers (default: mlflow-dev's default for the CPU). --pin runs
 * both servers at 1 vCPU on the host's last CPU and everything else on the others. Nothing is
 * asserted: ratios are printed.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { checkoutProject } from "../packages/compose/src/runtime/project-identity.ts";
import { healthCheck, MlflowClient, waitUntilReady } from "../packages/mlflow-client/src/index.ts";
import { watchMemory } from "./footprint.ts";
import { flag, median, percentile, run } from "./process.ts";

const CLIENTS = 8;
const MiB = 2 ** 20;

interface Round {
  runs: number;
  seconds: number;
  logBatchMs: number[];
}

/** CLIENTS loops of create + log-batch + get for `seconds`. */
async function trackingRound(client: MlflowClient, experimentId: string, seconds: number): Promise<Round> {
  const deadline = performance.now() + seconds * 1000;
  const logBatchMs: number[] = [];
  let runs = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, worker) => {
      while (performance.now() < deadline) {
        const { runId } = await client.createRun(experimentId, `bench-${worker}-${runs}`);
        const now = Date.now();
        const b0 = performance.now();
        await client.call("POST", "runs/log-batch", {
          run_id: runId,
          metrics: Array.from({ length: 100 }, (_, i) => ({
            key: `m${i % 10}`,
            value: Math.random(),
            timestamp: now,
            step: i,
          })),
          params: Array.from({ length: 10 }, (_, i) => ({ key: `p${i}`, value: String(i) })),
        });
        logBatchMs.push(performance.now() - b0);
        await client.getRun(runId);
        runs++;
      }
    }),
  );
  return { runs, seconds: (performance.now() - t0) / 1000, logBatchMs };
}

/** The database grows to `total` runs by copying the experiment's runs and their metrics and params in SQL. */
function growRuns(pg: string, user: string, database: string, experimentId: string, total: number): number {
  const sql = `
DO $$
DECLARE have integer; BEGIN
  SELECT count(*) INTO have FROM runs WHERE experiment_id = ${Number(experimentId)};
  WHILE have < ${total} LOOP
    CREATE TEMP TABLE copies AS
      SELECT r.run_uuid AS source, md5(random()::text || clock_timestamp()::text || r.run_uuid) AS target
      FROM runs r WHERE r.experiment_id = ${Number(experimentId)} LIMIT ${total} - have;
    INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time,
                      end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time)
      SELECT c.target, r.name, r.source_type, r.source_name, r.entry_point_name, r.user_id, r.status, r.start_time,
             r.end_time, r.source_version, r.lifecycle_stage, r.artifact_uri, r.experiment_id, r.deleted_time
      FROM runs r JOIN copies c ON c.source = r.run_uuid;
    INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)
      SELECT m.key, m.value, m.timestamp, m.step, m.is_nan, c.target FROM latest_metrics m JOIN copies c ON c.source = m.run_uuid;
    INSERT INTO params (key, value, run_uuid)
      SELECT p.key, p.value, c.target FROM params p JOIN copies c ON c.source = p.run_uuid;
    DROP TABLE copies;
    SELECT count(*) INTO have FROM runs WHERE experiment_id = ${Number(experimentId)};
  END LOOP;
END $$;
SELECT count(*) FROM runs WHERE experiment_id = ${Number(experimentId)};`;
  const out = run("docker", ["exec", "-i", pg, "psql", "-U", user, "-d", database, "-tAq", "-v", "ON_ERROR_STOP=1"], {
    input: sql,
  });
  return Number(out.split("\n").pop());
}

async function searchLatency(client: MlflowClient, experimentId: string): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await client.call("POST", "runs/search", {
      experiment_ids: [experimentId],
      filter: "metrics.m3 > 0.5 and params.p1 = '1'",
      order_by: ["metrics.m3 DESC"],
      max_results: 100,
    });
    ms.push(performance.now() - t0);
  }
  return ms;
}

/**
 * A 32 MiB artifact up and down through each server's proxy: the median of 5 of each, after one
 * of each that is not counted (each worker creates its S3 client on its first artifact request).
 * The servers take turns sample by sample, so neither runs all its samples while the disk is
 * still writing back what the other just did.
 */
async function artifactRates(
  servers: Record<string, { client: MlflowClient }>,
  experiments: Record<string, string>,
): Promise<Record<string, { up: number; down: number }>> {
  const data = new Uint8Array(randomBytes(32 * MiB));
  const rates: Record<string, { uri: string; ups: number[]; downs: number[] }> = {};
  for (const [k, s] of Object.entries(servers))
    rates[k] = {
      uri: (await s.client.createRun(experiments[k] ?? "", "bench-artifact")).artifactUri,
      ups: [],
      downs: [],
    };
  for (let i = 0; i < 6; i++)
    for (const [k, s] of i % 2 === 0 ? Object.entries(servers) : Object.entries(servers).reverse()) {
      const r = rates[k]!;
      const u0 = performance.now();
      await s.client.uploadArtifact(r.uri, `blob-${i}.bin`, data);
      const up = 32 / ((performance.now() - u0) / 1000);
      const d0 = performance.now();
      const back = await s.client.downloadArtifact(r.uri, `blob-${i}.bin`);
      const down = 32 / ((performance.now() - d0) / 1000);
      if (back.length !== data.length) throw new Error(`artifact came back with ${back.length} bytes`);
      if (i === 0) continue;
      r.ups.push(up);
      r.downs.push(down);
    }
  return Object.fromEntries(Object.entries(rates).map(([k, r]) => [k, { up: median(r.ups), down: median(r.downs) }]));
}

export async function throughput(root: string, node: string, bin: string): Promise<void> {
  const rounds = flag("--rounds", 3);
  const seconds = flag("--seconds", 20);
  const searchRuns = flag("--search-runs", 10_000);
  // --pin: each server gets the host's last CPU to itself (1 vCPU), PostgreSQL, MinIO and this
  // load generator the others, so the server rather than what shares its cores is the limit.
  const pin = process.argv.includes("--pin");
  const cpus = availableParallelism();
  if (pin && cpus < 2) throw new Error(`--pin needs at least 2 CPUs; this machine has ${cpus}`);
  const serverCpus = String(cpus - 1);
  const otherCpus = cpus === 2 ? "0" : `0-${cpus - 2}`;
  const name = "benchtp";
  const ports = { mlflow: 5150, minio: 9150, minioConsole: 9151, postgres: 5532 };
  const referencePort = 5151;
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-bench-throughput-"));
  const project = checkoutProject(name, dir);
  const spec = readFileSync(join(root, "examples/basic/mlflow-dev.yaml"), "utf8")
    .replace(/^name: .*$/m, `name: ${name}`)
    // Workers: the default for the CPU, or --workers N (to compare settings in one run each).
    .replace(/^ {2}workers: \d+\n/m, process.argv.includes("--workers") ? `  workers: ${flag("--workers", 0)}\n` : "")
    .replace(
      /^ {2}local:\n {4}ports:\n {6}mlflow: \d+\n/m,
      `  local:\n    ports:\n${Object.entries(ports)
        .map(([k, v]) => `      ${k}: ${v}\n`)
        .join("")}    resources:\n      cpu: ${pin ? 1024 : 2048}\n      memory: 4096\n`,
    );
  writeFileSync(join(dir, "mlflow-dev.yaml"), spec);
  const cli = (...args: string[]) => run(node, [bin, ...args], { cwd: dir });
  const reference = `${project}-reference`;
  try {
    cli("down", "--volumes", "--yes");
    cli("up");
    const env = Object.fromEntries(
      readFileSync(join(dir, ".mlflow-dev/.env"), "utf8")
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    const container = (service: string) =>
      run("docker", [
        "ps",
        "-q",
        "--filter",
        `label=com.docker.compose.project=${project}`,
        "--filter",
        `label=com.docker.compose.service=${service}`,
      ]);
    const pg = container("postgres");
    const generated = container("mlflow");
    if (pin) {
      run("docker", ["update", "--cpuset-cpus", otherCpus, pg, container("minio"), container("network")]);
      run("docker", ["update", "--cpuset-cpus", serverCpus, generated]);
      run("taskset", ["-a", "-cp", otherCpus, String(process.pid)]);
    }
    const network = JSON.parse(run("docker", ["inspect", pg, "--format", "{{json .NetworkSettings.Networks}}"]));
    const networkName = Object.keys(network)[0] ?? "";
    run("docker", ["exec", pg, "psql", "-U", "mlflow", "-d", "mlflow", "-qc", "CREATE DATABASE reference"]);
    const image = run("docker", ["inspect", generated, "--format", "{{.Config.Image}}"]);
    const limits = JSON.parse(run("docker", ["inspect", generated, "--format", "{{json .HostConfig}}"]));
    spawnSync("docker", ["rm", "-f", reference], { stdio: "ignore" });
    // MLflow's reference setup: its defaults, the root key of the object store, the proxy on.
    run("docker", [
      "run",
      "-d",
      "--name",
      reference,
      "--network",
      networkName,
      "-p",
      `127.0.0.1:${referencePort}:5000`,
      "--cpus",
      String(limits.NanoCpus / 1e9),
      ...(pin ? ["--cpuset-cpus", serverCpus] : []),
      "--memory",
      String(limits.Memory),
      "--memory-swap",
      String(limits.Memory),
      "-e",
      `MLFLOW_S3_ENDPOINT_URL=http://network:${ports.minio}`,
      "-e",
      `AWS_ACCESS_KEY_ID=${env.MLFLOW_DEV_MINIO_ROOT_USER}`,
      "-e",
      `AWS_SECRET_ACCESS_KEY=${env.MLFLOW_DEV_MINIO_ROOT_PASSWORD}`,
      "-e",
      "AWS_DEFAULT_REGION=us-east-1",
      "--entrypoint",
      "mlflow",
      image,
      "server",
      "--host",
      "0.0.0.0",
      "--port",
      "5000",
      "--backend-store-uri",
      `postgresql+psycopg2://mlflow:${env.MLFLOW_DEV_DB_PASSWORD}@postgres:5432/reference`,
      "--serve-artifacts",
      "--artifacts-destination",
      "s3://mlflow-artifacts/reference",
    ]);
    const servers = {
      generated: { client: new MlflowClient(`http://127.0.0.1:${ports.mlflow}`), container: generated, db: "mlflow" },
      reference: {
        client: new MlflowClient(`http://127.0.0.1:${referencePort}`),
        container: reference,
        db: "reference",
      },
    };
    for (const s of Object.values(servers))
      await waitUntilReady(s.client, {
        timeoutMs: 300_000,
        intervalMs: 500,
        checks: [healthCheck({ timeoutMs: 2000 })],
      });

    const memory = Object.fromEntries(Object.entries(servers).map(([k, s]) => [k, watchMemory(s.container)]));
    const experiments: Record<string, string> = {};
    for (const [k, s] of Object.entries(servers))
      experiments[k] = await s.client.createExperiment(`bench-${Date.now()}`);
    const results: Record<string, Round[]> = { generated: [], reference: [] };
    for (const [k, s] of Object.entries(servers)) await trackingRound(s.client, experiments[k] ?? "", 3); // warm-up
    // PostgreSQL sessions each server opens during the rounds (a pool too small for the requests
    // a worker serves at once opens and closes one per request).
    const sessions = (db: string) =>
      Number(
        run("docker", [
          "exec",
          pg,
          "psql",
          "-U",
          "mlflow",
          "-d",
          "mlflow",
          "-tAc",
          `SELECT sessions FROM pg_stat_database WHERE datname = '${db}'`,
        ]),
      );
    const opened: Record<string, number> = { generated: 0, reference: 0 };
    for (let i = 0; i < rounds; i++)
      for (const [k, s] of i % 2 === 0 ? Object.entries(servers) : Object.entries(servers).reverse()) {
        const before = sessions(s.db);
        results[k]?.push(await trackingRound(s.client, experiments[k] ?? "", seconds));
        opened[k] = (opened[k] ?? 0) + sessions(s.db) - before;
      }
    const artifacts = await artifactRates(servers, experiments);
    const search: Record<string, { runs: number; ms: number[] }> = {};
    for (const [k, s] of Object.entries(servers)) {
      const runs = growRuns(pg, "mlflow", s.db, experiments[k] ?? "", searchRuns);
      search[k] = { runs, ms: await searchLatency(s.client, experiments[k] ?? "") };
    }
    const peaks = Object.fromEntries(Object.entries(memory).map(([k, m]) => [k, m.peak() / MiB]));
    for (const m of Object.values(memory)) m.stop();

    const row = (k: string) => {
      const rs = results[k] ?? [];
      const runs = rs.reduce((n, r) => n + r.runs, 0);
      const secs = rs.reduce((n, r) => n + r.seconds, 0);
      const lat = rs.flatMap((r) => r.logBatchMs);
      return {
        "runs/s": runs / secs,
        "metrics/s": (runs * 100) / secs,
        "log-batch p50 ms": percentile(lat, 50),
        "log-batch p95 ms": percentile(lat, 95),
        "PostgreSQL sessions opened per 100 runs": ((opened[k] ?? 0) * 100) / runs,
        "artifact up MB/s": artifacts[k]?.up ?? Number.NaN,
        "artifact down MB/s": artifacts[k]?.down ?? Number.NaN,
        [`runs/search p50 ms (${search[k]?.runs} runs)`]: percentile(search[k]?.ms ?? [], 50),
        "peak RSS MiB": peaks[k] ?? Number.NaN,
        "runs/s per GiB of peak RSS": runs / secs / ((peaks[k] ?? Number.NaN) / 1024),
      };
    };
    const g = row("generated");
    const r = row("reference");
    console.log(
      `\nTracking throughput (${rounds} interleaved rounds of ${seconds} s, ${CLIENTS} clients; both servers ${limits.NanoCpus / 1e9} vCPU, ${limits.Memory / MiB} MiB${pin ? `, on CPU ${serverCpus}; PostgreSQL, MinIO and the clients on ${otherCpus}` : ""})`,
    );
    for (const [k, rs] of Object.entries(results))
      console.log(
        `  ${`${k} runs/s by round:`.padEnd(30)} ${rs.map((x) => (x.runs / x.seconds).toFixed(1)).join("  ")}`,
      );
    console.log(`  ${"".padEnd(44)} ${"generated".padStart(12)} ${"reference".padStart(12)}   ratio`);
    for (const key of Object.keys(g)) {
      const a = g[key as keyof typeof g] as number;
      const b = Object.values(r)[Object.keys(g).indexOf(key)] as number;
      console.log(
        `  ${key.padEnd(44)} ${a.toFixed(1).padStart(12)} ${b.toFixed(1).padStart(12)}   ${(a / b).toFixed(2)}x`,
      );
    }
  } finally {
    spawnSync("docker", ["rm", "-f", reference], { stdio: "ignore" });
    spawnSync(node, [bin, "down", "--volumes", "--yes"], { cwd: dir, stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
}
