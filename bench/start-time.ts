/**
 * `pnpm bench --start-time`: how long the MLflow server takes from its container's start to its
 * first GET /health 200 at each Fargate size, the figures SERVER_START_TIMES
 * (packages/spec/src/server-start.ts) holds and the health check's start period is derived from.
 *
 * For each size, examples/basic runs as a local stack whose MLflow container has that size's CPU
 * quota and memory limit and the workers the size runs by default (or examples/basic's own 2 at
 * 0.5 vCPU), with its PostgreSQL and MinIO up: the server's own start, as after a task's image is
 * on the host. Each round stops the server's container, starts it and polls /health every 100 ms
 * (--rounds N, default 3). Median and maximum are printed. Nothing here is asserted.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkoutProject } from "../packages/compose/src/runtime/project-identity.ts";
import { healthCheck, MlflowClient, waitUntilReady } from "../packages/mlflow-client/src/index.ts";
import { flag, median, run, serviceContainer } from "./process.ts";

const CONFIGURATIONS = [
  { cpu: 512, memory: 1024, workers: 1 },
  { cpu: 512, memory: 1024, workers: 2 },
  { cpu: 1024, memory: 2048, workers: 2 },
  { cpu: 2048, memory: 4096, workers: 4 },
] as const;

export async function startTime(root: string, node: string, bin: string): Promise<void> {
  const rounds = flag("--rounds", 3);
  const name = "benchstarttime";
  const port = 5071;
  const url = `http://127.0.0.1:${port}`;
  const basic = readFileSync(join(root, "examples/basic/mlflow-dev.yaml"), "utf8");
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-bench-start-time-"));
  const project = checkoutProject(name, dir);
  const results: { cpu: number; workers: number; samples: number[] }[] = [];
  try {
    for (const c of CONFIGURATIONS) {
      writeFileSync(
        join(dir, "mlflow-dev.yaml"),
        basic
          .replace(/^name: .*$/m, `name: ${name}`)
          .replace(/^ {2}workers: \d+$/m, `  workers: ${c.workers}`)
          .replace(/^ {6}mlflow: 5050$/m, `      mlflow: ${port}`)
          .replace(/^ {4}cpu: \d+$/m, `    cpu: ${c.cpu}`)
          .replace(/^ {4}memory: \d+$/m, `    memory: ${c.memory}`),
      );
      run(node, [bin, "up"], { cwd: dir });
      const server = serviceContainer(project, "mlflow");
      const inspected = run("docker", ["inspect", "-f", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}", server]);
      if (inspected !== `${(c.cpu / 1024) * 1e9} ${c.memory * 2 ** 20}`)
        throw new Error(`the server container runs with ${inspected}, not ${c.cpu} CPU units and ${c.memory} MiB`);
      const samples: number[] = [];
      for (let i = 0; i < rounds; i++) {
        run("docker", ["stop", server]);
        const t0 = performance.now();
        run("docker", ["start", server]);
        await waitUntilReady(new MlflowClient(url), {
          timeoutMs: 300_000,
          intervalMs: 100,
          checks: [healthCheck({ timeoutMs: 1000 })],
        });
        samples.push((performance.now() - t0) / 1000);
      }
      results.push({ cpu: c.cpu, workers: c.workers, samples });
      console.log(`  ${c.cpu} CPU units, ${c.workers} worker(s): ${samples.map((s) => s.toFixed(1)).join(", ")} s`);
    }
  } finally {
    spawnSync(node, [bin, "down", "--volumes", "--yes"], { cwd: dir, stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `\nMLflow server, docker start to /health 200 (${rounds} rounds, ${new Date().toISOString().slice(0, 10)})`,
  );
  console.log("  cpu   workers   median   max");
  for (const r of results)
    console.log(
      `  ${String(r.cpu).padEnd(5)} ${String(r.workers).padEnd(9)} ${median(r.samples).toFixed(1).padStart(5)} s ${Math.max(
        ...r.samples,
      )
        .toFixed(1)
        .padStart(5)} s`,
    );
}
