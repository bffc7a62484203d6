import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { LocalModel, LocalTarget } from "@mlflow-dev/spec";
import { writeLocalFiles } from "../local-files.ts";
import { SERVICE, toComposeFile, toComposeYaml, VOLUME } from "../render.ts";
import { type ComposeClient, ComposeCommandError, DockerComposeCli } from "./compose-cli.ts";
import type { ContainerClient, ServiceState } from "./docker-engine.ts";
import { portIsFree } from "./ports.ts";

/** A problem the user can fix; nothing was left half-started. */
export class LocalStackError extends Error {
  readonly hint: string;
  /** The services that failed, when that is the problem (the CLI turns them into `logs` commands). */
  readonly failedServices: readonly string[];
  constructor(message: string, hint: string, failedServices: readonly string[] = []) {
    super(message);
    this.name = "LocalStackError";
    this.hint = hint;
    this.failedServices = failedServices;
  }
}

const JOBS: readonly string[] = [SERVICE.createBucket, SERVICE.migrate];

/**
 * The services to blame when the stack did not become healthy: a one-off job that exited non-zero
 * (the services after it never started, so they are not named); else every long-running service
 * that is not running and healthy (dead, restarting, unhealthy, still starting, or never created).
 */
export function failedServices(services: readonly ServiceState[]): string[] {
  const jobs = services.filter((s) => JOBS.includes(s.service) && s.exitCode !== undefined && s.exitCode !== 0);
  if (jobs.length > 0) return jobs.map((s) => s.service);
  return LONG_RUNNING.filter((name) => {
    const s = services.find((x) => x.service === name);
    return s === undefined || s.state !== "running" || (s.health !== "healthy" && s.health !== "none");
  });
}

function describeState(s: ServiceState | undefined): string {
  if (!s) return "never started";
  if (s.state === "exited") return `exited with code ${s.exitCode}`;
  const restarts = s.restarts > 0 ? `, restarted ${s.restarts} time${s.restarts === 1 ? "" : "s"}` : "";
  return `${s.state}${s.health !== "none" ? `, ${s.health}` : ""}${restarts}`;
}

export interface LocalStackContext {
  model: LocalModel;
  /** Directory of the spec file. */
  specDir: string;
  /** Where compose.yaml and .env are written (default <specDir>/.mlflow-dev). */
  stateDir: string;
  docker: ContainerClient;
  compose?: ComposeClient;
  /** Progress messages (stderr). */
  progress: (message: string) => void;
}

export const LONG_RUNNING = [SERVICE.network, SERVICE.postgres, SERVICE.minio, SERVICE.mlflow] as const;

export function projectName(model: LocalModel): string {
  return `mlflow-dev-${model.name}`;
}

export function stackPaths(stateDir: string) {
  return { composeFile: join(stateDir, "compose.yaml"), envFile: join(stateDir, ".env") };
}

function composeClient(ctx: LocalStackContext): ComposeClient {
  if (ctx.compose) return ctx.compose;
  const paths = stackPaths(ctx.stateDir);
  return new DockerComposeCli({ ...paths, projectName: projectName(ctx.model) });
}

export function mlflowUrl(model: LocalModel): string {
  const t = model.target;
  const host = t.bindAddress === "0.0.0.0" ? "127.0.0.1" : t.bindAddress;
  return `http://${host}:${t.ports.mlflow}`;
}

export async function assertDockerReachable(docker: ContainerClient, compose: ComposeClient): Promise<void> {
  try {
    await docker.ping();
  } catch (e) {
    throw new LocalStackError(
      `cannot reach the Docker engine: ${(e as Error).message}`,
      "Start Docker (for example `dockerd &` or `systemctl start docker`), or run `bash .ci/provision` on a fresh machine. Nothing was started.",
    );
  }
  try {
    await compose.version();
  } catch {
    throw new LocalStackError(
      "the docker compose v2 plugin is not installed",
      "Install it (`bash .ci/provision` builds it), then run `mlflow-dev up` again. Nothing was started.",
    );
  }
}

function healthyEnough(services: ServiceState[]): boolean {
  return LONG_RUNNING.every((name) => {
    const s = services.find((x) => x.service === name);
    return s !== undefined && s.state === "running" && (s.health === "healthy" || s.health === "none");
  });
}

export interface UpResult {
  url: string;
  envFile: string;
  composeFile: string;
  changed: boolean;
  secretsGenerated: string[];
}

/** Render, check, `docker compose up --wait`, wait for /health. Leaves nothing half-started. */
export async function upLocalStack(ctx: LocalStackContext): Promise<UpResult> {
  const { model, docker, progress } = ctx;
  const t = model.target;
  const compose = composeClient(ctx);
  const paths = stackPaths(ctx.stateDir);
  const project = projectName(model);
  const specDirFromState = relative(ctx.stateDir, ctx.specDir) || ".";

  await assertDockerReachable(docker, compose);

  const composeText = toComposeYaml(model, { specDir: specDirFromState });
  const before = await docker.projectServices(project);
  const running = before.filter((s) => s.state === "running");
  const previous = existsSync(paths.composeFile) ? readFileSync(paths.composeFile, "utf8") : undefined;

  if (previous === composeText && existsSync(paths.envFile) && healthyEnough(before)) {
    return {
      url: mlflowUrl(model),
      envFile: paths.envFile,
      composeFile: paths.composeFile,
      changed: false,
      secretsGenerated: [],
    };
  }

  // A data volume initialised with passwords from a .env that is gone can never be opened again.
  if (!existsSync(paths.envFile) && (await docker.volumeExists(`${project}_${VOLUME.postgres}`)))
    throw new LocalStackError(
      `the data volume ${project}_${VOLUME.postgres} exists but ${paths.envFile} (its passwords) is gone`,
      `Restore that .env file, or delete the old data with \`mlflow-dev down --volumes --yes\` and run \`mlflow-dev up\` again. Nothing was started.`,
    );

  await checkPorts(t, running);
  await checkImages(model, docker, progress);

  const written = writeLocalFiles(ctx.stateDir, model, { specDir: specDirFromState });
  if (written.secretsAdded.length > 0)
    progress(`generated ${written.secretsAdded.length} secret(s) into ${paths.envFile}`);
  progress(`starting ${project} (compose file ${paths.composeFile})`);
  const started = Date.now();
  try {
    await compose.up({
      wait: true,
      timeoutSeconds: 300,
      onOutput: (line) => progress(line),
    });
    await waitForHealth(`${mlflowUrl(model)}${model.mlflow.healthPath}`, 60_000);
  } catch (e) {
    const services: ServiceState[] = await docker.projectServices(project).catch(() => []);
    const failed = failedServices(services);
    // Their last words, read before the containers are removed.
    const logs: string[] = [];
    for (const name of failed) {
      const s = services.find((x) => x.service === name);
      const text = s ? await docker.containerLogs(s.container, 12).catch(() => "") : "";
      logs.push(
        `  ${name}: ${describeState(s)}${text.trim() ? `; its last log lines:\n${indent(lastLines(text, 12))}` : ""}`,
      );
    }
    if (running.length === 0) {
      progress("start-up failed: removing the containers it created (data volumes are kept)");
      await compose.down({ volumes: false }).catch(() => undefined);
    }
    const detail = e instanceof ComposeCommandError ? lastLines(e.output, 15) : (e as Error).message;
    throw new LocalStackError(
      failed.length
        ? `the local stack did not become healthy (failing: ${failed.join(", ")}):\n${logs.join("\n")}`
        : `the local stack did not become healthy:\n${detail}`,
      failed.length
        ? `See \`mlflow-dev logs ${failed[0]}\`; fix the cause and run \`mlflow-dev up\` again.`
        : "Run `mlflow-dev doctor`, fix what it reports, and run `mlflow-dev up` again.",
      failed,
    );
  }
  progress(`healthy after ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return {
    url: mlflowUrl(model),
    envFile: paths.envFile,
    composeFile: paths.composeFile,
    changed: true,
    secretsGenerated: written.secretsAdded,
  };
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `      ${l}`)
    .join("\n");
}

function lastLines(text: string, n: number): string {
  return text.trim().split("\n").slice(-n).join("\n");
}

const PORT_KEYS: Record<keyof LocalTarget["ports"], string> = {
  mlflow: "mlflow",
  minio: "minio",
  minioConsole: "minioConsole",
  postgres: "postgres",
};

export async function checkPorts(t: LocalTarget, ownRunning: ServiceState[]): Promise<void> {
  const ours = new Set(ownRunning.flatMap((s) => s.ports.map((p) => Number(p.split(":")[1]?.split("->")[0]))));
  const taken: string[] = [];
  for (const [key, port] of Object.entries(t.ports) as Array<[keyof LocalTarget["ports"], number]>) {
    if (ours.has(port)) continue;
    if (!(await portIsFree(t.bindAddress, port)))
      taken.push(`${t.bindAddress}:${port} (environments.local.ports.${PORT_KEYS[key]})`);
  }
  if (taken.length > 0)
    throw new LocalStackError(
      `port${taken.length > 1 ? "s" : ""} already in use: ${taken.join(", ")}`,
      "Stop whatever listens there, or choose free ports under environments.local.ports in the spec. Nothing was started.",
    );
}

async function checkImages(model: LocalModel, docker: ContainerClient, progress: (m: string) => void): Promise<void> {
  const file = toComposeFile(model);
  const missing: string[] = [];
  for (const [name, svc] of Object.entries(file.services)) {
    if (svc.build !== undefined) continue;
    const ref = String(svc.image);
    if (missing.includes(ref) || (await docker.imageExists(ref))) continue;
    progress(`pulling ${ref} (needed by ${name})`);
    try {
      await docker.pullImage(ref);
    } catch (e) {
      missing.push(`${ref}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  if (missing.length > 0)
    throw new LocalStackError(
      `image${missing.length > 1 ? "s" : ""} not available locally and could not be pulled:\n  ${missing.join("\n  ")}`,
      "Check the image names under images: in the spec. Offline, build the images with `bash .ci/provision` and set MLFLOW_DEV_IMAGES (`bash .ci/provision --print-image-overrides`). Nothing was started.",
    );
}

export async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000}s (last: ${last})`);
}

export interface DownOptions {
  volumes: boolean;
}

export async function downLocalStack(ctx: LocalStackContext, options: DownOptions): Promise<ServiceState[]> {
  const compose = composeClient(ctx);
  await assertDockerReachable(ctx.docker, compose);
  const project = projectName(ctx.model);
  const before = await ctx.docker.projectServices(project);
  await compose.down(options);
  return before;
}

export async function localStackStatus(ctx: Pick<LocalStackContext, "model" | "docker">): Promise<ServiceState[]> {
  return ctx.docker.projectServices(projectName(ctx.model));
}
