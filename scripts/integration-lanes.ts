/**
 * The integration tier in its lanes (packages/test-support/src/lanes.ts), side by side: one vitest process
 * per lane, the lane's files one after another inside it; each output line carries its lane's
 * name, and the lanes' durations close the run. `pnpm test:integration` runs this.
 *
 *   node scripts/integration-lanes.ts [options] [FILE...] [-- VITEST ARGS]
 *     FILE              run only these integration files (a name or path under test/integration)
 *     --lane NAME       run only this lane (local, aws-1, aws-2; repeatable)
 *     --sequential      run the lanes one after the other (to compare, or on a one-core machine)
 *     --with-package    also run the package tier (pnpm test:package), in the local lane after its
 *                       files: that lane is the shorter one, and the package tier needs no Docker
 *     --summary PATH    also append the durations to PATH (scripts/test.sh prints them at its end)
 *   VITEST ARGS go to each vitest process, e.g. `-- -t "restore"`.
 *
 * Exit status: 0 when every lane passed, 1 when a lane failed, 2 for bad arguments.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { INTEGRATION_FILES, LANES, type Lane, laneFiles } from "@mlflow-dev/test-support/lanes";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const VITEST = join(ROOT, "node_modules/vitest/vitest.mjs");

interface Options {
  files: string[];
  lanes: Lane[];
  sequential: boolean;
  withPackage: boolean;
  summary: string | undefined;
  vitestArgs: string[];
}

function usage(message: string): never {
  console.error(
    `integration-lanes: ${message}\nusage: node scripts/integration-lanes.ts [--lane local|aws-1|aws-2] [--sequential] [--summary PATH] [FILE...] [-- VITEST ARGS]`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    files: [],
    lanes: [],
    sequential: false,
    withPackage: false,
    summary: undefined,
    vitestArgs: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      options.vitestArgs = argv.slice(i + 1);
      break;
    }
    if (arg === "--sequential") options.sequential = true;
    else if (arg === "--with-package") options.withPackage = true;
    else if (arg === "--lane" || arg === "--summary") {
      const value = argv[++i];
      if (!value) usage(`${arg} needs a value`);
      if (arg === "--summary") options.summary = value;
      else if (LANES.includes(value as Lane)) options.lanes.push(value as Lane);
      else usage(`no lane ${value}: the lanes are ${LANES.join(", ")}`);
    } else if (arg.startsWith("-")) usage(`unknown option ${arg} (vitest's options go after --)`);
    else {
      const name = basename(arg);
      if (!INTEGRATION_FILES[name])
        usage(
          `${arg} is not an integration file of packages/test-support/src/lanes.ts (${Object.keys(INTEGRATION_FILES).join(", ")})`,
        );
      options.files.push(name);
    }
  }
  return options;
}

/** One vitest process of a lane: a project and its files (none: all of the project's). */
interface Step {
  project: "integration" | "package";
  files: string[];
}

interface StepRun extends Step {
  seconds: number;
  code: number;
}

interface LaneRun {
  lane: Lane;
  steps: StepRun[];
  seconds: number;
  code: number;
}

const running = new Set<ChildProcess>();

/** Prefixes each complete line of `stream` with the lane's name and writes it to `out`. */
function relay(stream: NodeJS.ReadableStream, out: NodeJS.WriteStream, prefix: string): Promise<void> {
  let rest = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    if (lines.length > 0) out.write(lines.map((l) => `${prefix}${l}\n`).join(""));
  });
  return new Promise((resolve) =>
    stream.on("end", () => {
      if (rest) out.write(`${prefix}${rest}\n`);
      resolve();
    }),
  );
}

/** Runs one vitest process, its output prefixed with the lane's name. */
async function runStep(step: Step, lane: Lane, vitestArgs: string[], prefix: string): Promise<StepRun> {
  const paths = step.files.map((f) => join("test/integration", f));
  // --no-cache: vitest's results cache is one JSON file that each process would rewrite at its
  // end; a torn write would break the start of the next vitest run.
  const args = ["run", "--project", step.project, "--no-cache", ...paths, ...vitestArgs];
  console.log(`${prefix}vitest ${args.join(" ")}`);
  const started = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, MLFLOW_DEV_TEST_LANE: lane };
  if (process.stdout.isTTY && env.FORCE_COLOR === undefined && env.NO_COLOR === undefined) env.FORCE_COLOR = "1";
  const child = spawn(process.execPath, [VITEST, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const relayed = Promise.all([
    relay(child.stdout, process.stdout, prefix),
    relay(child.stderr, process.stderr, prefix),
  ]);
  const code = await new Promise<number>((resolve) => {
    child.on("error", (e) => {
      console.error(`${prefix}cannot start vitest: ${e.message}`);
      resolve(1);
    });
    child.on("close", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  await relayed;
  running.delete(child);
  return { ...step, seconds: (performance.now() - started) / 1000, code };
}

/** A lane's steps one after another; a failed step does not stop the next. */
async function runLane(lane: Lane, steps: Step[], vitestArgs: string[], width: number): Promise<LaneRun> {
  const prefix = `[${lane}]`.padEnd(width + 3);
  const started = performance.now();
  const runs: StepRun[] = [];
  for (const step of steps) runs.push(await runStep(step, lane, vitestArgs, prefix));
  return {
    lane,
    steps: runs,
    seconds: (performance.now() - started) / 1000,
    code: runs.find((r) => r.code !== 0)?.code ?? 0,
  };
}

function describeStep(step: StepRun): string {
  const what = step.project === "integration" ? `${step.files.length} integration files` : "the package tier";
  return `${what} ${step.seconds.toFixed(0)} s${step.code === 0 ? "" : ` (failed, exit ${step.code})`}`;
}

function summarize(runs: LaneRun[], seconds: number, sequential: boolean): string[] {
  const width = Math.max(...runs.map((r) => r.lane.length));
  const total = runs.reduce((sum, r) => sum + r.seconds, 0);
  return [
    `integration lanes (${sequential ? "one after the other" : "side by side"}): ${seconds.toFixed(0)} s wall clock, ${total.toFixed(0)} s of lane time`,
    ...runs.map(
      (r) =>
        `  ${r.lane.padEnd(width)}  ${r.seconds.toFixed(0).padStart(5)} s  ${r.code === 0 ? "passed" : "FAILED"}: ${r.steps.map(describeStep).join(", then ")}`,
    ),
  ];
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const lanes = options.lanes.length > 0 ? options.lanes : [...LANES];
  const plan = lanes
    .map((lane) => {
      const files = laneFiles(lane).filter((f) => options.files.length === 0 || options.files.includes(f));
      const steps: Step[] = files.length > 0 ? [{ project: "integration", files }] : [];
      if (lane === "local" && options.withPackage) steps.push({ project: "package", files: [] });
      return { lane, steps };
    })
    .filter((p) => p.steps.length > 0);
  if (plan.length === 0) usage("nothing to run in the lanes chosen");

  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.on(signal, () => {
      for (const child of running) child.kill(signal);
    });

  const width = Math.max(...plan.map((p) => p.lane.length));
  const started = performance.now();
  const runs: LaneRun[] = [];
  if (options.sequential) for (const p of plan) runs.push(await runLane(p.lane, p.steps, options.vitestArgs, width));
  else runs.push(...(await Promise.all(plan.map((p) => runLane(p.lane, p.steps, options.vitestArgs, width)))));

  const lines = summarize(runs, (performance.now() - started) / 1000, options.sequential);
  const left = leftBehind();
  if (left.length > 0) lines.push(`left running by the tests (each test removes what it starts): ${left.join(", ")}`);
  console.log(`\n${lines.join("\n")}`);
  if (options.summary) appendFileSync(options.summary, `${lines.join("\n")}\n`);
  return runs.every((r) => r.code === 0) && left.length === 0 ? 0 : 1;
}

/**
 * Containers of the tests' own stacks still running after the lanes (a stopped task's container
 * the emulator removes a moment later does not count): a local stack's (compose
 * project mlflow-dev-it...), an emulated ECS task's or RDS database's (mlflow-dev-it... in its
 * family or name). Every spec name a test uses starts with `it` (lanes.ts).
 */
function leftBehind(): string[] {
  const format =
    '{{.Names}}\t{{.Label "com.docker.compose.project"}}\t{{.Label "com.amazonaws.ecs.task-definition-family"}}';
  const r = spawnSync("docker", ["ps", "--format", format], { encoding: "utf8" });
  if (r.status !== 0) return [];
  return r.stdout
    .split("\n")
    .filter((line) => line.split("\t").some((field) => field.includes("mlflow-dev-it")))
    .map((line) => line.split("\t")[0] ?? line);
}

process.exitCode = await main();
