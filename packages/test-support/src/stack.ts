import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { parseEnvFile } from "@mlflow-dev/kernel/env-file";
import { cli } from "./cli.ts";
import type { StackPorts } from "./lanes.ts";
import { ROOT } from "./root.ts";
import { type SpecFixture, specFixture } from "./spec-fixture.ts";
import { tempDir } from "./temp-dir.ts";

/**
 * A spec directory for a test stack: examples/basic with its own name and ports (its
 * `environments.local.ports`), then `edit`.
 */
export function testSpecDir(name: string, ports: StackPorts, edit: (spec: SpecFixture) => unknown = () => {}): string {
  const dir = tempDir(`mlflow-dev-${name}-`);
  const spec = specFixture("examples/basic")
    .name(name)
    .env("local", { ports: { ...ports } });
  edit(spec);
  spec.write(dir);
  return dir;
}

export function projectContainers(project: string): string[] {
  const r = spawnSync(
    "docker",
    ["ps", "-a", "--filter", `label=com.docker.compose.project=${project}`, "--format", "{{.Names}}"],
    { encoding: "utf8" },
  );
  return r.stdout.split("\n").filter(Boolean);
}

export function readEnvFile(path: string): Record<string, string> {
  return Object.fromEntries(parseEnvFile(readFileSync(path, "utf8")));
}

/**
 * An S3 client for a test stack's MinIO, with the root credentials `up` generated into its .env,
 * or (`as: "server"`) as the server's own user, limited to the artifact prefix.
 */
export function minioClient(port: number, env: Record<string, string>, as: "root" | "server" = "root"): S3Client {
  return new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials:
      as === "root"
        ? {
            accessKeyId: env.MLFLOW_DEV_MINIO_ROOT_USER ?? "",
            secretAccessKey: env.MLFLOW_DEV_MINIO_ROOT_PASSWORD ?? "",
          }
        : { accessKeyId: "mlflow-server", secretAccessKey: env.MLFLOW_DEV_MINIO_SERVER_SECRET_KEY ?? "" },
  });
}

/** The Python base .ci/provision builds offline: the stand-in for python:3.x-slim of the default MLflow build. */
export const OFFLINE_PYTHON_BASE = `localhost/mlflow-dev-local/python:${JSON.parse(readFileSync(join(ROOT, "pins.json"), "utf8")).python}`;

/** The image MLFLOW_DEV_IMAGES ("mlflow=REF,postgres=REF") sets for a service, if any. */
export function imageOverride(service: string): string | undefined {
  for (const part of (process.env.MLFLOW_DEV_IMAGES ?? "").split(",")) {
    const [key, ref] = part.split("=", 2);
    if (key?.trim() === service && ref) return ref.trim();
  }
  return undefined;
}

/** In CI the offline images must be configured; elsewhere the upstream images may be pulled. */
export function requireImagesInCi(): void {
  if (process.env.CI && !process.env.MLFLOW_DEV_IMAGES)
    throw new Error("CI must set MLFLOW_DEV_IMAGES (scripts/test.sh sets it from .ci/provision)");
}

/**
 * Removes the containers and volumes an interrupted earlier run of a test stack left behind: those
 * of the project `prefix` (`mlflow-dev-<name>`) and of every checkout of it (`<prefix>-<8 hex>`,
 * each test run's temporary directory has its own).
 */
export function removeLeftovers(prefix: string): void {
  const ours = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(-[0-9a-f]{8})?$`);
  const list = (args: string[]) =>
    spawnSync("docker", args, { encoding: "utf8" })
      .stdout.split("\n")
      .filter(Boolean)
      .map((line) => line.split(" "))
      .filter(([, project]) => project !== undefined && ours.test(project))
      .map(([id]) => id ?? "");
  const label = "label=com.docker.compose.project";
  const projectOf = `{{.Label "com.docker.compose.project"}}`;
  const containers = list(["ps", "-a", "--filter", label, "--format", `{{.ID}} ${projectOf}`]);
  if (containers.length > 0) spawnSync("docker", ["rm", "-f", ...containers], { stdio: "ignore" });
  const volumes = list(["volume", "ls", "--filter", label, "--format", `{{.Name}} ${projectOf}`]);
  if (volumes.length > 0) spawnSync("docker", ["volume", "rm", "-f", ...volumes], { stdio: "ignore" });
}

/** What Docker enforces on a container and what happened to it: limits, restarts, OOM kills. */
export interface ContainerFacts {
  id: string;
  nanoCpus: number;
  memoryMiB: number;
  memorySwapMiB: number;
  oomKilled: boolean;
  restartCount: number;
  running: boolean;
}

export function containerFacts(id: string): ContainerFacts {
  const r = spawnSync("docker", ["inspect", id], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`docker inspect ${id} failed: ${r.stderr}`);
  const c = JSON.parse(r.stdout)[0];
  return {
    id: c.Id,
    nanoCpus: c.HostConfig.NanoCpus,
    memoryMiB: c.HostConfig.Memory / 2 ** 20,
    memorySwapMiB: c.HostConfig.MemorySwap / 2 ** 20,
    oomKilled: c.State.OOMKilled,
    restartCount: c.RestartCount,
    running: c.State.Running,
  };
}

/** Running containers with every one of these labels. */
export function containersWithLabels(labels: Record<string, string>): string[] {
  const filters = Object.entries(labels).flatMap(([k, v]) => ["--filter", `label=${k}=${v}`]);
  const r = spawnSync("docker", ["ps", "-q", "--no-trunc", ...filters], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean);
}

/** The highest memory use of a container's cgroup so far (MiB): cgroup v1 max_usage, or v2 memory.peak. */
export function peakMemoryMiB(id: string): number {
  const r = spawnSync(
    "docker",
    [
      "exec",
      id,
      "sh",
      "-c",
      "cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.peak",
    ],
    { encoding: "utf8" },
  );
  return Number(r.stdout.trim()) / 2 ** 20;
}

/** The AWS emulator (localstack/start.sh) the emulated-promote tests run against. */
export const EMULATOR = process.env.AWS_ENDPOINT_URL ?? "http://127.0.0.1:4566";

/** Whether the emulator answers; a test file that needs it skips (saying why) unless CI is set. */
export async function emulatorAnswers(testFile: string): Promise<boolean> {
  const up = await fetch(`${EMULATOR}/_ministack/health`, { signal: AbortSignal.timeout(3000) })
    .then((r) => r.ok)
    .catch(() => false);
  if (!up && !process.env.CI)
    console.warn(`${testFile}: no AWS emulator at ${EMULATOR}: the emulated promote is skipped (localstack/start.sh)`);
  return up;
}

/**
 * Why the emulator at `endpoint` cannot be used, or undefined when it answers its health check. In
 * CI a missing emulator is an error; elsewhere the file's tests skip, and this says why.
 */
export async function emulatorUnavailable(testFile: string, endpoint = EMULATOR): Promise<string | undefined> {
  let why: string | undefined;
  try {
    const res = await fetch(`${endpoint}/_ministack/health`, { signal: AbortSignal.timeout(3000) });
    why = res.ok ? undefined : `GET ${endpoint}/_ministack/health answered ${res.status}`;
  } catch (error) {
    why = `nothing answers on ${endpoint} (${(error as Error).message})`;
  }
  if (why && process.env.CI)
    throw new Error(`the AWS emulator is not running: ${why}. .ci/provision starts it (localstack/start.sh)`);
  if (why) console.warn(`${testFile} skipped: ${why}. Start the emulator with localstack/start.sh`);
  return why;
}

/** The CLI's environment for an account of the test's own (the emulator takes a 12-digit access key as the account id). */
export function emulatorEnv(account: string) {
  return {
    AWS_ENDPOINT_URL: EMULATOR,
    AWS_ACCESS_KEY_ID: account,
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "eu-west-1",
    // Deploys take their image override from its own variable, never from MLFLOW_DEV_IMAGES.
    ...(imageOverride("mlflow") ? { MLFLOW_DEV_DEPLOY_IMAGE: imageOverride("mlflow") } : {}),
  };
}

/**
 * Removes an emulated environment a test promoted, with its data; throws when destroy fails (a
 * stack left behind runs on through the rest of the run: the clean-up fails its file instead).
 */
export function destroyEmulated(dir: string, env: Record<string, string>): void {
  const d = cli(["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], { cwd: dir, env });
  if (d.code !== 0) throw new Error(`destroy of the emulated staging failed (exit ${d.code}):\n${d.stderr}`);
}

/** A client of a local stack's PostgreSQL, as the spec's user, with the password from its .env. */
export async function stackDatabase(port: number, env: Record<string, string>) {
  const { default: pg } = await import("pg");
  const db = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "mlflow",
    database: "mlflow",
    password: env.MLFLOW_DEV_DB_PASSWORD,
  });
  await db.connect();
  return db;
}

/** What a rehearsal (or anything that should have torn itself down) left behind; every list empty when nothing. */
export interface Leftovers {
  /** The local stack's containers (its compose project). */
  localContainers: string[];
  /** The local stack's volumes. */
  localVolumes: string[];
  /** Containers whose name or labels name the spec (the twin's ECS tasks and RDS databases). */
  specContainers: string[];
  /** The twin's stacks of the spec's environment that are not deleted. */
  stacks: string[];
}

/**
 * Everything a rehearsal starts, looked up after it: the local stack's containers and volumes,
 * the containers of the spec on the twin, and the twin's stack (`stack` in `region` of `account`).
 */
export async function leftovers(options: {
  project: string;
  specName: string;
  stack: string;
  region: string;
  account: string;
  endpoint: string;
}): Promise<Leftovers> {
  const lines = (args: string[]) => spawnSync("docker", args, { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  const { createAwsClients, destroyAwsClients } = await import("@mlflow-dev/aws/deploy");
  const clients = await createAwsClients({
    region: options.region,
    endpointUrl: options.endpoint,
    credentials: { accessKeyId: options.account, secretAccessKey: "test" },
  });
  try {
    const stacks = await clients.cloudformation
      .describeStacks({ StackName: options.stack })
      .then((s) =>
        (s.Stacks ?? [])
          .filter((x) => x.StackStatus !== "DELETE_COMPLETE")
          .map((x) => `${x.StackName} ${x.StackStatus}`),
      )
      .catch(() => []);
    return {
      localContainers: projectContainers(options.project),
      localVolumes: lines(["volume", "ls", "-q", "--filter", `label=com.docker.compose.project=${options.project}`]),
      specContainers: lines(["ps", "-a", "--format", "{{.Names}} {{.Labels}}"]).filter((l) =>
        l.includes(options.specName),
      ),
      stacks,
    };
  } finally {
    destroyAwsClients(clients);
  }
}

/** Leftovers when there are none. */
export const NOTHING_LEFT: Leftovers = { localContainers: [], localVolumes: [], specContainers: [], stacks: [] };

/**
 * The running containers of the emulator's ECS tasks of a task definition family (MiniStack labels
 * each task's container with its revision's family; its cluster label holds the cluster's ARN).
 */
export function emulatedTaskContainers(family: string): string[] {
  return spawnSync(
    "docker",
    [
      "ps",
      "-q",
      "--filter",
      "label=ministack=ecs",
      "--filter",
      `label=com.amazonaws.ecs.task-definition-family=${family}`,
    ],
    { encoding: "utf8" },
  )
    .stdout.split("\n")
    .filter(Boolean);
}

/** One process of a server container: its pid, its parent's and its command line. */
export interface ServerProcess {
  pid: string;
  ppid: string;
  args: string;
}

/** Whether a process's command is a Python interpreter (not a shell whose script runs one). */
export function isPythonProcess(p: ServerProcess): boolean {
  return /^\S*\bpython[\d.]*\s/.test(p.args);
}

/**
 * The server's main process (uvicorn's supervisor, which imported MLflow's app once: the Python
 * process whose parent is not one) and uvicorn's workers (its forks), among a container's
 * processes. A Python process is one whose command is a Python interpreter (the init process's
 * command holds the server's script, `python` in it too).
 */
export function uvicornWorkers<P extends ServerProcess>(processes: readonly P[]): { main: P[]; workers: P[] } {
  const python = processes.filter(isPythonProcess);
  const pythonPids = new Set(python.map((p) => p.pid));
  const main = python.filter((p) => !pythonPids.has(p.ppid));
  const mainPids = new Set(main.map((p) => p.pid));
  return { main, workers: python.filter((p) => mainPids.has(p.ppid)) };
}
