import { request } from "node:http";
import { MLFLOW_CONTAINER_PORT, SERVER_PROGRAM, WORKER_CONCURRENCY_VARIABLE } from "@mlflow-dev/spec";
import { rssOf } from "./footprint.ts";
import { median, run } from "./process.ts";

/**
 * `pnpm bench --server-start`: what a server with WORKERS workers costs to start, side by side in
 * one run: MLflow's own `mlflow server` (uvicorn spawns each worker, which imports MLflow again)
 * against mlflow-dev's SERVER_PROGRAM (one import of MLflow: MLflow's CLI runs in a fork of the
 * process that imported it, which then runs uvicorn, and the workers fork from it). Each start is a container of the server image (SQLite under /tmp, job execution off, the
 * same flags), ROUNDS rounds interleaved; measured from the engine: the container's CPU time until
 * /health answers 200 and SETTLE_MS after, and its memory then (RSS).
 */
const WORKERS = 2;
const ROUNDS = 3;
const SETTLE_MS = 3_000;
const PORT = 5091;

/** One sample of the engine's stats for a container: CPU nanoseconds so far and RSS bytes. */
function stats(container: string): Promise<{ cpuNs: number; rssBytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: "/var/run/docker.sock", path: `/containers/${container}/stats?stream=false` });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        const s = JSON.parse(body);
        resolve({ cpuNs: s.cpu_stats?.cpu_usage?.total_usage ?? 0, rssBytes: rssOf(s) });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

async function healthy(deadline: number): Promise<void> {
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${PORT}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error("bench --server-start: the server did not answer /health in 3 minutes");
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts one server the given way; returns its CPU seconds and RSS MiB once healthy and settled. */
async function start(image: string, program: string[]): Promise<{ cpuSeconds: number; rssMiB: number }> {
  const flags = ["server", "--host", "0.0.0.0", "--port", String(MLFLOW_CONTAINER_PORT), "--workers", String(WORKERS)];
  const container = run("docker", [
    "run",
    "-d",
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--init",
    "-p",
    `127.0.0.1:${PORT}:${MLFLOW_CONTAINER_PORT}`,
    "-e",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false",
    "-e",
    `${WORKER_CONCURRENCY_VARIABLE}=4`,
    "--entrypoint",
    program[0] ?? "",
    image,
    ...program.slice(1),
    ...flags,
    "--backend-store-uri",
    "sqlite:////tmp/bench.db",
  ]);
  try {
    await healthy(Date.now() + 180_000);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const s = await stats(container);
    return { cpuSeconds: s.cpuNs / 1e9, rssMiB: s.rssBytes / 2 ** 20 };
  } finally {
    run("docker", ["rm", "-f", container]);
  }
}

export async function serverStart(image: string): Promise<void> {
  const cases: Record<string, string[]> = {
    "mlflow server (uvicorn spawns each worker)": ["mlflow"],
    "SERVER_PROGRAM (one import for the CLI and the workers)": ["python", "-c", SERVER_PROGRAM],
  };
  const samples: Record<string, { cpu: number[]; rss: number[] }> = Object.fromEntries(
    Object.keys(cases).map((k) => [k, { cpu: [], rss: [] }]),
  );
  for (let round = 0; round < ROUNDS; round++)
    for (const [name, program] of Object.entries(cases)) {
      const r = await start(image, program);
      samples[name]?.cpu.push(r.cpuSeconds);
      samples[name]?.rss.push(r.rssMiB);
    }
  const rows = Object.entries(samples).map(([name, s]) => ({ name, cpu: median(s.cpu), rss: median(s.rss) }));
  const base = rows[0] ?? { cpu: 1, rss: 1 };
  console.log(
    `\nserver start, ${WORKERS} workers: CPU until /health answers (+${SETTLE_MS / 1000} s) and RSS then (median of ${ROUNDS}, in ${image})`,
  );
  for (const r of rows)
    console.log(
      `  ${r.name.padEnd(48)} ${r.cpu.toFixed(2).padStart(6)} s CPU  ${(r.cpu / base.cpu).toFixed(2)}x   ${r.rss.toFixed(0).padStart(5)} MiB  ${(r.rss / base.rss).toFixed(2)}x`,
    );
}
