/**
 * `pnpm bench --auth`: the cost of `auth: basic`. Local stacks of examples/basic (the staging task
 * size, 0.5 vCPU and 1 GiB, 2 workers), the same spec with `auth: none`, with `auth: basic` (the
 * credential cache at its default TTL) and with `auth: basic` and `authCacheTtlSeconds: 0`
 * (MLflow's own default: the password hash on every request), running side by side and measured
 * in one run:
 *
 * - one authenticated request: GET experiments/search?max_results=1, one at a time, the median of
 *   --requests N (default 20) after 5 not counted (the issue's measurement);
 * - interleaved rounds (--rounds N, default 3) of --seconds S (default 15) with 4 clients each
 *   doing experiments/search + runs/create + runs/log-batch (10 metrics) + runs/get: requests/s,
 *   p50/p95 latency of every request, and the server container's CPU time per request (its
 *   cgroup's usage before and after each round).
 *
 * The check: an authenticated request at most 1.25x an unauthenticated one once the cache is warm
 * (the medians of the first measurement). The benchmark exits 1 when it is not.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkoutProject } from "../packages/compose/src/runtime/project-identity.ts";
import { MlflowClient } from "../packages/mlflow-client/src/index.ts";
import { flag, median, percentile, run } from "./process.ts";

const CLIENTS = 4;
/** The largest cost of an authenticated request, as a multiple of an unauthenticated one, with the cache warm. */
export const AUTH_COST_LIMIT = 1.25;

/** The container's CPU time so far, in seconds (Docker's stats, one sample). */
function cpuSeconds(container: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: "/var/run/docker.sock", path: `/containers/${container}/stats?stream=false` },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          try {
            resolve(Number(JSON.parse(text).cpu_stats.cpu_usage.total_usage) / 1e9);
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

interface Variant {
  label: string;
  name: string;
  /** What replaces `  auth: none` in the spec. */
  auth: string;
  port: number;
}

interface Round {
  requests: number;
  seconds: number;
  latencyMs: number[];
  cpuSeconds: number;
}

async function timedCall(latency: number[], fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await fn();
  latency.push(performance.now() - t0);
}

/** CLIENTS loops of search + create + log-batch + get for `seconds`. */
async function round(client: MlflowClient, container: string, experimentId: string, seconds: number): Promise<Round> {
  const deadline = performance.now() + seconds * 1000;
  const latencyMs: number[] = [];
  const cpu0 = await cpuSeconds(container);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await timedCall(latencyMs, () => client.call("GET", "experiments/search", { max_results: 1 }));
        let runId = "";
        await timedCall(latencyMs, async () => {
          runId = (await client.createRun(experimentId, `bench-${worker}-${i}`)).runId;
        });
        const now = Date.now();
        await timedCall(latencyMs, () =>
          client.call("POST", "runs/log-batch", {
            run_id: runId,
            metrics: Array.from({ length: 10 }, (_, k) => ({
              key: `m${k}`,
              value: Math.random(),
              timestamp: now,
              step: 0,
            })),
          }),
        );
        await timedCall(latencyMs, () => client.getRun(runId));
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { requests: latencyMs.length, seconds: secs, latencyMs, cpuSeconds: (await cpuSeconds(container)) - cpu0 };
}

export async function authCost(root: string, node: string, bin: string): Promise<boolean> {
  const rounds = flag("--rounds", 3);
  const seconds = flag("--seconds", 15);
  const requests = flag("--requests", 20);
  const variants: Variant[] = [
    { label: "auth: none", name: "benchauthnone", auth: "  auth: none", port: 5160 },
    { label: "auth: basic (cache 60 s)", name: "benchauthbasic", auth: "  auth: basic", port: 5161 },
    {
      label: "auth: basic, cache off",
      name: "benchauthoff",
      auth: "  auth: basic\n  authCacheTtlSeconds: 0",
      port: 5162,
    },
  ];
  const base = readFileSync(join(root, "examples/basic/mlflow-dev.yaml"), "utf8");
  const dirs: string[] = [];
  try {
    const servers = [];
    for (const [i, v] of variants.entries()) {
      const dir = mkdtempSync(join(tmpdir(), `mlflow-dev-bench-${v.name}-`));
      dirs.push(dir);
      const ports = { mlflow: v.port, minio: 9160 + 2 * i, minioConsole: 9161 + 2 * i, postgres: 5542 + i };
      writeFileSync(
        join(dir, "mlflow-dev.yaml"),
        base
          .replace(/^name: .*$/m, `name: ${v.name}`)
          .replace(/^ {2}auth: none$/m, v.auth)
          .replace(
            /^ {2}local:\n {4}ports:\n {6}mlflow: \d+\n/m,
            `  local:\n    ports:\n${Object.entries(ports)
              .map(([k, p]) => `      ${k}: ${p}\n`)
              .join("")}`,
          ),
      );
      run(node, [bin, "down", "--volumes", "--yes"], { cwd: dir });
      run(node, [bin, "up"], { cwd: dir });
      const env = Object.fromEntries(
        readFileSync(join(dir, ".mlflow-dev/.env"), "utf8")
          .split("\n")
          .filter((l) => l.includes("="))
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      const container = run("docker", [
        "ps",
        "-q",
        "--filter",
        `label=com.docker.compose.project=${checkoutProject(v.name, dir)}`,
        "--filter",
        "label=com.docker.compose.service=mlflow",
      ]);
      const password = env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD;
      const client = new MlflowClient(`http://127.0.0.1:${v.port}`, {
        ...(password ? { credentials: { username: "admin", password } } : {}),
      });
      servers.push({ ...v, client, container });
    }
    const limits = JSON.parse(
      run("docker", ["inspect", servers[0]?.container ?? "", "--format", "{{json .HostConfig}}"]),
    );

    // One request at a time, the servers taking turns request by request.
    const single: Record<string, number[]> = Object.fromEntries(servers.map((s) => [s.label, []]));
    const search = (c: MlflowClient) => c.call("GET", "experiments/search", { max_results: 1 });
    for (let i = 0; i < requests + 5; i++)
      for (const s of servers) {
        const t0 = performance.now();
        await search(s.client);
        if (i >= 5) single[s.label]?.push(performance.now() - t0);
      }

    const experiments = new Map<string, string>();
    for (const s of servers) experiments.set(s.label, await s.client.createExperiment(`bench-${Date.now()}`));
    for (const s of servers) await round(s.client, s.container, experiments.get(s.label) ?? "", 3); // warm-up
    const results: Record<string, Round[]> = Object.fromEntries(servers.map((s) => [s.label, []]));
    for (let i = 0; i < rounds; i++)
      for (const s of i % 2 === 0 ? servers : [...servers].reverse())
        results[s.label]?.push(await round(s.client, s.container, experiments.get(s.label) ?? "", seconds));

    const rows = servers.map((s) => {
      const rs = results[s.label] ?? [];
      const n = rs.reduce((a, r) => a + r.requests, 0);
      const secs = rs.reduce((a, r) => a + r.seconds, 0);
      const lat = rs.flatMap((r) => r.latencyMs);
      const cpu = rs.reduce((a, r) => a + r.cpuSeconds, 0);
      return {
        label: s.label,
        values: {
          "one request at a time: search, median ms": median(single[s.label] ?? []),
          "requests/s": n / secs,
          "latency p50 ms": percentile(lat, 50),
          "latency p95 ms": percentile(lat, 95),
          "server CPU ms per request": (cpu * 1000) / n,
          "server CPU use (vCPU)": cpu / secs,
        },
      };
    });
    console.log(
      `\nThe cost of auth: basic (examples/basic at ${limits.NanoCpus / 1e9} vCPU, ${limits.Memory / 2 ** 20} MiB, 2 workers; ${requests} single requests each; ${rounds} interleaved rounds of ${seconds} s, ${CLIENTS} clients)`,
    );
    console.log(`  ${"".padEnd(42)} ${rows.map((r) => r.label.padStart(26)).join(" ")}`);
    const none = rows[0]?.values;
    for (const key of Object.keys(none ?? {}) as (keyof NonNullable<typeof none>)[])
      console.log(
        `  ${key.padEnd(42)} ${rows
          .map((r) => {
            const v = r.values[key];
            const ratio = none ? v / none[key] : Number.NaN;
            return `${v.toFixed(1)}${r === rows[0] ? "" : ` (${ratio.toFixed(2)}x)`}`.padStart(26);
          })
          .join(" ")}`,
      );
    const ratio =
      (rows[1]?.values["one request at a time: search, median ms"] ?? Number.NaN) /
      (none?.["one request at a time: search, median ms"] ?? Number.NaN);
    const ok = ratio <= AUTH_COST_LIMIT;
    console.log(
      `  check: an authenticated request costs ${ratio.toFixed(2)}x an unauthenticated one (limit ${AUTH_COST_LIMIT}x): ${ok ? "ok" : "FAILED"}`,
    );
    return ok;
  } finally {
    for (const dir of dirs) {
      run(node, [bin, "down", "--volumes", "--yes"], { cwd: dir });
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
