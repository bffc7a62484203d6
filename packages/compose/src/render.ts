import {
  compareCodeUnits,
  HEALTH_CHECK_INTERVAL_SECONDS,
  HEALTH_CHECK_TIMEOUT_SECONDS,
  LOCAL_DATABASE_HOST,
  type LocalModel,
  type LocalTarget,
  localAllowedHosts,
  s3Endpoint as localS3Endpoint,
  MINIO_CONSOLE_PORT,
  MINIO_SERVER_ACCESS_KEY,
  MLFLOW_DEV_VERSION,
  RUNTIME_BINDINGS,
  SERVER_HARDENING,
  serverCommand,
} from "@mlflow-dev/spec";
import { stringify } from "yaml";
import { serverArtifactStatements } from "./artifact-policy.ts";
import { LOCAL_SECRET_VARS } from "./env-file.ts";
import {
  VERSITYGW_BUCKETS_DIR,
  VERSITYGW_DATA,
  VERSITYGW_HEALTH_PATH,
  VERSITYGW_IAM_DIR,
  VERSITYGW_SETUP_SCRIPT,
  versitygwServerPolicy,
} from "./versitygw.ts";

export const SERVICE = {
  network: "network",
  postgres: LOCAL_DATABASE_HOST,
  versitygw: "versitygw",
  versitygwSetup: "versitygw-setup",
  minio: "minio",
  migrate: "migrate",
  mlflow: "mlflow",
} as const;

export const VOLUME = { postgres: "postgres-data", versitygw: "versitygw-data", minio: "minio-data" } as const;

/**
 * The compose services of a local object store: the long-running server and the one-off jobs `up`
 * waits for (MinIO sets its bucket up itself; versitygw's set-up is a job, see versitygw.ts).
 */
export function objectStoreServices(store: LocalTarget["objectStore"]): { server: string; jobs: string[] } {
  return store === "minio"
    ? { server: SERVICE.minio, jobs: [] }
    : { server: SERVICE.versitygw, jobs: [SERVICE.versitygwSetup] };
}

export interface ComposeRenderOptions {
  /** Path from the directory compose.yaml is written to, to the spec's directory (for build contexts). */
  specDir?: string;
  /**
   * The compose project (the file's `name:`): the checkout's, which `up` finds (compose/runtime's
   * projectIdentity). Without it, `mlflow-dev-<spec name>`.
   */
  projectName?: string;
}

type Service = Record<string, unknown>;

export interface ComposeFile {
  name: string;
  services: Record<string, Service>;
  volumes: Record<string, Record<string, never>>;
}

/** Compose interpolates `$`; literal dollars in commands and values must be doubled. */
export function escapeDollars(s: string): string {
  return s.replaceAll("$", () => "$$");
}

function required(variable: string): string {
  return `\${${variable}:?${variable} is not set: run mlflow-dev up (it writes .env)}`;
}

function sortedRecord(entries: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).sort(([a], [b]) => compareCodeUnits(a, b)));
}

/**
 * Where MinIO's console listens in the namespace it shares with the server: its published port, or
 * when unpublished MINIO_CONSOLE_PORT (the next one when the S3 API has that number). versitygw's
 * web console runs only when published (ports.minioConsole).
 */
export function minioConsoleListenPort(t: LocalTarget): number {
  if (t.ports.minioConsole !== undefined) return t.ports.minioConsole;
  return t.ports.minio === MINIO_CONSOLE_PORT ? MINIO_CONSOLE_PORT + 1 : MINIO_CONSOLE_PORT;
}

function publish(target: LocalTarget, hostPort: number, containerPort: number): string {
  return `${target.bindAddress}:${hostPort}:${containerPort}`;
}

function mlflowImage(model: LocalModel, specDir: string): Service {
  const image = model.mlflow.image;
  if (image.kind === "pull") return { image: image.ref };
  return {
    image: image.tag,
    build: {
      context: specDir === "." ? image.context : `${specDir}/${image.context}`,
      ...(image.baseImage ? { args: { BASE_IMAGE: image.baseImage } } : {}),
    },
  };
}

/** The S3 endpoint of the local stack (the runtime contract's MLFLOW_S3_ENDPOINT_URL). */
export const s3Endpoint: (model: LocalModel) => string = localS3Endpoint;

/**
 * The MLflow server's environment on the local runtime: the Model's common settings, then the
 * runtime bindings' local values (runtime-contract.ts), then the secrets from .env.
 */
export function mlflowEnvironment(model: LocalModel): Record<string, string> {
  const env: Record<string, string> = Object.fromEntries(
    Object.entries(model.mlflow.environment).map(([k, v]) => [k, escapeDollars(v)]),
  );
  for (const binding of RUNTIME_BINDINGS) {
    const local = binding.local;
    if (local === undefined) continue;
    env[binding.name] = "secret" in local ? required(LOCAL_SECRET_VARS[local.secret]) : local.value(model);
  }
  for (const ref of model.mlflow.secrets) env[ref.env] = required(LOCAL_SECRET_VARS[ref.name]);
  return sortedRecord(env);
}

/** Host headers the local server accepts (the runtime contract's MLFLOW_SERVER_ALLOWED_HOSTS). */
export const allowedHosts: (model: LocalModel) => string[] = localAllowedHosts;

/**
 * The Fargate task size as Docker limits: the same CFS CPU quota (1024 units = 1 CPU) and a hard
 * memory limit with no swap (Fargate tasks have none), so the local container is OOM-killed where
 * the task would be.
 */
export function toLimits(model: LocalModel): Service {
  const { cpu, memory } = model.resources;
  return { cpus: String(cpu / 1024), mem_limit: `${memory}m`, memswap_limit: `${memory}m` };
}

/**
 * SERVER_HARDENING in Compose form, for the server and the migration: the user, the read-only
 * root, capabilities, init and the scratch volume (a named volume: disk, as the task's ephemeral
 * storage; `down --volumes` removes it with the rest).
 */
export function toHardening(): Service {
  return {
    user: SERVER_HARDENING.user,
    read_only: SERVER_HARDENING.readOnlyRootFilesystem,
    cap_drop: [...SERVER_HARDENING.dropCapabilities],
    init: SERVER_HARDENING.init,
    volumes: [`${SERVER_HARDENING.scratchVolume}:${SERVER_HARDENING.scratchPath}`],
  };
}

/**
 * A compose health check. Docker runs the first probe one interval after the start (engine 20.10
 * has no start_interval), and then every interval for as long as the stack runs: each probe is a
 * process started in the container through the engine (runc), tens of milliseconds of CPU. The
 * server keeps the task's check (HEALTH_CHECK_INTERVAL_SECONDS, the ECS minimum); `up` and `status`
 * ask its health path themselves while Docker has not run it yet (local-stack.ts). The local-only
 * services (PostgreSQL, the object store) check as often as the server (localHealthcheck): nothing
 * waits for their first verdict, since the jobs that need them wait for them themselves (the
 * migration for PostgreSQL, the bucket set-up for the object store), and the server takes longer to
 * start than one interval.
 */
function healthcheck(test: string[], interval: number, timeout: number, retries: number, startPeriod: number) {
  return {
    test: ["CMD", ...test.map(escapeDollars)],
    interval: `${interval}s`,
    timeout: `${timeout}s`,
    retries,
    start_period: `${startPeriod}s`,
  };
}

/** A local-only service's check: every HEALTH_CHECK_INTERVAL_SECONDS, unhealthy after a minute of failures. */
function localHealthcheck(test: string[], startPeriod: number) {
  const interval = HEALTH_CHECK_INTERVAL_SECONDS;
  return healthcheck(test, interval, HEALTH_CHECK_TIMEOUT_SECONDS, Math.ceil(60 / interval), startPeriod);
}

/**
 * The MinIO user the server signs in as (runtime-contract.ts); the root key stays with MinIO and
 * MinIO's own start-up (MINIO_SCRIPT).
 */
export { MINIO_SERVER_ACCESS_KEY };

const MINIO_SERVER_POLICY = "mlflow-artifacts";

/** The MinIO policy of the server's user: the task role's artifact statements. */
export function minioServerPolicy(model: LocalModel): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: serverArtifactStatements(model) });
}

/** The file MinIO's start-up writes once the bucket, the policy and the user are in place. */
export const BUCKET_READY_FILE = "/tmp/mlflow-dev-bucket-ready";

/**
 * MinIO's start-up: MinIO itself in the foreground (the container's main process), and beside
 * it, as soon as it answers, the bucket, the server's policy and user, each created or updated in
 * place (every start runs it; a user that exists gets its secret from .env again; `mc admin
 * policy attach` refuses a policy that is already attached, which is the state it is asked for).
 * Then BUCKET_READY_FILE, which the health check requires: MinIO is healthy only with its bucket
 * and user ready. If that fails, MinIO is stopped with the error in its log (up names minio).
 * No job of its own: nothing waits for a container to be created, and `docker compose up --wait`
 * on the rendered file needs no one-off service.
 */
const MINIO_SCRIPT = [
  "set -eu",
  `rm -f ${BUCKET_READY_FILE}`,
  // Each step returns on failure itself: `set -e` does not apply inside an `if` condition.
  "prepare() {",
  '  export MC_CONFIG_DIR="$(mktemp -d)" || return 1',
  '  until curl -fsS "$MLFLOW_DEV_S3_ENDPOINT/minio/health/live" >/dev/null 2>&1; do sleep 0.1; done',
  '  mc alias set local "$MLFLOW_DEV_S3_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null || return 1',
  '  mc mb --ignore-existing "local/$MLFLOW_DEV_BUCKET" || return 1',
  '  printf %s "$MLFLOW_DEV_SERVER_POLICY" > "$MC_CONFIG_DIR/policy.json" || return 1',
  `  mc admin policy create local ${MINIO_SERVER_POLICY} "$MC_CONFIG_DIR/policy.json" >/dev/null || return 1`,
  '  mc admin user add local "$MLFLOW_DEV_SERVER_ACCESS_KEY" "$MLFLOW_DEV_SERVER_SECRET_KEY" >/dev/null || return 1',
  `  if ! out=$(mc admin policy attach local ${MINIO_SERVER_POLICY} --user "$MLFLOW_DEV_SERVER_ACCESS_KEY" 2>&1); then`,
  '    case "$out" in *"already in effect"*) ;; *) echo "$out" >&2; return 1 ;; esac',
  "  fi",
  `  echo "bucket $MLFLOW_DEV_BUCKET ready; user $MLFLOW_DEV_SERVER_ACCESS_KEY may use s3://$MLFLOW_DEV_BUCKET/${"$"}{MLFLOW_DEV_PREFIX}/ only"`,
  "}",
  `(if prepare; then touch ${BUCKET_READY_FILE}; else echo "mlflow-dev: the bucket, policy or user could not be set up (above); stopping MinIO" >&2; kill -TERM 1; fi) &`,
  'exec minio server /data --address "$MLFLOW_DEV_MINIO_ADDRESS" --console-address "$MLFLOW_DEV_MINIO_CONSOLE_ADDRESS"',
].join("\n");

/** Holds the network namespace the server and MinIO share; does nothing else. */
const NETWORK_HOLDER_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $$!; done";

/** Model (local environment) -> the Compose file object. Pure. */
export function toComposeFile(model: LocalModel, options: ComposeRenderOptions = {}): ComposeFile {
  const t = model.target;
  const specDir = options.specDir ?? ".";
  const db = model.database;
  const mlflowEnv = mlflowEnvironment(model);
  const image = mlflowImage(model, specDir);
  // The migration job reuses the server image; only the server itself carries the build section.
  const jobImage = { image: image.image };
  const hc = model.mlflow.healthCheck;
  const hardening = toHardening();

  // Like an ECS task's awsvpc interface: one network namespace for the server and the object store,
  // with every published port but PostgreSQL's. MinIO listens on its published port number there,
  // so the server and the host reach it at the same address.
  const shared = { network_mode: `service:${SERVICE.network}` };
  const network: Service = {
    image: t.images.postgres,
    entrypoint: ["sh", "-c", NETWORK_HOLDER_SCRIPT],
    // No check (the image's own, PostgreSQL's, is turned off): it only holds the namespace, and
    // `up` counts a running service without a check as ready.
    healthcheck: { disable: true },
    ports: [
      publish(t, t.ports.mlflow, model.mlflow.port),
      publish(t, t.ports.minio, t.ports.minio),
      ...(t.ports.minioConsole !== undefined ? [publish(t, t.ports.minioConsole, t.ports.minioConsole)] : []),
    ],
    restart: "unless-stopped",
  };

  const postgres: Service = {
    image: t.images.postgres,
    environment: sortedRecord({
      POSTGRES_DB: db.name,
      POSTGRES_USER: db.user,
      POSTGRES_PASSWORD: required(LOCAL_SECRET_VARS["db-password"]),
      PGDATA: "/var/lib/postgresql/data",
    }),
    healthcheck: localHealthcheck(["pg_isready", "-U", db.user, "-d", db.name, "-h", "127.0.0.1"], 10),
    ...(t.ports.postgres !== undefined ? { ports: [publish(t, t.ports.postgres, db.port)] } : {}),
    volumes: [`${VOLUME.postgres}:/var/lib/postgresql/data`],
    restart: "unless-stopped",
  };

  const versitygw: Service = {
    image: t.images.objectStore,
    // The image's entrypoint reads the VGW_* variables; the directories below the volume come first.
    entrypoint: ["sh", "-c", escapeDollars('mkdir -p "$VGW_BACKEND_ARG" "$VGW_IAM_DIR" && exec docker-entrypoint.sh')],
    environment: sortedRecord({
      ROOT_ACCESS_KEY: required(LOCAL_SECRET_VARS["minio-root-user"]),
      ROOT_SECRET_KEY: required(LOCAL_SECRET_VARS["minio-root-password"]),
      VGW_BACKEND: "posix",
      VGW_BACKEND_ARG: VERSITYGW_BUCKETS_DIR,
      VGW_HEALTH: VERSITYGW_HEALTH_PATH,
      VGW_IAM_DIR: VERSITYGW_IAM_DIR,
      VGW_PORT: `:${t.ports.minio}`,
      VGW_REGION: t.region,
      ...(t.ports.minioConsole !== undefined
        ? {
            VGW_WEBUI_PORT: `:${t.ports.minioConsole}`,
            VGW_WEBUI_NO_TLS: "true",
            VGW_WEBUI_GATEWAYS: s3Endpoint(model),
            VGW_WEBUI_ADMIN_GATEWAYS: s3Endpoint(model),
            VGW_CORS_ALLOW_ORIGIN: s3Endpoint(model).replace(/:\d+$/, `:${t.ports.minioConsole}`),
          }
        : {}),
    }),
    // busybox's wget in the upstream (Alpine) image, GNU wget in images/versitygw.
    healthcheck: localHealthcheck(
      ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${t.ports.minio}${VERSITYGW_HEALTH_PATH}`],
      5,
    ),
    ...shared,
    volumes: [`${VOLUME.versitygw}:${VERSITYGW_DATA}`],
    restart: "unless-stopped",
  };

  // The bucket, the server's user and its bucket policy, once versitygw answers (versitygw.ts).
  const versitygwSetup: Service = {
    ...jobImage,
    entrypoint: ["python", "-c", escapeDollars(VERSITYGW_SETUP_SCRIPT)],
    environment: sortedRecord({
      AWS_DEFAULT_REGION: t.region,
      MLFLOW_DEV_BUCKET: model.artifacts.bucket,
      MLFLOW_DEV_HEALTH_PATH: VERSITYGW_HEALTH_PATH,
      MLFLOW_DEV_PREFIX: model.artifacts.prefix,
      MLFLOW_DEV_ROOT_ACCESS_KEY: required(LOCAL_SECRET_VARS["minio-root-user"]),
      MLFLOW_DEV_ROOT_SECRET_KEY: required(LOCAL_SECRET_VARS["minio-root-password"]),
      MLFLOW_DEV_S3_ENDPOINT: s3Endpoint(model),
      MLFLOW_DEV_SERVER_ACCESS_KEY: MINIO_SERVER_ACCESS_KEY,
      MLFLOW_DEV_SERVER_POLICY: escapeDollars(versitygwServerPolicy(model)),
      MLFLOW_DEV_SERVER_SECRET_KEY: required(LOCAL_SECRET_VARS["minio-server-secret-key"]),
    }),
    depends_on: { [SERVICE.versitygw]: { condition: "service_started" } },
    ...shared,
  };

  const minio: Service = {
    image: t.images.objectStore,
    entrypoint: ["sh", "-c", escapeDollars(MINIO_SCRIPT)],
    environment: sortedRecord({
      MINIO_ROOT_USER: required(LOCAL_SECRET_VARS["minio-root-user"]),
      MINIO_ROOT_PASSWORD: required(LOCAL_SECRET_VARS["minio-root-password"]),
      MLFLOW_DEV_BUCKET: model.artifacts.bucket,
      MLFLOW_DEV_MINIO_ADDRESS: `:${t.ports.minio}`,
      MLFLOW_DEV_MINIO_CONSOLE_ADDRESS: `:${minioConsoleListenPort(t)}`,
      MLFLOW_DEV_PREFIX: model.artifacts.prefix,
      MLFLOW_DEV_S3_ENDPOINT: s3Endpoint(model),
      MLFLOW_DEV_SERVER_ACCESS_KEY: MINIO_SERVER_ACCESS_KEY,
      MLFLOW_DEV_SERVER_POLICY: escapeDollars(minioServerPolicy(model)),
      MLFLOW_DEV_SERVER_SECRET_KEY: required(LOCAL_SECRET_VARS["minio-server-secret-key"]),
    }),
    healthcheck: localHealthcheck(
      ["sh", "-c", `test -f ${BUCKET_READY_FILE} && curl -fsS http://127.0.0.1:${t.ports.minio}/minio/health/live`],
      5,
    ),
    ...shared,
    volumes: [`${VOLUME.minio}:/data`],
    restart: "unless-stopped",
  };

  // The migration runs in a task of the same size on ECS. It starts with PostgreSQL and waits for
  // it to accept connections itself, rather than a health check interval later.
  const migrate: Service = {
    ...jobImage,
    entrypoint: model.mlflow.migration.entrypoint,
    command: model.mlflow.migration.command.map(escapeDollars),
    ...hardening,
    environment: mlflowEnv,
    ...toLimits(model),
    depends_on: { [SERVICE.postgres]: { condition: "service_started" } },
  };

  // The server starts once the schema is current. The object store's bucket set-up is not on its
  // path: the server touches the object store only when a client sends or asks for an artifact, and
  // `up` returns only once MinIO is healthy (its bucket and user ready), or versitygw is healthy and
  // its set-up job done, too (local-stack.ts).

  const mlflow: Service = {
    ...image,
    entrypoint: model.mlflow.entrypoint,
    command: serverCommand(model.mlflow.server).map(escapeDollars),
    ...hardening,
    environment: mlflowEnv,
    depends_on: {
      [SERVICE.postgres]: { condition: "service_started" },
      [SERVICE.migrate]: { condition: "service_completed_successfully" },
    },
    healthcheck: healthcheck(hc.command, hc.intervalSeconds, hc.timeoutSeconds, hc.retries, hc.startPeriodSeconds),
    ...shared,
    ...toLimits(model),
    restart: "unless-stopped",
  };

  return {
    name: options.projectName ?? `mlflow-dev-${model.name}`,
    services: {
      [SERVICE.network]: network,
      [SERVICE.postgres]: postgres,
      ...(t.objectStore === "minio"
        ? { [SERVICE.minio]: minio }
        : { [SERVICE.versitygw]: versitygw, [SERVICE.versitygwSetup]: versitygwSetup }),
      [SERVICE.migrate]: migrate,
      [SERVICE.mlflow]: mlflow,
    },
    volumes: { [VOLUME.postgres]: {}, [VOLUME[t.objectStore]]: {}, [SERVER_HARDENING.scratchVolume]: {} },
  };
}

/** The first lines of every rendered compose.yaml; the first names the mlflow-dev release that wrote it. */
const HEADER = [
  `# Rendered by mlflow-dev ${MLFLOW_DEV_VERSION} from mlflow-dev.yaml: do not edit by hand (run \`mlflow-dev render --env local\`).`,
  "# Secrets are read from .env beside this file (generated by `mlflow-dev up`, never committed).",
].join("\n");

export function toComposeYaml(model: LocalModel, options: ComposeRenderOptions = {}): string {
  return `${HEADER}\n${stringify(toComposeFile(model, options), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
