/**
 * `pnpm bench --startup`: where the time of `mlflow-dev up` goes, against the floors measured on
 * the same machine in the same run.
 *
 * - cold (no volumes), warm (stopped, volumes kept) and no-op (already up) `mlflow-dev up` of
 *   examples/basic, each with a timeline from `docker events`: when every service was created,
 *   started, reported healthy, and (for the jobs) exited;
 * - the floors: PostgreSQL from `docker run` on an empty data directory to `pg_isready` (polled
 *   every 100 ms), the schema step on that empty database (the stack's own migration command,
 *   under the job's CPU and memory limits, the task size, as in `up` and on ECS), and
 *   the MLflow server from `docker start` of the warm stack's container to GET /health 200 (polled
 *   every 100 ms).
 *
 * Rounds are interleaved (--rounds N, default 2); medians and ratios are printed. Nothing here is
 * asserted: tests check behaviour, this measures it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageOverridesFromEnv } from "../packages/cli/src/load-spec.ts";
import { checkoutProject } from "../packages/compose/src/runtime/project-identity.ts";
import { healthCheck, MlflowClient, waitUntilReady } from "../packages/mlflow-client/src/index.ts";
import { parseSpecOrThrow, resolve } from "../packages/spec/src/index.ts";
import { median, run, serviceContainer, timed } from "./process.ts";

interface Event {
  at: number;
  service: string;
  action: string;
  exitCode?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `docker events` of the project's containers while `fn` runs, in epoch milliseconds. */
async function withEvents(project: string, fn: () => number): Promise<{ ms: number; start: number; events: Event[] }> {
  const child: ChildProcess = spawn(
    "docker",
    [
      "events",
      "--filter",
      "type=container",
      "--filter",
      `label=com.docker.compose.project=${project}`,
      "--format",
      "{{json .}}",
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  await sleep(300); // the events stream is attached
  const start = Date.now();
  const ms = fn();
  await sleep(300);
  child.kill();
  const events: Event[] = [];
  for (const line of out.split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as {
      timeNano: number;
      Action: string;
      Actor: { Attributes: Record<string, string> };
    };
    const service = e.Actor.Attributes["com.docker.compose.service"] ?? "?";
    const action = e.Action.replace(/^health_status: /, "");
    if (!["create", "start", "healthy", "die"].includes(action)) continue;
    events.push({
      at: e.timeNano / 1e6,
      service,
      action,
      ...(e.Actor.Attributes.exitCode ? { exitCode: e.Actor.Attributes.exitCode } : {}),
    });
  }
  return { ms, start, events };
}

function printTimeline(title: string, r: { ms: number; start: number; events: Event[] }): void {
  console.log(`\n  ${title}: ${(r.ms / 1000).toFixed(1)} s; timeline (s from the command's start)`);
  const services = [...new Set(r.events.map((e) => e.service))];
  for (const s of services) {
    const mark = (action: string) => {
      const e = r.events.find((x) => x.service === s && x.action === action);
      return e ? ((e.at - r.start) / 1000).toFixed(1).padStart(6) : "     -";
    };
    const died = r.events.find((x) => x.service === s && x.action === "die");
    console.log(
      `    ${s.padEnd(14)} created ${mark("create")}  started ${mark("start")}  healthy ${mark("healthy")}  exited ${mark("die")}${died?.exitCode ? ` (code ${died.exitCode})` : ""}`,
    );
  }
}

async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error("timed out");
    await sleep(100);
  }
}

export async function startup(root: string, node: string, bin: string): Promise<void> {
  const roundsFlag = process.argv.indexOf("--rounds");
  const rounds = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : 2;
  const name = "benchstartup";
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-bench-startup-"));
  const project = checkoutProject(name, dir);
  const specText = readFileSync(join(root, "examples/basic/mlflow-dev.yaml"), "utf8").replace(
    /^name: .*$/m,
    `name: ${name}`,
  );
  writeFileSync(join(dir, "mlflow-dev.yaml"), specText);
  const model = resolve(parseSpecOrThrow(specText), "local", imageOverridesFromEnv());
  const mlflowImage = model.mlflow.image.kind === "pull" ? model.mlflow.image.ref : model.mlflow.image.tag;
  const mlflowUrl = `http://127.0.0.1:${model.target.ports.mlflow}`;
  const up = () => timed(node, [bin, "up"], { cwd: dir });
  const cli = (...args: string[]) => run(node, [bin, ...args], { cwd: dir });

  const samples: Record<string, number[]> = {
    "floor: PostgreSQL, empty data directory to ready": [],
    "floor: schema creation on the empty database": [],
    "floor: MLflow server, docker start to /health 200": [],
    "mlflow-dev up, cold (no volumes)": [],
    "mlflow-dev up, warm (stopped, volumes kept)": [],
    "mlflow-dev up, no-op (already up)": [],
  };
  try {
    for (let i = 0; i < rounds; i++) {
      cli("down", "--volumes", "--yes");
      const cold = await withEvents(project, up);
      samples["mlflow-dev up, cold (no volumes)"]?.push(cold.ms);
      if (i === 0) printTimeline("cold up", cold);
      samples["mlflow-dev up, no-op (already up)"]?.push(up());
      cli("down");
      const warm = await withEvents(project, up);
      samples["mlflow-dev up, warm (stopped, volumes kept)"]?.push(warm.ms);
      if (i === 0) printTimeline("warm up", warm);

      // The server's own start, with its database and object store up: the warm floor.
      const server = serviceContainer(project, "mlflow");
      run("docker", ["stop", server]);
      const t0 = performance.now();
      run("docker", ["start", server]);
      await waitUntilReady(new MlflowClient(mlflowUrl), {
        timeoutMs: 300_000,
        intervalMs: 100,
        checks: [healthCheck({ path: model.mlflow.healthPath, timeoutMs: 1000 })],
      });
      samples["floor: MLflow server, docker start to /health 200"]?.push(performance.now() - t0);

      // PostgreSQL on an empty data directory, then the schema on it: with the server, the cold floor.
      const pg = `${project}-floor-postgres`;
      spawnSync("docker", ["rm", "-f", pg], { stdio: "ignore" });
      const p0 = performance.now();
      run("docker", [
        "run",
        "-d",
        "--name",
        pg,
        "-e",
        `POSTGRES_USER=${model.database.user}`,
        "-e",
        "POSTGRES_PASSWORD=bench",
        "-e",
        `POSTGRES_DB=${model.database.name}`,
        model.target.images.postgres,
      ]);
      await pollUntil(
        () =>
          spawnSync("docker", [
            "exec",
            pg,
            "pg_isready",
            "-h",
            "127.0.0.1",
            "-U",
            model.database.user,
            "-d",
            model.database.name,
          ]).status === 0,
        120_000,
      );
      samples["floor: PostgreSQL, empty data directory to ready"]?.push(performance.now() - p0);
      const migration = model.mlflow.migration;
      samples["floor: schema creation on the empty database"]?.push(
        timed("docker", [
          "run",
          "--rm",
          "--network",
          `container:${pg}`,
          // The job's own limits, as in `up` and as the ECS migration task (the task size).
          "--cpus",
          String(model.resources.cpu / 1024),
          "--memory",
          `${model.resources.memory}m`,
          "--memory-swap",
          `${model.resources.memory}m`,
          "-e",
          "MLFLOW_DB_HOST=127.0.0.1",
          "-e",
          `MLFLOW_DB_PORT=${model.database.port}`,
          "-e",
          `MLFLOW_DB_USER=${model.database.user}`,
          "-e",
          "MLFLOW_DB_PASSWORD=bench",
          "-e",
          `MLFLOW_DB_NAME=${model.database.name}`,
          "--entrypoint",
          migration.entrypoint[0] ?? "/bin/sh",
          mlflowImage,
          ...migration.entrypoint.slice(1),
          ...migration.command,
        ]),
      );
      spawnSync("docker", ["rm", "-f", pg], { stdio: "ignore" });
    }
  } finally {
    spawnSync(node, [bin, "down", "--volumes", "--yes"], { cwd: dir, stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }

  const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const server = med["floor: MLflow server, docker start to /health 200"] ?? Number.NaN;
  const coldFloor =
    (med["floor: PostgreSQL, empty data directory to ready"] ?? 0) +
    (med["floor: schema creation on the empty database"] ?? 0) +
    server;
  console.log(
    `\nmlflow-dev up against its floors (median of ${rounds}, examples/basic, MLflow ${model.mlflow.version})`,
  );
  for (const [k, ms] of Object.entries(med)) console.log(`  ${k.padEnd(52)} ${(ms / 1000).toFixed(2).padStart(7)} s`);
  console.log(`  cold floor (PostgreSQL + schema + server)             ${(coldFloor / 1000).toFixed(2).padStart(7)} s`);
  const ratio = (k: string, floor: number) => ((med[k] ?? Number.NaN) / floor).toFixed(2);
  console.log(
    `  ratios: cold up / cold floor ${ratio("mlflow-dev up, cold (no volumes)", coldFloor)}x (target 1.25x), warm up / server start ${ratio("mlflow-dev up, warm (stopped, volumes kept)", server)}x (target 1.25x), no-op up ${((med["mlflow-dev up, no-op (already up)"] ?? 0) / 1000).toFixed(2)} s (target 1 s)`,
  );
}
