/**
 * `pnpm bench --footprint`: the MLflow container's memory for workers 1/2/4 × job execution
 * off/on, each started by `mlflow-dev up` on the same local stack (PostgreSQL, MinIO) and driven by
 * the live parity workload. Idle RSS is read once the server is healthy, peak RSS is the highest
 * sample (Docker's stats stream, about one a second) from start to the end of the workload. The
 * row "workers 4, jobs on" is MLflow's own default process model. The memory model in
 * packages/spec/src/server-footprint.ts comes from this table.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkoutProject } from "../packages/compose/src/runtime/project-identity.ts";
import { healthCheck, MlflowClient, waitUntilReady } from "../packages/mlflow-client/src/index.ts";
import { runWorkload } from "../packages/parity/src/index.ts";
import { estimateServerMemory, SERVER_MEMORY_MODEL } from "../packages/spec/src/index.ts";
import { run, serviceContainer } from "./process.ts";

const MiB = 2 ** 20;

/** RSS (bytes) of one Docker stats sample: cgroup v1 total_rss, or v2 anon memory. */
export function rssOf(sample: { memory_stats?: { stats?: Record<string, number> } }): number {
  const s = sample.memory_stats?.stats ?? {};
  return s.total_rss ?? s.rss ?? s.anon ?? 0;
}

/** Streams a container's stats until stopped; keeps the highest RSS and the latest one. */
export function watchMemory(container: string) {
  let peak = 0;
  let latest = 0;
  const req = request({
    socketPath: "/var/run/docker.sock",
    path: `/containers/${container}/stats?stream=true`,
  });
  req.on("response", (res) => {
    let buffer = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf("\n");
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf("\n");
        if (!line.trim()) continue;
        latest = rssOf(JSON.parse(line));
        peak = Math.max(peak, latest);
      }
    });
  });
  req.on("error", () => {});
  req.end();
  return {
    peak: () => peak,
    latest: () => latest,
    stop: () => req.destroy(),
  };
}

async function waitHealthy(url: string, timeoutMs: number): Promise<void> {
  await waitUntilReady(new MlflowClient(url), {
    timeoutMs,
    intervalMs: 500,
    checks: [healthCheck({ timeoutMs: 2000 })],
  });
}

export async function footprint(root: string, node: string, bin: string): Promise<void> {
  const basic = readFileSync(join(root, "examples/basic/mlflow-dev.yaml"), "utf8");
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-bench-footprint-"));
  const port = 5070;
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env };
  // Room for every configuration, so none is killed while it is measured.
  const size = { cpu: 2048, memory: 8192 };
  const specFor = (workers: number, jobs: boolean) =>
    basic
      .replace(/^name: .*$/m, "name: benchfootprint")
      .replace(/^ {2}workers: \d+$/m, `  workers: ${workers}\n  jobs: ${jobs}`)
      // The local stack alone: no AWS environment whose size would refuse a configuration.
      .replace(/^ {2}staging:\n[\s\S]*$/m, "")
      .replace(
        /^ {2}local:\n {4}ports:\n {6}mlflow: \d+$/m,
        `  local:\n    resources: { cpu: ${size.cpu}, memory: ${size.memory} }\n    ports: { mlflow: ${port}, minio: 9070, minioConsole: 9071, postgres: 5472 }`,
      );
  const configs = [1, 2, 4].flatMap((workers) => [false, true].map((jobs) => ({ workers, jobs })));
  const rows: { label: string; idle: number; peak: number; estimate: number }[] = [];
  // The stack's compose project (its checkout's); what an interrupted earlier run left behind is in
  // another directory, so under another project.
  const project = checkoutProject("benchfootprint", dir);
  const removeProject = () => spawnSync("docker", ["compose", "-p", project, "down", "--volumes"], { stdio: "ignore" });
  removeProject();
  try {
    for (const { workers, jobs } of configs) {
      writeFileSync(join(dir, "mlflow-dev.yaml"), specFor(workers, jobs));
      run(node, [bin, "up"], { cwd: dir, env });
      const container = serviceContainer(project, "mlflow");
      if (!container) throw new Error(`bench --footprint: no mlflow container in compose project ${project}`);
      const memory = watchMemory(container);
      await waitHealthy(url, 300_000);
      // Let the workers finish importing, then read the idle figure.
      await new Promise((r) => setTimeout(r, 10_000));
      const idle = memory.latest();
      await runWorkload(new MlflowClient(url), { token: `bench-fp-${workers}-${jobs ? "on" : "off"}` });
      await new Promise((r) => setTimeout(r, 2_000));
      memory.stop();
      const label = `workers ${workers}, jobs ${jobs ? "on " : "off"}${workers === 4 && jobs ? " (MLflow's defaults)" : ""}`;
      rows.push({
        label,
        idle: idle / MiB,
        peak: memory.peak() / MiB,
        estimate: estimateServerMemory({ workers, jobs }),
      });
      console.error(`  measured ${label}`);
    }
  } finally {
    removeProject();
  }
  const base = rows.find((r) => r.label.startsWith("workers 4, jobs on"))?.peak ?? 1;
  console.log(
    `\nMLflow container memory under the live parity workload (limits cpu ${size.cpu}, memory ${size.memory} MiB)`,
  );
  console.log(
    `  ${"configuration".padEnd(38)} ${"idle RSS".padStart(9)} ${"peak RSS".padStart(9)} ${"model".padStart(7)}   peak vs MLflow's defaults`,
  );
  for (const r of rows)
    console.log(
      `  ${r.label.padEnd(38)} ${`${r.idle.toFixed(0)} MiB`.padStart(9)} ${`${r.peak.toFixed(0)} MiB`.padStart(9)} ${`${r.estimate}`.padStart(7)}   ${(r.peak / base).toFixed(2)}x`,
    );
  console.log(
    `  model: packages/spec/src/server-footprint.ts (MLflow ${SERVER_MEMORY_MODEL.mlflowVersion}, ${SERVER_MEMORY_MODEL.measuredOn})`,
  );
}
