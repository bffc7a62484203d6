import { effectivePool, poolSettings, workerConcurrency } from "./connection-budget.ts";
import { resolveHealthCheck } from "./health-check.ts";
import { localBuildTag } from "./image-ref.ts";
import { largeArtifactEnvironment } from "./large-artifacts.ts";
import type {
  Artifacts,
  AwsNetwork,
  AwsTarget,
  ImageSource,
  LocalModel,
  LocalTarget,
  MlflowServer,
  Model,
} from "./model.ts";
import {
  DEFAULT_MLFLOW_BASE_IMAGE,
  DEFAULT_MLFLOW_VERSION,
  MLFLOW_CONTAINER_PORT,
  POSTGRES_PORT,
  SHIPPED_MLFLOW_CONTEXT,
  upstreamMinioImage,
  upstreamMlflowImage,
  upstreamPostgresImage,
  upstreamVersitygwImage,
} from "./pins.ts";
import {
  commonServerEnvironment,
  DB_URI_EXPORT,
  resolveServerCommand,
  SERVER_TUNING,
  serverSecrets,
  WORKER_CONCURRENCY_VARIABLE,
} from "./runtime-contract.ts";
import type { Spec } from "./schema.ts";
import { environmentTaskSize, type ResolvedTaskSize, serverProcesses } from "./task-size.ts";

/** Image references that replace the spec's (or the defaults) at run time, e.g. images built offline. */
export interface ImageOverrides {
  mlflow?: string;
  postgres?: string;
  versitygw?: string;
  minio?: string;
  /** The Python base the default MLflow build starts from (an offline machine's own). */
  mlflowBase?: string;
  /** Where they came from (an environment variable's name), for messages. Default MLFLOW_DEV_IMAGES. */
  variable?: string;
}

export class UnknownEnvironmentError extends Error {
  readonly environment: string;
  readonly available: string[];
  constructor(environment: string, available: string[]) {
    super(
      `environment "${environment}" is not defined in the spec. Defined: ${available.length ? available.join(", ") : "(none)"}`,
    );
    this.name = "UnknownEnvironmentError";
    this.environment = environment;
    this.available = available;
  }
}

export function environmentNames(spec: Spec): string[] {
  return Object.keys(spec.environments).filter((k) => spec.environments[k] !== undefined);
}

/** The local environment's Model, narrowed by its target; undefined for an AWS environment's. */
export function asLocalModel(model: Model): LocalModel | undefined {
  return model.target.kind === "local" ? (model as LocalModel) : undefined;
}

/** Spec + environment name -> Model. Pure. */
export function resolve(spec: Spec, environment: "local", overrides?: ImageOverrides): LocalModel;
export function resolve(spec: Spec, environment: string, overrides?: ImageOverrides): Model;
export function resolve(spec: Spec, environment: string, overrides: ImageOverrides = {}): Model {
  const names = environmentNames(spec);
  if (!names.includes(environment)) throw new UnknownEnvironmentError(environment, names);

  const artifacts = resolveArtifacts(spec, environment);
  const target = environment === "local" ? resolveLocal(spec, overrides) : resolveAws(spec, environment);
  const size = environmentTaskSize(spec, environment);
  return {
    name: spec.name,
    environment,
    mlflow: resolveMlflow(spec, environment, size, overrides),
    resources: { cpu: size.cpu, memory: size.memory, source: size.source },
    database: {
      engine: "postgres",
      majorVersion: spec.backend.postgresVersion,
      name: spec.backend.database,
      user: spec.backend.user,
      port: POSTGRES_PORT,
    },
    artifacts,
    gc: { olderThanDays: spec.gc.olderThanDays, ...(spec.gc.schedule ? { schedule: spec.gc.schedule } : {}) },
    target,
    parity: { declared: spec.parity.declared.map((d) => ({ setting: d.setting, reason: d.reason })) },
  };
}

function resolveArtifacts(spec: Spec, environment: string): Artifacts {
  const env = environment === "local" ? undefined : spec.environments[environment];
  const bucket = (env && "bucket" in env && env.bucket) || spec.artifacts.bucket;
  return {
    bucket,
    prefix: spec.artifacts.prefix,
    destination: `s3://${bucket}/${spec.artifacts.prefix}`,
    lifecycle: { ...spec.artifacts.lifecycle },
    largestGiB: spec.artifacts.largestGiB,
  };
}

function resolveImage(spec: Spec, overrides: ImageOverrides): ImageSource {
  if (overrides.mlflow)
    return {
      kind: "pull",
      ref: overrides.mlflow,
      origin: { from: "override", variable: overrides.variable ?? "MLFLOW_DEV_IMAGES" },
    };
  if (spec.images.build) {
    const b = spec.images.build;
    return {
      kind: "build",
      context: b.context,
      ...(b.baseImage ? { baseImage: b.baseImage } : {}),
      tag: localBuildTag(spec.name, spec.mlflow.version),
      origin: { from: "spec" },
    };
  }
  if (spec.images.mlflow) return { kind: "pull", ref: spec.images.mlflow, origin: { from: "spec" } };
  // The pinned version: the shipped images/mlflow, built here as CI builds it. Another version has
  // no lock of its own in this release: MLflow's published image of that version.
  if (spec.mlflow.version === DEFAULT_MLFLOW_VERSION)
    return {
      kind: "build",
      context: SHIPPED_MLFLOW_CONTEXT,
      baseImage: overrides.mlflowBase ?? DEFAULT_MLFLOW_BASE_IMAGE,
      tag: localBuildTag(spec.name, spec.mlflow.version),
      origin: { from: "default" },
    };
  return { kind: "pull", ref: upstreamMlflowImage(spec.mlflow.version), origin: { from: "default" } };
}

/** The environment's own server settings (`environments.<env>.mlflow`), empty when absent. */
function environmentServerSettings(
  spec: Spec,
  environment: string,
): { env: Record<string, string>; extraArgs: string[] } {
  const own = spec.environments[environment]?.mlflow;
  return { env: { ...(own?.env ?? {}) }, extraArgs: [...(own?.extraArgs ?? [])] };
}

/** Exit code of the migration when the database's schema is newer than the image's MLflow knows. */
export const MIGRATION_EXIT_NEWER_SCHEMA = 3;

/**
 * The schema step, the same job locally and as the ECS migration task. It reads the database's
 * schema revision first: at the head of this MLflow version, nothing is done (the cheap, common
 * case); a revision this MLflow does not know (a newer version migrated it) is refused with exit
 * code 3, since MLflow cannot run on a newer schema and alembic would only say "Can't locate
 * revision"; otherwise the schema is created (empty database) or upgraded, by the routine the
 * server itself runs at start-up (`mlflow db upgrade` alone fails on an empty database).
 */
const MIGRATION_PROGRAM = [
  "import glob, importlib.metadata, importlib.util, os, re, sys",
  // The fast path (well under a second): the heads read from the text of the migration files and
  // the database's revision over psycopg2, without importing MLflow (about 3 s of CPU) or loading
  // the migration modules. Anything unexpected (a file it cannot read, no revision table, no
  // connection) falls through to the full check below, which is the authority.
  "def fast_heads():",
  "    try:",
  "        root = importlib.util.find_spec('mlflow').submodule_search_locations[0]",
  "        files = [f for f in glob.glob(os.path.join(root, 'store', 'db_migrations', 'versions', '*.py')) if not f.endswith('__init__.py')]",
  "        revisions, parents = set(), set()",
  "        for f in files:",
  "            text = open(f, encoding='utf-8').read()",
  String.raw`            r = re.search(r'^revision(?:\s*:\s*[\w\[\], ]+)?\s*=\s*[\'"](\w+)[\'"]', text, re.M)`,
  String.raw`            d = re.search(r'^down_revision(?:\s*:\s*[^=\n]+)?\s*=\s*(.+)$', text, re.M)`,
  "            if r: revisions.add(r.group(1))",
  String.raw`            if d: parents.update(re.findall(r'[\'"](\w+)[\'"]', d.group(1)))`,
  "        return revisions - parents if files and len(revisions) == len(files) else None",
  "    except Exception:",
  "        return None",
  // Locally the job starts with PostgreSQL, not after its health check: it waits here, up to two
  // minutes, while the server is not accepting connections yet (refused, starting up, no such host
  // yet); any other failure (a wrong password, a missing database) is not waited on.
  "def fast_current():",
  "    try:",
  "        import psycopg2, time",
  "        uri = os.environ['MLFLOW_BACKEND_STORE_URI'].replace('postgresql+psycopg2://', 'postgresql://', 1)",
  "        deadline = time.monotonic() + 120",
  "        while True:",
  "            try:",
  "                connection = psycopg2.connect(uri, connect_timeout=10)",
  "                break",
  "            except psycopg2.OperationalError as e:",
  "                waiting = ('Connection refused', 'starting up', 'could not translate host name', 'No such file or directory', 'timeout expired')",
  "                if time.monotonic() > deadline or not any(w in str(e) for w in waiting):",
  "                    return None",
  "                time.sleep(0.1)",
  "        with connection, connection.cursor() as cur:",
  "            cur.execute('SELECT version_num FROM alembic_version')",
  "            return {row[0] for row in cur.fetchall()}",
  "    except Exception:",
  "        return None",
  "quick = fast_heads()",
  "if quick and fast_current() == quick:",
  '    print(f\'mlflow database schema is at the head of MLflow {importlib.metadata.version("mlflow")} ({" ".join(sorted(quick))}): nothing to do\')',
  "    sys.exit(0)",
  "import mlflow, mlflow.store.db_migrations as migrations",
  "from alembic.config import Config",
  "from alembic.runtime.migration import MigrationContext",
  "from alembic.script import ScriptDirectory",
  "from mlflow.store.db import utils",
  "engine = utils.create_sqlalchemy_engine_with_retry(os.environ['MLFLOW_BACKEND_STORE_URI'])",
  "config = Config()",
  "config.set_main_option('script_location', os.path.dirname(migrations.__file__))",
  "script = ScriptDirectory.from_config(config)",
  "heads = set(script.get_heads())",
  "with engine.connect() as connection:",
  "    current = set(MigrationContext.configure(connection).get_current_heads())",
  "def known(revision):",
  "    try:",
  "        return script.get_revision(revision) is not None",
  "    except Exception:",
  "        return False",
  "version = mlflow.__version__",
  "if current and current == heads:",
  "    print(f'mlflow database schema is at the head of MLflow {version} ({\" \".join(sorted(heads))}): nothing to do')",
  "    sys.exit(0)",
  "newer = sorted(r for r in current if not known(r))",
  "if newer:",
  '    print(f\'mlflow-dev: the database schema (revision {" ".join(newer)}) is newer than MLflow {version} knows (its head: {" ".join(sorted(heads))}): a newer MLflow migrated it, and MLflow cannot run on a newer schema. Set mlflow.version back to that version, or restore the backup taken before the upgrade.\', file=sys.stderr)',
  `    sys.exit(${MIGRATION_EXIT_NEWER_SCHEMA})`,
  "utils._initialize_tables(engine)",
  'print(f\'mlflow database schema {"upgraded from " + " ".join(sorted(current)) if current else "created"} to {" ".join(sorted(heads))} (MLflow {version})\')',
].join("\n");

const MIGRATION_SCRIPT = [DB_URI_EXPORT, "exec python - <<'PY'", MIGRATION_PROGRAM, "PY"].join("\n");

function resolveMlflow(
  spec: Spec,
  environment: string,
  size: ResolvedTaskSize,
  overrides: ImageOverrides,
): MlflowServer {
  const m = spec.mlflow;
  const processes = serverProcesses(spec, size.cpu);
  const own = environmentServerSettings(spec, environment);
  return {
    version: m.version,
    image: resolveImage(spec, overrides),
    port: MLFLOW_CONTAINER_PORT,
    healthPath: "/health",
    entrypoint: ["/bin/sh", "-c"],
    server: resolveServerCommand({
      workers: processes.workers,
      proxyArtifacts: m.proxyArtifacts,
      auth: m.auth,
      authCacheTtlSeconds: m.authCacheTtlSeconds,
      jobs: processes.jobs,
      extraArgs: [
        { args: m.extraArgs, source: "mlflow.extraArgs" },
        { args: own.extraArgs, source: `environments.${environment}.mlflow.extraArgs` },
      ],
    }),
    migration: { entrypoint: ["/bin/sh", "-c"], command: [MIGRATION_SCRIPT] },
    environment: withWorkerConcurrency({
      ...commonServerEnvironment({
        user: spec.backend.user,
        database: spec.backend.database,
        port: POSTGRES_PORT,
        jobs: processes.jobs,
      }),
      ...SERVER_TUNING,
      ...poolEnvironment(spec, environment),
      ...largeArtifactEnvironment({ largestGiB: spec.artifacts.largestGiB, proxyArtifacts: m.proxyArtifacts }),
      ...own.env,
    }),
    secrets: serverSecrets(m.auth),
    healthCheck: resolveHealthCheck(spec, size.cpu, processes),
    workers: processes.workers,
    jobs: processes.jobs,
    auth: m.auth,
    proxyArtifacts: m.proxyArtifacts,
    allowedHosts: [...m.allowedHosts],
  };
}

/** The database pool's variables: sized to the database's connection budget (connection-budget.ts). */
function poolEnvironment(spec: Spec, environment: string): Record<string, string> {
  const { poolSize, maxOverflow } = poolSettings(spec, environment);
  return {
    MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: String(poolSize),
    MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: String(maxOverflow),
  };
}

/**
 * The server's environment with how many requests each worker serves at once, from the pool it
 * runs (mlflow-dev's, or the one mlflow.env sets, read as MLflow reads it): `workerConcurrency`.
 */
function withWorkerConcurrency(environment: Record<string, string>): Record<string, string> {
  const pool = effectivePool(environment);
  return {
    ...environment,
    [WORKER_CONCURRENCY_VARIABLE]: String(workerConcurrency(pool.poolSize + pool.maxOverflow)),
  };
}

function resolveLocal(spec: Spec, overrides: ImageOverrides): LocalTarget {
  const local = spec.environments.local;
  if (!local) throw new Error("internal error: resolveLocal without a local environment");
  return {
    kind: "local",
    bindAddress: local.bindAddress,
    ports: { ...local.ports },
    images: {
      postgres: overrides.postgres ?? spec.images.postgres ?? upstreamPostgresImage(spec.backend.postgresVersion),
      objectStore:
        spec.artifacts.localServer === "minio"
          ? (overrides.minio ?? spec.images.minio ?? upstreamMinioImage())
          : (overrides.versitygw ?? spec.images.versitygw ?? upstreamVersitygwImage()),
    },
    objectStore: spec.artifacts.localServer,
    region: "us-east-1",
  };
}

function resolveAws(spec: Spec, environment: string): AwsTarget {
  const env = spec.environments[environment];
  if (!env || !("region" in env)) throw new Error(`internal error: ${environment} is not an AWS environment`);
  const n = env.network;
  const network: AwsNetwork =
    n.vpcId !== undefined
      ? {
          mode: "existing",
          vpcId: n.vpcId,
          publicSubnetIds: [...(n.publicSubnetIds ?? [])],
          privateSubnetIds: [...(n.privateSubnetIds ?? [])],
          egress: n.egress ?? "nat",
        }
      : { mode: "new", cidr: n.cidr ?? "10.0.0.0/16", egress: n.egress ?? "nat" };
  const access = env.access;
  return {
    kind: "aws",
    region: env.region,
    account: env.account,
    network,
    desiredCount: env.desiredCount,
    ...(env.autoscaling ? { autoscaling: { ...env.autoscaling } } : {}),
    database: { ...env.database },
    access: {
      loadBalancer: access.loadBalancer,
      // An internal load balancer in a new VPC admits the VPC; an existing VPC's blocks are listed (validation).
      sourceCidrs: [...(access.sourceCidrs ?? (network.mode === "new" ? [network.cidr] : []))],
      ...(access.openToInternet ? { openToInternet: { reason: access.openToInternet.reason } } : {}),
    },
    ...(env.domain ? { domain: env.domain } : {}),
    ...(env.certificateArn ? { certificateArn: env.certificateArn } : {}),
    logRetentionDays: env.logRetentionDays,
    tags: { ...env.tags },
  };
}
