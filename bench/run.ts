/**
 * Benchmarks, measured side by side in one run and reported as ratios (never asserted in tests).
 *   pnpm bench            CLI start-up: --help and render against bare `node -e 0`
 *   pnpm bench --stack    also `mlflow-dev up` (cold and warm) against `docker compose up --wait`
 *                         (--rounds N, default 3)
 *   pnpm bench --promote  also `mlflow-dev promote` on the AWS emulator (bash localstack/start.sh):
 *                         a full promote of examples/basic staging, no-op re-promotes, plan, destroy;
 *                         each promote split into waiting on AWS and mlflow-dev's own work (--json timings)
 *   pnpm bench --footprint also the MLflow container's idle and peak memory for workers 1/2/4 x
 *                         job execution off/on under the live parity workload (bench/footprint.ts)
 *   pnpm bench --startup  also `mlflow-dev up` cold, warm and no-op with a timeline of every
 *                         service, against the floors measured in the same run: PostgreSQL init to
 *                         ready, schema creation, the MLflow server's start to /health (bench/startup.ts)
 *   pnpm bench --start-time also the MLflow server's start to /health 200 at each Fargate size, the
 *                         figures the health check's start period comes from (bench/start-time.ts)
 *   pnpm bench --throughput also the generated server against MLflow's reference configuration at
 *                         equal limits on the same PostgreSQL and MinIO: runs/s, metrics/s,
 *                         log-batch p50/p95, artifact MB/s, runs/search over 10,000 runs, peak RSS
 *                         (--pin: both servers at 1 vCPU on a CPU of their own)
 *   pnpm bench --auth     also the cost of `auth: basic`: examples/basic at its task size with auth none,
 *                         basic (the credential cache on) and basic with the cache off, side by side:
 *                         one request's latency, requests/s, p50/p95, server CPU; exits 1 when an
 *                         authenticated request costs more than 1.25x an unauthenticated one (bench/auth.ts)
 *   pnpm bench --large-artifact also a 1 GiB artifact's round trip (upload, download, sha256) through
 *                         the Python client on the local stack and through the emulated load
 *                         balancer, multipart and proxied, against the object store directly
 *                         (bench/large-artifact.ts; MLFLOW_DEV_BENCH_ARTIFACT_MIB sets the size)
 *   pnpm bench --health-probe also the CPU of one server health probe: mlflow-dev's (bash /dev/tcp)
 *                         against the Python one-liner it replaced, in one server container
 *                         (bench/health-probe.ts; the image from MLFLOW_DEV_IMAGES' mlflow=)
 *   pnpm bench --server-start also the CPU a 2-worker server takes to start (to /health 200) and its
 *                         memory then: MLflow's own `mlflow server` against mlflow-dev's server
 *                         program, whose workers fork from one import (bench/server-start.ts)
 *   pnpm bench --package  also the published package: pnpm pack:cli, npm install into a fresh
 *                         project, then its --help and validate against bare `node -e 0`, on each
 *                         tested Node (the target: --help within 1.5x of `node -e 0`)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { installedProject, nodeRuntimes, packCli } from "@mlflow-dev/test-support/package";
import pins from "../pins.json" with { type: "json" };
import { authCost } from "./auth.ts";
import { footprint } from "./footprint.ts";
import { healthProbe } from "./health-probe.ts";
import { largeArtifact } from "./large-artifact.ts";
import { median, type RunOptions, run, timed } from "./process.ts";
import { serverStart } from "./server-start.ts";
import { startTime } from "./start-time.ts";
import { startup } from "./startup.ts";
import { throughput } from "./throughput.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const time = (cmd: string, args: string[], options: RunOptions = {}) =>
  timed(cmd, args, { ...options, cwd: options.cwd ?? root });
const bin = join(root, "packages/cli/bin/mlflow-dev.js");
const basic = join(root, "examples/basic/mlflow-dev.yaml");

/** Interleaves the candidates so machine noise hits them alike. */
function sideBySide(cases: Record<string, () => number>, rounds: number): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const fn of Object.values(cases)) fn(); // warm the file cache
  for (let i = 0; i < rounds; i++) for (const [k, fn] of Object.entries(cases)) samples[k]?.push(fn());
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

function report(title: string, results: Record<string, number>, baseline: string) {
  const base = results[baseline] ?? 1;
  console.log(`\n${title}`);
  for (const [k, ms] of Object.entries(results))
    console.log(
      `  ${k.padEnd(50)} ${ms.toFixed(1).padStart(9)} ms   ${(ms / base).toFixed(2)}x ${k === baseline ? "(baseline)" : ""}`,
    );
}

const node = process.execPath;
report(
  `CLI start-up (median of 15, Node ${process.version})`,
  sideBySide(
    {
      "node -e 0": () => time(node, ["-e", "0"]),
      "mlflow-dev --help": () => time(node, [bin, "--help"]),
      "mlflow-dev validate (examples/basic)": () => time(node, [bin, "validate", "-f", basic]),
      "mlflow-dev render --env local": () => time(node, [bin, "render", "--env", "local", "-f", basic]),
      // The bin turns on V8's compile cache; the same command without it, for the ratio.
      "mlflow-dev render --env local (no compile cache)": () =>
        time(node, [bin, "render", "--env", "local", "-f", basic], {
          env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: "1" },
        }),
    },
    15,
  ),
  "node -e 0",
);

if (process.argv.includes("--stack")) {
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-bench-"));
  const spec = readFileSync(basic, "utf8").replace(/^name: .*$/m, "name: benchstack");
  writeFileSync(join(dir, "mlflow-dev.yaml"), spec);
  const state = join(dir, ".mlflow-dev");
  const compose = [
    "compose",
    "-p",
    "mlflow-dev-benchstack",
    "-f",
    join(state, "compose.yaml"),
    "--env-file",
    join(state, ".env"),
  ];
  const downAll = () => spawnSync("docker", [...compose, "down", "--volumes"], { stdio: "ignore" });
  const stop = () => spawnSync("docker", [...compose, "down"], { stdio: "ignore" });
  // Render the files once so plain compose has the same input.
  time(node, [bin, "render", "--env", "local", "--out", state], { cwd: dir });
  const roundsFlag = process.argv.indexOf("--rounds");
  const rounds = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : 3;
  const results: Record<string, number[]> = {
    "docker compose up --wait (cold)": [],
    "mlflow-dev up (cold)": [],
    "docker compose up --wait (warm)": [],
    "mlflow-dev up (warm)": [],
  };
  let noop = Number.NaN;
  try {
    for (let i = 0; i < rounds; i++) {
      downAll();
      results["docker compose up --wait (cold)"]?.push(time("docker", [...compose, "up", "-d", "--wait"]));
      stop();
      results["docker compose up --wait (warm)"]?.push(time("docker", [...compose, "up", "-d", "--wait"]));
      downAll();
      results["mlflow-dev up (cold)"]?.push(time(node, [bin, "up"], { cwd: dir }));
      stop();
      results["mlflow-dev up (warm)"]?.push(time(node, [bin, "up"], { cwd: dir }));
    }
    noop = time(node, [bin, "up"], { cwd: dir });
  } finally {
    // Also after a failure: no stack is left holding the example's ports.
    downAll();
  }
  const med = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
  report(`Local stack to healthy (median of ${rounds})`, med, "docker compose up --wait (cold)");
  console.log(`  mlflow-dev up (already up, no-op)            ${noop.toFixed(1).padStart(9)} ms`);
  console.log(
    `  ratio mlflow-dev/compose: cold ${((med["mlflow-dev up (cold)"] ?? 0) / (med["docker compose up --wait (cold)"] ?? 1)).toFixed(2)}x, warm ${((med["mlflow-dev up (warm)"] ?? 0) / (med["docker compose up --wait (warm)"] ?? 1)).toFixed(2)}x`,
  );
}

if (process.argv.includes("--promote")) {
  // A stack of its own on the emulator: its own name, and a 12-digit access key as its account.
  const endpoint = process.env.AWS_ENDPOINT_URL ?? "http://127.0.0.1:4566";
  const account = "444455556666";
  const name = `benchpromote-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-bench-promote-"));
  const spec = readFileSync(basic, "utf8")
    .replace(/^name: .*$/m, `name: ${name}`)
    .replace(/account: "\d{12}"/, `account: "${account}"`)
    .replace(/bucket: tracking-staging-artifacts-\d{12}/, `bucket: ${name}-staging-artifacts-${account}`);
  writeFileSync(join(dir, "mlflow-dev.yaml"), spec);
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: account,
    AWS_SECRET_ACCESS_KEY: "test",
    MLFLOW_DEV_IMAGES: process.env.MLFLOW_DEV_IMAGES ?? `mlflow=localhost/mlflow-dev-local/mlflow:${pins.mlflow}`,
  };
  const cli = (...args: string[]) => time(node, [bin, ...args, "--env", "staging"], { cwd: dir, env });
  /** promote's wall time, and the part of it spent waiting on AWS (its --json timings). */
  const promoteSplit = () => {
    const t0 = process.hrtime.bigint();
    const out = run(node, [bin, "promote", "--env", "staging", "--json"], { cwd: dir, env });
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const waitingMs = Number(JSON.parse(out).timings?.waitingMs ?? Number.NaN);
    return { wallMs, waitingMs, ownMs: wallMs - waitingMs };
  };
  try {
    const full = promoteSplit();
    const noops = [promoteSplit(), promoteSplit(), promoteSplit()];
    const plan = cli("plan");
    const noop = noops.sort((a, b) => a.wallMs - b.wallMs)[1] ?? noops[0];
    report(
      `promote on the AWS emulator at ${endpoint} (examples/basic staging)`,
      {
        "promote, new stack (everything, smoke test)": full.wallMs,
        "  of which waiting on CloudFormation, ECS, the load balancer": full.waitingMs,
        "  of which mlflow-dev's own work and API calls": full.ownMs,
        "promote again, nothing changed (median of 3)": noop?.wallMs ?? Number.NaN,
        "  of which waiting": noop?.waitingMs ?? Number.NaN,
        "  of which own work and API calls": noop?.ownMs ?? Number.NaN,
        "plan, nothing changed": plan,
      },
      "promote, new stack (everything, smoke test)",
    );
  } finally {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(node, [bin, "destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], {
      cwd: dir,
      env,
      stdio: "ignore",
    });
    console.log(
      `  destroy --delete-data --skip-final-snapshot ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1).padStart(9)} ms${r.status === 0 ? "" : ` (exit ${r.status})`}`,
    );
  }
}

if (process.argv.includes("--footprint")) await footprint(root, node, bin);

if (process.argv.includes("--startup")) await startup(root, node, bin);

if (process.argv.includes("--start-time")) await startTime(root, node, bin);

if (process.argv.includes("--throughput")) await throughput(root, node, bin);

if (process.argv.includes("--auth") && !(await authCost(root, node, bin))) process.exitCode = 1;

if (process.argv.includes("--large-artifact")) await largeArtifact(root, node, bin);

/** The server image: MLFLOW_DEV_IMAGES' mlflow= (as CI and `bash .ci/provision --print-image-overrides` set it). */
function serverImage(option: string): string {
  const image = /(?:^|,)mlflow=([^,]+)/.exec(process.env.MLFLOW_DEV_IMAGES ?? "")?.[1];
  if (!image) throw new Error(`${option} needs the server image: MLFLOW_DEV_IMAGES=mlflow=REF`);
  return image;
}

if (process.argv.includes("--health-probe")) await healthProbe(serverImage("--health-probe"));

if (process.argv.includes("--server-start")) await serverStart(serverImage("--server-start"));

if (process.argv.includes("--package")) {
  const tarball = packCli();
  for (const runtime of nodeRuntimes()) {
    const project = installedProject(tarball, runtime, "mlflow-dev-bench");
    try {
      const installed = join(project, "node_modules/mlflow-dev/bin/mlflow-dev.js");
      writeFileSync(join(project, "mlflow-dev.yaml"), readFileSync(basic, "utf8"));
      const results = sideBySide(
        {
          "node -e 0": () => time(runtime.bin, ["-e", "0"], { cwd: project }),
          "installed mlflow-dev --help": () => time(runtime.bin, [installed, "--help"], { cwd: project }),
          "installed mlflow-dev --version": () => time(runtime.bin, [installed, "--version"], { cwd: project }),
          "installed mlflow-dev validate": () => time(runtime.bin, [installed, "validate"], { cwd: project }),
        },
        15,
      );
      report(`The installed package (median of 15, Node ${runtime.version})`, results, "node -e 0");
      const ratio = (results["installed mlflow-dev --help"] ?? 0) / (results["node -e 0"] ?? 1);
      console.log(`  --help / node -e 0: ${ratio.toFixed(2)}x (target: within 1.5x)`);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }
}
