import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { poll } from "@mlflow-dev/kernel/wait";
import { healthCheck, MlflowClient, NotReadyError, waitUntilReady } from "@mlflow-dev/mlflow-client";
import { describeImageOrigin, type LocalModel, type LocalObjectStore, type LocalTarget } from "@mlflow-dev/spec";
import { DATA_SECRET_VARS, missingEnvVars } from "../env-file.ts";
import { ensureStateDir, writeLocalFiles } from "../local-files.ts";
import { objectStoreServices, SERVICE, toComposeFile, toComposeYaml, VOLUME } from "../render.ts";
import { buildStep, describeStep, shorten } from "./build-progress.ts";
import { type ComposeClient, ComposeCommandError, DockerComposeCli } from "./compose-cli.ts";
import {
  type ContainerClient,
  DockerUnreachableError,
  dockerUnreachableHint,
  localDockerEndpoint,
  type ServiceState,
} from "./docker-engine.ts";
import { portClash, type TakenPort } from "./port-clash.ts";
import { portIsFree } from "./ports.ts";
import { describeIdentity, type ProjectIdentity, recordProjectIdentity } from "./project-identity.ts";
import { describePull, describePulled, PullProgress } from "./pull-progress.ts";
import {
  backupName,
  forgetServedVersion,
  listBackups,
  readServedVersion,
  recordServedVersion,
  versionChange,
  writeBackup,
} from "./version-change.ts";

/** A problem the user can fix; nothing was left half-started. */
export class LocalStackError extends Error {
  readonly hint: string;
  /** The services that failed, when that is the problem (the CLI turns them into `logs` commands). */
  readonly failedServices: readonly string[];
  /** The spec asks for something this stack must refuse (exit 2): nothing was changed. */
  readonly invalidInput: boolean;
  constructor(
    message: string,
    hint: string,
    failedServices: readonly string[] = [],
    options: { invalidInput?: boolean } = {},
  ) {
    super(message);
    this.name = "LocalStackError";
    this.hint = hint;
    this.failedServices = failedServices;
    this.invalidInput = options.invalidInput ?? false;
  }
}

/** The one-off jobs of a stack whose object store is `store`: each must exit 0. */
export function jobServices(store: LocalObjectStore): string[] {
  return [...objectStoreServices(store).jobs, SERVICE.migrate];
}

/** The long-running services of a stack whose object store is `store`: each must be healthy. */
export function longRunningServices(store: LocalObjectStore): string[] {
  return [SERVICE.network, SERVICE.postgres, objectStoreServices(store).server, SERVICE.mlflow];
}

/**
 * The services to blame when the stack did not become healthy: a one-off job that exited non-zero
 * (the services after it never started, so they are not named); else every long-running service
 * that is not running and healthy (dead, restarting, unhealthy, still starting, or never created).
 */
export function failedServices(services: readonly ServiceState[], store: LocalObjectStore): string[] {
  const jobs = jobServices(store);
  const failedJobs = services.filter((s) => jobs.includes(s.service) && s.exitCode !== undefined && s.exitCode !== 0);
  if (failedJobs.length > 0) return failedJobs.map((s) => s.service);
  return longRunningServices(store).filter((name) => !serviceHealthy(services.find((x) => x.service === name)));
}

/**
 * The one definition of a healthy service, for `up`, `status`, backup and restore: its container
 * runs and its health check, when it has one, passes.
 */
export function serviceHealthy(s: ServiceState | undefined): boolean {
  return s !== undefined && s.state === "running" && (s.health === "healthy" || s.health === "none");
}

/**
 * Where a start-up stands, from the containers' states: ready when every job has exited 0 and
 * every long-running service is healthy; failed (naming what) when a job exited non-zero or a
 * service died, restarts or failed its health check; otherwise still waiting.
 */
export function startUpProgress(
  services: readonly ServiceState[],
  store: LocalObjectStore,
): { phase: "ready" } | { phase: "waiting"; on: string[] } | { phase: "failed"; why: string[] } {
  const why: string[] = [];
  const on: string[] = [];
  for (const name of jobServices(store)) {
    const s = services.find((x) => x.service === name);
    if (s?.exitCode !== undefined && s.exitCode !== 0) why.push(`${name} exited with code ${s.exitCode}`);
    else if (s?.exitCode !== 0) on.push(name);
  }
  for (const name of longRunningServices(store)) {
    const s = services.find((x) => x.service === name);
    if (s && (s.state === "exited" || s.state === "dead" || s.state === "restarting" || s.health === "unhealthy"))
      why.push(`${name} ${describeState(s)}`);
    else if (!serviceHealthy(s)) on.push(name);
  }
  if (why.length > 0) return { phase: "failed", why };
  return on.length > 0 ? { phase: "waiting", on } : { phase: "ready" };
}

/** The stack is healthy when every long-running service is. */
export function stackHealthy(services: readonly ServiceState[], store: LocalObjectStore): boolean {
  return longRunningServices(store).every((name) => serviceHealthy(services.find((x) => x.service === name)));
}

function describeState(s: ServiceState | undefined): string {
  if (!s) return "never started";
  if (s.state === "exited") return `exited with code ${s.exitCode}`;
  const restarts = s.restarts > 0 ? `, restarted ${s.restarts} time${s.restarts === 1 ? "" : "s"}` : "";
  return `${s.state}${s.health !== "none" ? `, ${s.health}` : ""}${restarts}`;
}

export interface LocalStackContext {
  model: LocalModel;
  /** The checkout's compose project (projectIdentity). */
  project: string;
  /** How the project was found; `up` writes its record into the state directory. */
  identity?: ProjectIdentity;
  /** Directory of the spec file. */
  specDir: string;
  /** Where compose.yaml and .env are written (default <specDir>/.mlflow-dev). */
  stateDir: string;
  docker: ContainerClient;
  compose?: ComposeClient;
  /** Progress messages (stderr). */
  progress: (message: string) => void;
  /** What is going on right now (a pull's bytes, a build's output): redrawn in place on a terminal, else named by the heartbeat. */
  status?: (text: string) => void;
}

export function stackPaths(stateDir: string) {
  return { composeFile: join(stateDir, "compose.yaml"), envFile: join(stateDir, ".env") };
}

function composeClient(ctx: LocalStackContext): ComposeClient {
  if (ctx.compose) return ctx.compose;
  const paths = stackPaths(ctx.stateDir);
  return new DockerComposeCli({ ...paths, projectName: ctx.project });
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
    if (e instanceof DockerUnreachableError) throw new LocalStackError(e.message, `${e.hint} Nothing was changed.`);
    throw new LocalStackError(
      `cannot reach the Docker engine: ${(e as Error).message}`,
      `${dockerUnreachableHint(localDockerEndpoint(), process.platform, (e as Error).message)} Nothing was changed.`,
    );
  }
  try {
    await compose.version();
  } catch {
    throw new LocalStackError(
      "the docker compose v2 plugin is not installed",
      "Install the Docker Compose v2 plugin (`docker compose version` answers once it is), then run `mlflow-dev up` again. Nothing was started.",
    );
  }
}

export interface UpResult {
  url: string;
  envFile: string;
  composeFile: string;
  changed: boolean;
  secretsGenerated: string[];
}

/** Render, check, `docker compose up`, wait for the start-up (waitForStartUp). Leaves nothing half-started. */
export async function upLocalStack(ctx: LocalStackContext): Promise<UpResult> {
  const { model, docker, progress } = ctx;
  const t = model.target;
  const compose = composeClient(ctx);
  const paths = stackPaths(ctx.stateDir);
  const project = ctx.project;
  const specDirFromState = relative(ctx.stateDir, ctx.specDir) || ".";

  await assertDockerReachable(docker, compose);

  const composeText = toComposeYaml(model, { specDir: specDirFromState, projectName: project });
  const before = await localStackStatus(ctx);
  const running = before.filter((s) => s.state === "running");
  const previous = existsSync(paths.composeFile) ? readFileSync(paths.composeFile, "utf8") : undefined;

  // No-op: the same compose file, every service healthy, and the server answers its health path
  // (once more when Docker's check had passed: a server that hangs while its container looks
  // healthy is not up).
  if (
    previous === composeText &&
    existsSync(paths.envFile) &&
    stackHealthy(before, model.target.objectStore) &&
    (await answersHealth(healthUrl(model)))
  ) {
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
      `the data volume ${project}_${VOLUME.postgres} exists, but this checkout has no ${paths.envFile} (the passwords it was created with)`,
      `The volume is this checkout's own (another checkout of the project has a stack of its own). If ${paths.envFile} was deleted, restore it from a copy. Only when that data is not needed, delete it with \`mlflow-dev down --volumes --yes\`. Nothing was started.`,
    );

  // A .env line the data was created with, missing now, must not be invented: the new value would
  // lock the data out (or, for the KEK, leave MLflow's stored secrets undecryptable).
  if (existsSync(paths.envFile)) {
    const missing = missingEnvVars(readFileSync(paths.envFile, "utf8"), model);
    for (const volume of ["postgres", "minio"] as const) {
      const needed = missing.filter((name) => DATA_SECRET_VARS[volume].includes(name));
      if (needed.length > 0 && (await docker.volumeExists(`${project}_${VOLUME[volume]}`)))
        throw new LocalStackError(
          `${paths.envFile} has no ${needed.join(", ")}, which the data volume ${project}_${VOLUME[volume]} was created with; a new value would lock that data out`,
          `Put the line${needed.length > 1 ? "s" : ""} back from a copy of ${paths.envFile} (or from the checkout that created the stack). Only if that data is not needed, delete it with \`mlflow-dev down --volumes --yes\`. Nothing was started or written.`,
        );
    }
  }

  await checkPorts(t, running, docker);
  await checkImages(model, docker, progress, ctx.status);
  const change = versionChange(readServedVersion(ctx.stateDir), model);
  if (change.kind === "downgrade") throw downgradeRefused(change, ctx.stateDir);

  ensureStateDir(ctx.stateDir);
  if (ctx.identity) {
    const said = describeIdentity(ctx.identity);
    if (said) progress(said);
    recordProjectIdentity(ctx.stateDir, ctx.identity);
  }
  const written = writeLocalFiles(ctx.stateDir, model, { specDir: specDirFromState, projectName: project });
  if (written.secretsAdded.length > 0)
    progress(`generated ${written.secretsAdded.length} secret(s) into ${paths.envFile}`);
  if (change.kind === "upgrade" && (await docker.volumeExists(`${project}_${VOLUME.postgres}`)))
    await prepareUpgrade(ctx, compose, before, change);
  await buildMlflowImage(model, compose, progress, ctx.status);
  progress(`starting ${project} (compose file ${paths.composeFile})`);
  const started = Date.now();
  try {
    // Compose starts the containers in their dependency order; readiness is watched here, every
    // 200 ms, rather than by `--wait`, which sees the server only when Docker next runs its check.
    await compose.up({ wait: false, timeoutSeconds: 300, onOutput: (line) => progress(line) });
    await waitForStartUp(ctx, 300_000);
  } catch (e) {
    const services: ServiceState[] = await docker.projectServices(project).catch(() => []);
    const failed = failedServices(services, model.target.objectStore);
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
    // Compose's own words when compose failed (a port taken, an image missing): often the cause.
    const composeSaid =
      e instanceof ComposeCommandError ? `\n  docker compose said:\n${indent(lastLines(e.output, 15))}` : "";
    // Only services with a container have logs to read; the network holder's are empty.
    const readable = failed.filter((name) => name !== SERVICE.network && services.some((s) => s.service === name));
    throw new LocalStackError(
      failed.length
        ? `the local stack did not become healthy (failing: ${failed.join(", ")}):\n${logs.join("\n")}${composeSaid}`
        : `the local stack did not become healthy:${composeSaid || `\n${(e as Error).message}`}`,
      readable.length
        ? `See \`mlflow-dev logs ${readable[0]}\`; fix the cause and run \`mlflow-dev up\` again.`
        : "Fix what docker compose reports above (or run `mlflow-dev doctor`), then run `mlflow-dev up` again.",
      readable,
    );
  }
  progress(`healthy after ${((Date.now() - started) / 1000).toFixed(1)}s`);
  if (change.kind !== "none") recordServedVersion(ctx.stateDir, model.mlflow.version);
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

/**
 * Refuses ports of the spec that something other than this stack holds, naming the holder (another
 * checkout's stack, a container) when Docker knows it.
 */
export async function checkPorts(
  t: LocalTarget,
  ownRunning: ServiceState[],
  docker?: Pick<ContainerClient, "publishedPorts">,
): Promise<void> {
  const ours = new Set(ownRunning.flatMap((s) => s.ports.map((p) => Number(p.split(":")[1]?.split("->")[0]))));
  const taken: TakenPort[] = [];
  for (const [key, port] of Object.entries(t.ports) as Array<[keyof LocalTarget["ports"], number]>) {
    if (port === undefined || ours.has(port)) continue;
    if (!(await portIsFree(t.bindAddress, port))) taken.push({ address: t.bindAddress, port, key: PORT_KEYS[key] });
  }
  if (taken.length === 0) return;
  const holders = docker ? await docker.publishedPorts().catch(() => []) : [];
  const { message, hint } = portClash(taken, holders);
  throw new LocalStackError(message, hint);
}

/**
 * What a build's output becomes: each step once as a progress line (`building <tag>: step 3/12:
 * RUN ...`); the steps' own output (pip's, apt's) only as the status, which a terminal shows in
 * place and a heartbeat names elsewhere. The whole output stays in the build's error.
 */
export function buildOutputReporter(
  tag: string,
  progress: (m: string) => void,
  status: (text: string) => void,
): (line: string) => void {
  let step = "";
  const seen = new Set<string>();
  return (line) => {
    const s = buildStep(line);
    if (s) {
      step = `step ${s.n}/${s.of}`;
      const said = describeStep(s);
      if (!seen.has(said)) progress(`building ${tag}: ${said}`);
      seen.add(said);
    } else if (line.trim()) status(`building ${tag}${step ? ` (${step})` : ""}: ${shorten(line)}`);
  };
}

/**
 * The MLflow image of a `build:` (the default, or images.build): built before the stack starts, with
 * its progress shown. Docker's layer cache makes a build of unchanged files take seconds; the first
 * one installs the hashed lock (about 850 MB of Python packages).
 */
async function buildMlflowImage(
  model: LocalModel,
  compose: ComposeClient,
  progress: (m: string) => void,
  status: (text: string) => void = () => {},
) {
  const image = model.mlflow.image;
  if (image.kind !== "build") return;
  progress(
    `building ${image.tag} (${describeImageOrigin(image, model.mlflow.version)}); the first build installs the Python packages and takes minutes, later ones seconds`,
  );
  const started = Date.now();
  try {
    await compose.build({ service: SERVICE.mlflow, onOutput: buildOutputReporter(image.tag, progress, status) });
  } catch (e) {
    const said = e instanceof ComposeCommandError ? `\n  docker compose said:\n${indent(lastLines(e.output, 15))}` : "";
    throw new LocalStackError(
      `the MLflow image ${image.tag} could not be built${said}`,
      image.origin.from === "default"
        ? `The default build needs its Python base (${image.baseImage ?? "the Dockerfile's"}) and the package index; offline, name a local Python base with MLFLOW_DEV_IMAGES="mlflow-base=REF", or a built MLflow image with MLFLOW_DEV_IMAGES="mlflow=REF". Nothing was started.`
        : "Fix the build (images.build in the spec), then run up again. Nothing was started.",
    );
  }
  progress(`built ${image.tag} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function checkImages(
  model: LocalModel,
  docker: ContainerClient,
  progress: (m: string) => void,
  status: (text: string) => void = () => {},
): Promise<void> {
  const file = toComposeFile(model);
  const missing: string[] = [];
  // A built image (and every service that runs it, as the migration does) is never pulled.
  const checked = new Set<string>(
    Object.values(file.services)
      .filter((svc) => svc.build !== undefined)
      .map((svc) => String(svc.image)),
  );
  for (const [name, svc] of Object.entries(file.services)) {
    if (svc.build !== undefined) continue;
    const ref = String(svc.image);
    // Several services share an image: each is looked up, and pulled, once.
    if (checked.has(ref)) continue;
    checked.add(ref);
    if (await docker.imageExists(ref)) continue;
    progress(`pulling ${ref} (needed by ${name})`);
    // Bytes and layers as the engine reports them: in place on a terminal, in the heartbeat elsewhere.
    const pull = new PullProgress();
    const started = Date.now();
    try {
      await docker.pullImage(ref, (m) => {
        pull.update(m);
        status(`pulling ${describePull(ref, pull.summary())}`);
      });
      progress(describePulled(ref, pull.summary(), Date.now() - started));
    } catch (e) {
      missing.push(`${ref}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  if (missing.length > 0)
    throw new LocalStackError(
      `image${missing.length > 1 ? "s" : ""} not available locally and could not be pulled:\n  ${missing.join("\n  ")}`,
      'Check the image names under images: in the spec. Offline, build or load the images and name them in MLFLOW_DEV_IMAGES="mlflow=REF,postgres=REF,versitygw=REF" (minio=REF on MinIO). Nothing was started.',
    );
}

/**
 * Waits until the start-up is ready (startUpProgress) or has failed, with the server's health
 * asked directly (serverHealthAsked).
 */
async function waitForStartUp(ctx: LocalStackContext, timeoutMs: number): Promise<void> {
  let waitingOn: string[] = [];
  await poll({
    intervalMs: 200,
    timeoutMs,
    check: async () => {
      const progress = startUpProgress(await localStackStatus(ctx), ctx.model.target.objectStore);
      if (progress.phase === "failed") throw new Error(progress.why.join("; "));
      if (progress.phase === "ready") return true;
      waitingOn = progress.on;
      return undefined;
    },
    onTimeout: () => new Error(`${waitingOn.join(", ")} not ready after ${timeoutMs / 1000}s`),
  });
}

function healthUrl(model: LocalModel): string {
  return `${mlflowUrl(model)}${model.mlflow.healthPath}`;
}

/**
 * The services' states as Docker reports them, except the server's health while Docker has not
 * yet run its check: Docker probes every 5 s (the ECS minimum, the same check as the task's),
 * first one interval after the start, so a running server whose health path answers 200 when
 * asked is healthy already. A verdict Docker has reached (healthy or unhealthy) is never
 * overridden.
 */
async function serverHealthAsked(model: LocalModel, services: ServiceState[]): Promise<ServiceState[]> {
  const server = services.find((s) => s.service === SERVICE.mlflow);
  if (server?.state !== "running" || server.health !== "starting") return services;
  if (!(await answersHealth(healthUrl(model)))) return services;
  return services.map((s) => (s === server ? { ...s, health: "healthy" } : s));
}

/** One GET of the health path: 200 within 2 s. */
async function answersHealth(url: string): Promise<boolean> {
  const { origin, pathname, search } = new URL(url);
  const r = await new MlflowClient(origin, { retry: false, timeoutMs: 2000 })
    .exchange("GET", `${pathname}${search}`)
    .catch(() => undefined);
  return r?.status === 200;
}

export async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const { origin, pathname, search } = new URL(url);
  try {
    await waitUntilReady(new MlflowClient(origin), {
      timeoutMs,
      intervalMs: 500,
      checks: [healthCheck({ path: `${pathname}${search}`, timeoutMs: 3000 })],
    });
  } catch (e) {
    if (!(e instanceof NotReadyError)) throw e;
    throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000}s (last: ${e.last})`);
  }
}

export interface DownOptions {
  volumes: boolean;
}

export async function downLocalStack(ctx: LocalStackContext, options: DownOptions): Promise<ServiceState[]> {
  const compose = composeClient(ctx);
  await assertDockerReachable(ctx.docker, compose);
  const project = ctx.project;
  const before = await ctx.docker.projectServices(project);
  await compose.down(options);
  // The database is gone with its volume: no MLflow version has served the next one.
  if (options.volumes) forgetServedVersion(ctx.stateDir);
  return before;
}

function downgradeRefused(change: { from: string; to: string }, stateDir: string): LocalStackError {
  const backup = listBackups(stateDir).find((f) => f.includes(`-mlflow-`) && f.endsWith(`-to-${change.from}.sql.gz`));
  return new LocalStackError(
    `mlflow.version is ${change.to}, but MLflow ${change.from} last served this stack's database: a downgrade is refused (MLflow cannot run on a schema a newer version migrated). Nothing was changed`,
    backup
      ? `Set mlflow.version back to ${change.from}. To go back to the data before the upgrade, restore ${backup} into the stack of the older version (see "Upgrading MLflow" in the README).`
      : `Set mlflow.version back to ${change.from}.`,
    [],
    { invalidInput: true },
  );
}

/**
 * Before a version upgrade: the server is stopped (MLflow supports no mixed-version writers) and
 * the database dumped into the stack's backups; the migration job then upgrades the schema.
 */
async function prepareUpgrade(
  ctx: LocalStackContext,
  compose: ComposeClient,
  before: ServiceState[],
  change: { from: string; to: string },
): Promise<void> {
  const { docker, progress, model } = ctx;
  progress(`upgrading MLflow ${change.from} -> ${change.to}: stopping the server, then backing up the database`);
  for (const s of before.filter((x) => x.service === SERVICE.mlflow && x.state === "running"))
    await docker.stopContainer(s.container, 30);
  await compose.up({ wait: true, timeoutSeconds: 120, services: [SERVICE.postgres] });
  const postgres = (await docker.projectServices(ctx.project)).find((s) => s.service === SERVICE.postgres);
  if (!postgres) throw new LocalStackError("the postgres service did not start", "Run `mlflow-dev doctor`.");
  const db = model.database;
  const path = await writeBackup(ctx.stateDir, backupName(change.from, change.to, new Date()), async (out) => {
    const r = await docker.execToStream(
      postgres.container,
      ["pg_dump", "--clean", "--if-exists", "--no-owner", "-U", db.user, "-d", db.name],
      out,
    );
    out.end();
    if (r.exitCode !== 0) throw new Error(r.stderr.trim() || `pg_dump exited with code ${r.exitCode}`);
  }).catch((e: Error) => {
    throw new LocalStackError(
      `the backup before the upgrade failed: ${e.message}`,
      "The server is stopped and the database unchanged; fix the cause and run `mlflow-dev up` again.",
    );
  });
  progress(`backed up the database of MLflow ${change.from} to ${path}`);
}

/** The stack's services for `up`, `status` and `doctor` (the server's health asked, serverHealthAsked). */
export async function localStackStatus(
  ctx: Pick<LocalStackContext, "model" | "project" | "docker">,
): Promise<ServiceState[]> {
  return serverHealthAsked(ctx.model, await ctx.docker.projectServices(ctx.project));
}
