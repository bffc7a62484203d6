import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { PassThrough, Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import { randomHex } from "@mlflow-dev/kernel/random";
import { poll } from "@mlflow-dev/kernel/wait";
import type { LocalModel } from "@mlflow-dev/spec";
import { LOCAL_SECRET_VARS, parseEnvFile } from "../env-file.ts";
import { SERVICE, s3Endpoint } from "../render.ts";
import { ensureDirectory, readOwnFile } from "../safe-write.ts";
import type { ContainerClient, ServiceState } from "./docker-engine.ts";
import { DumpRefused, escapeForTerminal, plainDumpFilter } from "./dump-scan.ts";
import {
  type LocalStackContext,
  LocalStackError,
  localStackStatus,
  longRunningServices,
  mlflowUrl,
  serviceHealthy,
  stackPaths,
  waitForHealth,
} from "./local-stack.ts";
import { backupsDir, recordServedVersion } from "./version-change.ts";

/**
 * `mlflow-dev backup` / `restore` of a local stack: a directory with the database (a gzip'd
 * pg_dump), every object under the artifact prefix, and a manifest with the digests of both. A
 * backup directory appears only once complete; a restore verifies every digest before it changes
 * anything.
 */

export const MANIFEST_FILE = "manifest.json";
export const DATABASE_FILE = "database.sql.gz";
export const ARTIFACTS_DIR = "artifacts";

export interface BackupObject {
  key: string;
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: 1;
  createdAt: string;
  stack: string;
  mlflowVersion: string;
  schemaRevision: string;
  database: { file: string; sha256: string; bytes: number };
  artifacts: { bucket: string; prefix: string; objects: BackupObject[] };
}

/** A backup directory's default name: sortable by time. */
export function backupDirName(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${stamp}-backup`;
}

export function defaultBackupDir(stateDir: string, now: Date): string {
  return join(backupsDir(stateDir), backupDirName(now));
}

/**
 * Whether an object key may become a file under artifacts/: under the prefix, made of plain
 * segments (no empty, `.` or `..` segment, no backslash or NUL), so no key writes outside it.
 */
export function safeObjectKey(key: string, prefix: string): boolean {
  if (!key.startsWith(`${prefix}/`) || key.includes("\\") || key.includes("\0")) return false;
  return key.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

/** Where an object of the backup goes: the same key below the stack's own prefix. */
export function restoredKey(key: string, fromPrefix: string, toPrefix: string): string {
  return `${toPrefix}/${key.slice(fromPrefix.length + 1)}`;
}

export function buildManifest(input: {
  createdAt: Date;
  stack: string;
  mlflowVersion: string;
  schemaRevision: string;
  database: { sha256: string; bytes: number };
  bucket: string;
  prefix: string;
  objects: readonly BackupObject[];
}): BackupManifest {
  return {
    format: 1,
    createdAt: input.createdAt.toISOString(),
    stack: input.stack,
    mlflowVersion: input.mlflowVersion,
    schemaRevision: input.schemaRevision,
    database: { file: DATABASE_FILE, sha256: input.database.sha256, bytes: input.database.bytes },
    artifacts: {
      bucket: input.bucket,
      prefix: input.prefix,
      objects: [...input.objects]
        .map((o) => ({ key: o.key, bytes: o.bytes, sha256: o.sha256 }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    },
  };
}

/** A backup mlflow-dev refuses to restore (nothing was changed): exit 2. */
function badBackup(message: string): LocalStackError {
  return new LocalStackError(escapeForTerminal(message), "Restore from another backup. Nothing was changed.", [], {
    invalidInput: true,
  });
}

const SHA256 = /^[0-9a-f]{64}$/;
/** What a manifest's version, revision, time and stack name are made of (they are printed). */
const PLAIN = /^[A-Za-z0-9._:+-]{1,200}$/;
const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;
const isText = (s: unknown): s is string => typeof s === "string" && s !== "";

/** The manifest in `text`, checked field by field; `where` names the file in errors. */
export function parseManifest(text: string, where: string): BackupManifest {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw badBackup(`${where} is not valid JSON (${(e as Error).message}): the backup is corrupted`);
  }
  const problems: string[] = [];
  if (m === null || typeof m !== "object") throw badBackup(`${where} is not a backup manifest`);
  if (m.format !== 1) problems.push(`format is ${JSON.stringify(m.format)}, this mlflow-dev reads format 1`);
  for (const k of ["createdAt", "stack", "mlflowVersion", "schemaRevision"] as const)
    if (!isText(m[k])) problems.push(`${k} is missing`);
    else if (!PLAIN.test(m[k])) problems.push(`${k} holds characters other than letters, digits and . _ : + -`);
  const db = m.database as Record<string, unknown> | undefined;
  if (!db || db.file !== DATABASE_FILE || !SHA256.test(String(db.sha256)) || !isCount(db.bytes))
    problems.push(`database must be { file: "${DATABASE_FILE}", sha256, bytes }`);
  const a = m.artifacts as Record<string, unknown> | undefined;
  if (!a || !isText(a.bucket) || !isText(a.prefix) || !Array.isArray(a.objects))
    problems.push("artifacts must be { bucket, prefix, objects }");
  else
    for (const [i, o] of (a.objects as Record<string, unknown>[]).entries()) {
      if (!o || !isText(o.key) || !safeObjectKey(o.key, a.prefix as string))
        problems.push(`artifacts.objects[${i}].key is not a key under the prefix ${String(a.prefix)}/`);
      else if (!SHA256.test(String(o.sha256)) || !isCount(o.bytes))
        problems.push(`artifacts.objects[${i}] (${o.key}) needs sha256 and bytes`);
    }
  if (problems.length > 0) throw badBackup(`${where} is not a valid backup manifest: ${problems.join("; ")}`);
  return m as unknown as BackupManifest;
}

/** A Transform that passes bytes on unchanged and hashes them as they go by. */
export function hashTap(): { stream: Transform; digest(): { sha256: string; bytes: number } } {
  const hash = createHash("sha256");
  let bytes = 0;
  let digest: { sha256: string; bytes: number } | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _e, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return {
    stream,
    digest: () => {
      digest ??= { sha256: hash.digest("hex"), bytes };
      return digest;
    },
  };
}

/**
 * `dir` joined with `segments`, every component below `dir` checked with lstat: each one but the
 * last a real directory, the last a regular file, none a link. undefined when a component is
 * missing. A link anywhere (`artifacts/mlflow -> /etc`) is refused, naming it.
 */
export function checkedBackupPath(dir: string, segments: readonly string[]): string | undefined {
  let path = dir;
  for (const [i, segment] of segments.entries()) {
    path = join(path, segment);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return undefined;
    const last = i === segments.length - 1;
    if (st.isSymbolicLink())
      throw badBackup(`${escapeForTerminal(path)} is a symbolic link: mlflow-dev reads no links in a backup`);
    if (last ? !st.isFile() : !st.isDirectory())
      throw badBackup(`${escapeForTerminal(path)} is not a ${last ? "regular file" : "directory"}`);
  }
  return path;
}

/**
 * A stream of a regular file (opened without following a link), or undefined when absent.
 */
function openNoFollow(path: string): NodeJS.ReadableStream | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw badBackup(`${escapeForTerminal(path)} is a symbolic link: mlflow-dev reads no links`);
    throw e;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw badBackup(`${escapeForTerminal(path)} is not a regular file (mlflow-dev reads no links)`);
  }
  return createReadStream("", { fd });
}

/** sha256 and size of a regular file (never through a link); undefined when absent. */
export async function fileDigest(path: string): Promise<{ sha256: string; bytes: number } | undefined> {
  const input = openNoFollow(path);
  if (!input) return undefined;
  const tap = hashTap();
  await pipeline(input, tap.stream, devNull());
  return tap.digest();
}

function devNull(): Writable {
  return new Writable({
    write(_chunk, _e, done) {
      done();
    },
  });
}

/** A file of the backup as the manifest lists it. */
interface BackupFile {
  path: string;
  sha256: string;
  bytes: number;
}

function mismatch(f: BackupFile, got: { sha256: string; bytes: number }, when = ""): LocalStackError {
  return badBackup(
    `${escapeForTerminal(f.path)} does not match the manifest${when} (${got.bytes} bytes, sha256 ${got.sha256}; expected ${f.bytes} bytes, sha256 ${f.sha256}): the backup is corrupted`,
  );
}

/** Reads the gzip'd plain SQL dump through the scanner; refuses a meta-command, naming its line. */
async function scanDump(path: string): Promise<void> {
  const input = openNoFollow(path);
  if (!input) throw badBackup(`${escapeForTerminal(path)} is missing: the backup is incomplete`);
  try {
    await pipeline(input, createGunzip(), plainDumpFilter(), devNull());
  } catch (e) {
    if (e instanceof DumpRefused)
      throw badBackup(
        `${escapeForTerminal(path)} is refused, ${e.message}. A restore loads SQL statements and COPY data only`,
      );
    throw badBackup(`${escapeForTerminal(path)} is not a gzip'd SQL dump (${(e as Error).message})`);
  }
}

/**
 * Reads a backup's manifest and checks every file it lists: each path component a real directory
 * or file (no links), its size and sha256, and the dump free of psql meta-commands. A missing,
 * changed or refused file is named. This is the early refusal; the restore hashes each file again
 * as it reads it to load it.
 */
export async function verifyBackup(dir: string): Promise<BackupManifest> {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) throw badBackup(`${escapeForTerminal(dir)} does not exist`);
  if (!st.isDirectory())
    throw badBackup(`${escapeForTerminal(dir)} is not a directory (a backup is one, with ${MANIFEST_FILE})`);
  const manifestPath = checkedBackupPath(dir, [MANIFEST_FILE]);
  const text = manifestPath && readOwnFile(manifestPath);
  if (text === undefined)
    throw badBackup(
      `${escapeForTerminal(join(dir, MANIFEST_FILE))} is missing: ${escapeForTerminal(dir)} is not a complete mlflow-dev backup`,
    );
  const manifest = parseManifest(text, escapeForTerminal(join(dir, MANIFEST_FILE)));
  for (const f of backupFiles(dir, manifest)) {
    const got = await fileDigest(f.path);
    if (got === undefined) throw badBackup(`${escapeForTerminal(f.path)} is missing: the backup is incomplete`);
    if (got.bytes !== f.bytes || got.sha256 !== f.sha256) throw mismatch(f, got);
  }
  await scanDump(join(dir, manifest.database.file));
  return manifest;
}

/** The database file and every artifact file, each path checked component by component. */
function backupFiles(dir: string, manifest: BackupManifest): (BackupFile & { key?: string })[] {
  const at = (segments: string[]) =>
    checkedBackupPath(dir, segments) ??
    (() => {
      throw badBackup(`${escapeForTerminal(join(dir, ...segments))} is missing: the backup is incomplete`);
    })();
  return [
    { path: at([manifest.database.file]), sha256: manifest.database.sha256, bytes: manifest.database.bytes },
    ...manifest.artifacts.objects.map((o) => ({
      path: at([ARTIFACTS_DIR, ...o.key.split("/")]),
      sha256: o.sha256,
      bytes: o.bytes,
      key: o.key,
    })),
  ];
}

type Ctx = Pick<LocalStackContext, "model" | "project" | "stateDir" | "docker" | "progress">;

function notRunning(project: string): LocalStackError {
  return new LocalStackError(
    `the local stack ${project} is not running`,
    "Start it with `mlflow-dev up`, then run the command again. Nothing was changed.",
  );
}

/**
 * The running stack's containers by service; refuses a stack that is not up and healthy, judged
 * as `up` and `status` judge it (localStackStatus): right after `up` returns, Docker may not have
 * run the server's first health check yet.
 */
async function runningStack(ctx: Ctx): Promise<Record<string, ServiceState>> {
  const services = await localStackStatus(ctx).catch((e: Error) => {
    throw new LocalStackError(`cannot reach the Docker engine: ${e.message}`, "Start Docker. Nothing was changed.");
  });
  const byName: Record<string, ServiceState> = {};
  for (const name of longRunningServices(ctx.model.target.objectStore)) {
    const s = services.find((x) => x.service === name);
    if (!serviceHealthy(s)) throw notRunning(ctx.project);
    byName[name] = s!;
  }
  return byName;
}

/** The OS user psql and pg_dump run as in the postgres container (not root). */
const PG_OS_USER = "postgres";

/**
 * One value from a query (or the output of several statements, each run on its own), run with psql
 * in the postgres container as the stack's database user, in `database` (default the stack's).
 */
async function psqlValue(
  docker: ContainerClient,
  container: string,
  model: LocalModel,
  sql: string | readonly string[],
  database = model.database.name,
): Promise<string> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      chunks.push(chunk);
      done();
    },
  });
  const statements = typeof sql === "string" ? [sql] : sql;
  const r = await docker.execToStream(
    container,
    [
      "psql",
      "-X",
      "-q",
      "-t",
      "-A",
      "-v",
      "ON_ERROR_STOP=1",
      "-U",
      model.database.user,
      "-d",
      database,
      ...statements.flatMap((s) => ["-c", s]),
    ],
    sink,
    PG_OS_USER,
  );
  if (r.exitCode !== 0)
    throw new Error(
      `psql (${statements.join("; ")}) failed: ${escapeForTerminal(r.stderr.trim()) || `exit code ${r.exitCode}`}`,
    );
  return Buffer.concat(chunks).toString("utf8").trim();
}

/** A PostgreSQL identifier, quoted. */
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** An S3 client for the stack's MinIO with the root credentials from the stack's .env. */
async function minioClient(ctx: Ctx): Promise<S3Client> {
  const envFile = stackPaths(ctx.stateDir).envFile;
  const env = parseEnvFile(readOwnFile(envFile) ?? "");
  const user = env.get(LOCAL_SECRET_VARS["minio-root-user"]);
  const password = env.get(LOCAL_SECRET_VARS["minio-root-password"]);
  if (!user || !password)
    throw new LocalStackError(
      `${envFile} has no MinIO root credentials (${LOCAL_SECRET_VARS["minio-root-user"]}, ${LOCAL_SECRET_VARS["minio-root-password"]})`,
      "Run `mlflow-dev up` to complete it. Nothing was changed.",
    );
  const { S3Client } = await import("@aws-sdk/client-s3");
  return new S3Client({
    endpoint: s3Endpoint(ctx.model),
    region: ctx.model.target.region,
    forcePathStyle: true,
    credentials: { accessKeyId: user, secretAccessKey: password },
  });
}

/** Every key under `prefix/` (all pages), or at most `limit`. */
async function listKeys(
  s3: S3Client,
  bucket: string,
  prefix: string,
  limit = Number.POSITIVE_INFINITY,
): Promise<{ key: string; bytes: number }[]> {
  const { ListObjectsV2Command } = await import("@aws-sdk/client-s3");
  const out: { key: string; bytes: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: `${prefix}/`,
        ContinuationToken: token,
        MaxKeys: Math.min(1000, limit),
      }),
    );
    for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, bytes: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token && out.length < limit);
  return out;
}

export interface BackupResult {
  dir: string;
  manifest: BackupManifest;
}

/** A temporary directory beside `dir`, renamed to it once the backup is complete. */
function checkTargetAbsent(dir: string): void {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (st)
    throw new LocalStackError(
      `${dir} exists${st.isSymbolicLink() ? " (a symbolic link)" : ""}: a backup is written to a new directory only`,
      "Choose another --out directory, or move that one away. Nothing was written.",
      [],
      { invalidInput: true },
    );
}

/**
 * Backs up a running local stack into `out` (default .mlflow-dev/backups/<UTC stamp>-backup): the
 * database first (pg_dump is one consistent snapshot), then every object under the artifact
 * prefix, so each artifact the dumped runs name that was stored before the dump is in it.
 */
export async function backupLocalStack(ctx: Ctx, options: { out?: string; now?: Date } = {}): Promise<BackupResult> {
  const { model, docker, progress } = ctx;
  const now = options.now ?? new Date();
  const dir = resolve(options.out ?? defaultBackupDir(ctx.stateDir, now));
  checkTargetAbsent(dir);
  const stack = await runningStack(ctx);
  const postgres = stack[SERVICE.postgres]!.container;
  const s3 = await minioClient(ctx);
  ensureDirectory(dirname(dir));
  const temp = join(dirname(dir), `.${basename(dir)}.${randomHex(6)}.tmp`);
  try {
    mkdirSync(temp, { mode: 0o700 });
  } catch (e) {
    throw new LocalStackError(
      `cannot create ${temp}: ${(e as Error).message}`,
      "Choose an --out directory you can write to. Nothing was written.",
    );
  }
  try {
    const schemaRevision = await psqlValue(docker, postgres, model, "SELECT version_num FROM alembic_version");
    progress(`dumping the database (schema revision ${schemaRevision})`);
    const dbPath = join(temp, DATABASE_FILE);
    const gzip = createGzip();
    const db = model.database;
    await Promise.all([
      (async () => {
        const r = await docker.execToStream(
          postgres,
          ["pg_dump", "--clean", "--if-exists", "--no-owner", "-U", db.user, "-d", db.name],
          gzip,
          PG_OS_USER,
        );
        gzip.end();
        if (r.exitCode !== 0) throw new Error(r.stderr.trim() || `pg_dump exited with code ${r.exitCode}`);
      })(),
      pipeline(gzip, createWriteStream(dbPath, { flags: "wx", mode: 0o600 })),
    ]);
    const database = (await fileDigest(dbPath))!;

    const { bucket, prefix } = model.artifacts;
    const { GetObjectCommand } = await import("@aws-sdk/client-s3");
    const keys = await listKeys(s3, bucket, prefix);
    progress(`copying ${keys.length} artifact object(s) from s3://${bucket}/${prefix}/`);
    const objects: BackupObject[] = [];
    for (const { key } of keys) {
      if (!safeObjectKey(key, prefix))
        throw new Error(`the object key ${JSON.stringify(key)} cannot be stored as a file (empty, . or .. segment)`);
      const path = join(temp, ARTIFACTS_DIR, ...key.split("/"));
      ensureDirectory(dirname(path));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      await pipeline(got.Body as NodeJS.ReadableStream, createWriteStream(path, { flags: "wx", mode: 0o600 }));
      objects.push({ key, ...(await fileDigest(path))! });
    }
    const manifest = buildManifest({
      createdAt: now,
      stack: ctx.project,
      mlflowVersion: model.mlflow.version,
      schemaRevision,
      database,
      bucket,
      prefix,
      objects,
    });
    writeFileSync(join(temp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { flag: "wx", mode: 0o600 });
    checkTargetAbsent(dir);
    renameSync(temp, dir);
    return { dir, manifest };
  } catch (e) {
    rmSync(temp, { recursive: true, force: true });
    if (e instanceof LocalStackError) throw e;
    throw new LocalStackError(
      `the backup failed: ${(e as Error).message}`,
      "No backup directory was written; fix the cause and run `mlflow-dev backup` again.",
    );
  } finally {
    s3.destroy();
  }
}

/** Waits until Docker reports a service's container running and healthy (its health check passed). */
async function waitForContainerHealth(
  docker: ContainerClient,
  project: string,
  service: string,
  timeoutMs: number,
): Promise<void> {
  let last = "not found";
  await poll({
    intervalMs: 1000,
    timeoutMs,
    check: async () => {
      const s = (await docker.projectServices(project)).find((x) => x.service === service);
      if (serviceHealthy(s)) return true;
      last = s ? `${s.state}, ${s.health}` : "not found";
      return undefined;
    },
    onTimeout: () => new Error(`the ${service} container is not healthy after ${timeoutMs / 1000}s (${last})`),
  });
}

export interface RestoreResult {
  dir: string;
  manifest: BackupManifest;
  experiments: number;
  runs: number;
  objects: number;
  /** Objects under the prefix that were not in the backup, deleted (only with --force). */
  deletedObjects: number;
  /** With --force: the backup of the stack taken before anything was replaced. */
  safetyBackup?: string;
}

/** The name of the backup `restore --force` takes first, beside the others. */
export function safetyBackupDir(stateDir: string, now: Date): string {
  return join(backupsDir(stateDir), backupDirName(now).replace(/-backup$/, "-before-restore"));
}

/**
 * What a restore creates next to the stack's own database and prefix, named by one random suffix:
 * a login role without any privilege (not a superuser, cannot create roles or databases), the
 * database it owns and loads the dump into, the name the replaced database gets for the swap, and
 * the object prefix the artifacts are uploaded to before they are copied into place.
 */
export function restoreNames(prefix: string, suffix: string) {
  return {
    role: `mlflow_dev_restore_${suffix}`,
    database: `mlflow_dev_restore_${suffix}`,
    replaced: `mlflow_dev_replaced_${suffix}`,
    prefix: `${prefix}.restore-${suffix}`,
  };
}

/**
 * Every definition in a database that runs code when the server touches its tables, as text:
 * functions and procedures, triggers, rules (other than a view's) and policies. They run with the
 * rights of the server's
 * database user (the superuser), so the restored database may hold only definitions the stack's
 * current database also holds: those MLflow's own migrations of the same version created there.
 */
const EXECUTABLE_DEFINITIONS = `SELECT coalesce(json_agg(d ORDER BY d), '[]') FROM (
  SELECT 'function ' || CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) ELSE p.oid::regprocedure::text END AS d
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT t.tgisinternal
  UNION ALL SELECT 'rule ' || pg_get_ruledef(r.oid) FROM pg_rewrite r
    JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND r.rulename <> '_RETURN'
  UNION ALL SELECT 'policy ' || pol.polname || ' on ' || pol.polrelid::regclass::text FROM pg_policy pol
) x`;

/** The definitions of `restored` that `current` does not hold (pure). */
export function unknownDefinitions(restored: readonly string[], current: readonly string[]): string[] {
  const known = new Set(current);
  return restored.filter((d) => !known.has(d));
}

/**
 * Restores a backup into the running local stack. Nothing of the stack changes until every check
 * passed:
 *
 * 1. the backup is verified (paths without links, digests, the dump free of psql meta-commands),
 *    the MLflow version compared, and (unless `force`) the stack must be empty;
 * 2. with `force`, a safety backup of the stack is written first and named;
 * 3. the dump is loaded into a new database as a role that is not a superuser and owns only that
 *    database, by psql in restricted mode (meta-commands refused), in one transaction, hashing the
 *    file as it is read; it must match the manifest, and every function, trigger, rule and policy
 *    must be one the stack's current database (MLflow's migrations) has;
 * 4. the artifacts are uploaded to a separate prefix, each hashed as it is read;
 * 5. only then the server stops, the new database takes the old one's name in one transaction, the
 *    objects are copied into place (with `force`, those the backup lacks deleted), and the server
 *    starts again.
 */
export async function restoreLocalStack(
  ctx: Ctx,
  options: { dir: string; force?: boolean; now?: Date },
): Promise<RestoreResult> {
  const { model, docker, progress } = ctx;
  const dir = resolve(options.dir);
  const manifest = await verifyBackup(dir);
  progress(
    `verified ${escapeForTerminal(dir)}: the database and ${manifest.artifacts.objects.length} artifact object(s) match the manifest`,
  );
  const stack = await runningStack(ctx);
  if (manifest.mlflowVersion !== model.mlflow.version)
    throw new LocalStackError(
      `the backup is of MLflow ${manifest.mlflowVersion}, but mlflow.version is ${model.mlflow.version}: a restore needs the same version. Nothing was changed`,
      `Set mlflow.version to ${manifest.mlflowVersion} and run \`mlflow-dev up\` before restoring, or restore into a stack of MLflow ${manifest.mlflowVersion} and then upgrade it to ${model.mlflow.version} (see "Upgrading MLflow" in the README).`,
      [],
      { invalidInput: true },
    );
  const postgres = stack[SERVICE.postgres]!.container;
  const { bucket, prefix } = model.artifacts;
  const db = model.database;
  const names = restoreNames(prefix, randomHex(4));
  const s3 = await minioClient(ctx);
  const { PutObjectCommand, DeleteObjectCommand, CopyObjectCommand } = await import("@aws-sdk/client-s3");
  const staged: string[] = [];
  let created = false;
  let swapped = false;
  const cleanUp = async () => {
    for (const key of staged) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
    if (created && !swapped)
      await psqlValue(
        docker,
        postgres,
        model,
        [`DROP DATABASE IF EXISTS ${ident(names.database)} WITH (FORCE)`, `DROP ROLE IF EXISTS ${ident(names.role)}`],
        "postgres",
      ).catch(() => {});
  };
  try {
    const runs = Number(await psqlValue(docker, postgres, model, "SELECT count(*) FROM runs"));
    const present = await listKeys(s3, bucket, prefix, options.force ? Number.POSITIVE_INFINITY : 1);
    if (!options.force && (runs > 0 || present.length > 0))
      throw new LocalStackError(
        `the local stack ${ctx.project} is not empty (${runs} run(s) in the database${present.length > 0 ? ", objects under the artifact prefix" : ""}): a restore replaces its data. Nothing was changed`,
        "Add --force to replace them with the backup (it writes a safety backup of the stack first), or restore into an empty stack (`mlflow-dev down --volumes --yes`, then `mlflow-dev up`).",
        [],
        { invalidInput: true },
      );

    let safetyBackup: string | undefined;
    if (options.force) {
      progress("--force: backing up the stack as it is before replacing it");
      safetyBackup = (await backupLocalStack(ctx, { out: safetyBackupDir(ctx.stateDir, options.now ?? new Date()) }))
        .dir;
      progress(`safety backup: ${safetyBackup}`);
    }
    const keepSafety = safetyBackup ? ` The stack as it was is in the safety backup ${safetyBackup}.` : "";

    progress(`loading the database (MLflow ${manifest.mlflowVersion}, schema revision ${manifest.schemaRevision})`);
    created = true;
    await psqlValue(
      docker,
      postgres,
      model,
      [
        `CREATE ROLE ${ident(names.role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
        `CREATE DATABASE ${ident(names.database)} OWNER ${ident(names.role)}`,
        `REVOKE ALL ON DATABASE ${ident(names.database)} FROM PUBLIC`,
      ],
      "postgres",
    );
    await loadDump(ctx, postgres, join(dir, manifest.database.file), manifest.database, names);
    const definitions = async (database: string) =>
      JSON.parse(await psqlValue(docker, postgres, model, EXECUTABLE_DEFINITIONS, database)) as string[];
    const unknown = unknownDefinitions(await definitions(names.database), await definitions(db.name));
    if (unknown.length > 0)
      throw badBackup(
        `${join(dir, manifest.database.file)} defines ${unknown.length} function(s), trigger(s), rule(s) or polic(ies) that MLflow ${model.mlflow.version}'s schema in this stack does not have; they would run as the server's database user. The first: ${unknown[0]!.replace(/\s+/g, " ").slice(0, 300)}. Nothing was changed`,
      );
    await psqlValue(
      docker,
      postgres,
      model,
      [`REASSIGN OWNED BY ${ident(names.role)} TO ${ident(db.user)}`, `DROP OWNED BY ${ident(names.role)}`],
      names.database,
    );

    progress(`uploading ${manifest.artifacts.objects.length} artifact object(s) to s3://${bucket}/${names.prefix}/`);
    const final: string[] = [];
    for (const o of manifest.artifacts.objects) {
      const file: BackupFile = {
        path: checkedBackupPath(dir, [ARTIFACTS_DIR, ...o.key.split("/")]) ?? join(dir, ARTIFACTS_DIR, o.key),
        sha256: o.sha256,
        bytes: o.bytes,
      };
      const input = openNoFollow(file.path);
      if (!input) throw badBackup(`${file.path} is missing: the backup is incomplete. Nothing was changed`);
      const tap = hashTap();
      const stagedKey = restoredKey(o.key, manifest.artifacts.prefix, names.prefix);
      staged.push(stagedKey);
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: stagedKey,
          Body: input.pipe(tap.stream),
          ContentLength: o.bytes,
        }),
      );
      const got = tap.digest();
      if (got.bytes !== o.bytes || got.sha256 !== o.sha256)
        throw mismatch(file, got, " as it was read for the restore. Nothing was changed");
      final.push(restoredKey(o.key, manifest.artifacts.prefix, prefix));
    }

    const server = stack[SERVICE.mlflow]!.container;
    progress("stopping the server while the data is replaced");
    await docker.stopContainer(server, 30);
    try {
      await psqlValue(
        docker,
        postgres,
        model,
        [
          `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname IN ('${db.name.replace(/'/g, "''")}', '${names.database}') AND pid <> pg_backend_pid()`,
          `BEGIN; ALTER DATABASE ${ident(db.name)} RENAME TO ${ident(names.replaced)}; ALTER DATABASE ${ident(names.database)} RENAME TO ${ident(db.name)}; COMMIT`,
        ],
        "postgres",
      ).catch((e: Error) => {
        throw new LocalStackError(
          `swapping in the restored database failed: ${e.message}`,
          `The database is as it was. Close other connections to ${db.name} and run \`mlflow-dev restore\` again.${keepSafety}`,
        );
      });
      swapped = true;
      await psqlValue(
        docker,
        postgres,
        model,
        [`DROP DATABASE ${ident(names.replaced)} WITH (FORCE)`, `DROP ROLE ${ident(names.role)}`],
        "postgres",
      ).catch((e: Error) => progress(`could not drop the replaced database ${names.replaced}: ${e.message}`));

      let deletedObjects = 0;
      try {
        for (const [i, key] of final.entries()) {
          const source = staged[i]!;
          await s3.send(
            new CopyObjectCommand({
              Bucket: bucket,
              Key: key,
              CopySource: `${bucket}/${source.split("/").map(encodeURIComponent).join("/")}`,
            }),
          );
        }
        const kept = new Set(final);
        for (const { key } of present)
          if (!kept.has(key)) {
            await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
            deletedObjects++;
          }
      } catch (e) {
        throw new LocalStackError(
          `the database is restored, but copying the artifacts into place failed: ${(e as Error).message}`,
          `Fix the cause and run \`mlflow-dev restore\` again with --force (the stack is no longer empty).${keepSafety}`,
        );
      }
      recordServedVersion(ctx.stateDir, manifest.mlflowVersion);
      const experiments = Number(await psqlValue(docker, postgres, model, "SELECT count(*) FROM experiments"));
      const restoredRuns = Number(await psqlValue(docker, postgres, model, "SELECT count(*) FROM runs"));
      return {
        dir,
        manifest,
        experiments,
        runs: restoredRuns,
        objects: manifest.artifacts.objects.length,
        deletedObjects,
        ...(safetyBackup ? { safetyBackup } : {}),
      };
    } finally {
      progress("starting the server again");
      await docker.startContainer(server);
      await waitForHealth(`${mlflowUrl(model)}${model.mlflow.healthPath}`, 120_000)
        .then(() => waitForContainerHealth(docker, ctx.project, SERVICE.mlflow, 120_000))
        .catch((e: Error) => {
          throw new LocalStackError(
            `the server did not become healthy after the restore: ${e.message}`,
            "See `mlflow-dev logs mlflow`; `mlflow-dev up` starts it again.",
            [SERVICE.mlflow],
          );
        });
    }
  } catch (e) {
    if (e instanceof LocalStackError) throw e;
    throw new LocalStackError(
      `the restore failed: ${escapeForTerminal((e as Error).message)}`,
      swapped
        ? "The database is restored; fix the cause and run `mlflow-dev restore` again with --force."
        : "The restore's own database, role and uploaded objects are removed: the stack is as it was. Fix the cause and run `mlflow-dev restore` again.",
    );
  } finally {
    await cleanUp();
    s3.destroy();
  }
}

/**
 * Loads the plain SQL dump into the restore database as the restore role (not a superuser, so
 * PostgreSQL itself refuses `COPY ... TO/FROM PROGRAM`, server files and untrusted languages),
 * psql run as the postgres OS user in restricted mode (every meta-command refused, with a key the
 * dump cannot know) after the scanner dropped nothing but pg_dump's own restrict lines, in one
 * transaction. The file is hashed as it is read: a dump that does not match the manifest is
 * refused after the load, before anything of the stack changed.
 */
async function loadDump(
  ctx: Ctx,
  postgres: string,
  path: string,
  expected: { sha256: string; bytes: number },
  names: { role: string; database: string },
): Promise<void> {
  const { docker } = ctx;
  const psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", names.role, "-d", names.database];
  const key = randomHex(16);
  const probe = await docker.execWithStdin(postgres, psql, Readable.from([`\\restrict ${key}\n`]), {
    user: PG_OS_USER,
  });
  const restricted = probe.exitCode === 0;
  const input = openNoFollow(path);
  if (!input) throw badBackup(`${path} is missing: the backup is incomplete. Nothing was changed`);
  const tap = hashTap();
  const toPsql = new PassThrough();
  // Without \restrict (psql before 17.6, 16.10, 15.14, 14.19) the scanner is the guard.
  if (restricted) toPsql.write(`\\restrict ${key}\n`);
  let refused: Error | undefined;
  const [r] = await Promise.all([
    docker
      .execWithStdin(postgres, [...psql, "--single-transaction"], toPsql, { user: PG_OS_USER })
      .catch((e: Error) => ({ exitCode: -1, stdout: "", stderr: e.message }))
      // psql stopped at an error before the end: the rest is still read (and hashed), then dropped.
      .finally(() => toPsql.resume()),
    pipeline(input, tap.stream, createGunzip(), plainDumpFilter(), toPsql).catch((e: Error) => {
      refused = e;
    }),
  ]);
  if (refused)
    throw refused instanceof DumpRefused
      ? badBackup(`${path} is refused, ${refused.message}. Nothing was changed`)
      : badBackup(`${path} could not be read (${refused.message}). Nothing was changed`);
  const got = tap.digest();
  if (got.bytes !== expected.bytes || got.sha256 !== expected.sha256)
    throw mismatch({ path, ...expected }, got, " as it was read for the restore. Nothing was changed");
  if (r.exitCode !== 0)
    throw new LocalStackError(
      `loading the database failed (psql exit code ${r.exitCode}): ${escapeForTerminal(r.stderr.trim().split("\n").slice(-5).join(" | "))}`,
      "It was loaded into a separate database, now dropped: the stack is as it was. Fix the cause and run `mlflow-dev restore` again.",
    );
}
