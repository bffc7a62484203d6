import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import type { LocalModel } from "@mlflow-dev/spec";
import { LOCAL_SECRET_VARS, parseEnvFile } from "../env-file.ts";
import { SERVICE, s3Endpoint } from "../render.ts";
import { ensureDirectory, readOwnFile } from "../safe-write.ts";
import type { ContainerClient, ServiceState } from "./docker-engine.ts";
import {
  LONG_RUNNING,
  type LocalStackContext,
  LocalStackError,
  localStackStatus,
  mlflowUrl,
  projectName,
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
  return new LocalStackError(message, "Restore from another backup. Nothing was changed.", [], { invalidInput: true });
}

const SHA256 = /^[0-9a-f]{64}$/;
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

/** sha256 and size of a regular file (never through a link); undefined when absent. */
export async function fileDigest(path: string): Promise<{ sha256: string; bytes: number } | undefined> {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  if (!st.isFile()) throw badBackup(`${path} is not a regular file (mlflow-dev reads no links)`);
  const hash = createHash("sha256");
  let bytes = 0;
  await pipeline(
    createReadStream(path),
    new Writable({
      write(chunk: Buffer, _e, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done();
      },
    }),
  );
  return { sha256: hash.digest("hex"), bytes };
}

/**
 * Reads a backup's manifest and checks every file it lists against its size and sha256: a
 * missing or changed file is refused, naming it.
 */
export async function verifyBackup(dir: string): Promise<BackupManifest> {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) throw badBackup(`${dir} does not exist`);
  if (!st.isDirectory()) throw badBackup(`${dir} is not a directory (a backup is one, with ${MANIFEST_FILE})`);
  const manifestPath = join(dir, MANIFEST_FILE);
  const text = readOwnFile(manifestPath);
  if (text === undefined) throw badBackup(`${manifestPath} is missing: ${dir} is not a complete mlflow-dev backup`);
  const manifest = parseManifest(text, manifestPath);
  const files = [
    { path: join(dir, manifest.database.file), ...manifest.database },
    ...manifest.artifacts.objects.map((o) => ({ path: join(dir, ARTIFACTS_DIR, ...o.key.split("/")), ...o })),
  ];
  for (const f of files) {
    const got = await fileDigest(f.path);
    if (got === undefined) throw badBackup(`${f.path} is missing: the backup is incomplete`);
    if (got.bytes !== f.bytes || got.sha256 !== f.sha256)
      throw badBackup(
        `${f.path} does not match the manifest (${got.bytes} bytes, sha256 ${got.sha256}; expected ${f.bytes} bytes, sha256 ${f.sha256}): the backup is corrupted`,
      );
  }
  return manifest;
}

type Ctx = Pick<LocalStackContext, "model" | "stateDir" | "docker" | "progress">;

function notRunning(model: LocalModel): LocalStackError {
  return new LocalStackError(
    `the local stack ${projectName(model)} is not running`,
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
  for (const name of LONG_RUNNING) {
    const s = services.find((x) => x.service === name);
    if (!serviceHealthy(s)) throw notRunning(ctx.model);
    byName[name] = s!;
  }
  return byName;
}

/** One value from a query, run with psql in the postgres container. */
async function psqlValue(docker: ContainerClient, container: string, model: LocalModel, sql: string): Promise<string> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      chunks.push(chunk);
      done();
    },
  });
  const db = model.database;
  const r = await docker.execToStream(
    container,
    ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-U", db.user, "-d", db.name, "-c", sql],
    sink,
  );
  if (r.exitCode !== 0) throw new Error(`psql (${sql}) failed: ${r.stderr.trim() || `exit code ${r.exitCode}`}`);
  return Buffer.concat(chunks).toString("utf8").trim();
}

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
  const temp = join(dirname(dir), `.${basename(dir)}.${randomBytes(6).toString("hex")}.tmp`);
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
      stack: projectName(model),
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
  const deadline = Date.now() + timeoutMs;
  let last = "not found";
  while (Date.now() < deadline) {
    const s = (await docker.projectServices(project)).find((x) => x.service === service);
    if (serviceHealthy(s)) return;
    last = s ? `${s.state}, ${s.health}` : "not found";
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`the ${service} container is not healthy after ${timeoutMs / 1000}s (${last})`);
}

export interface RestoreResult {
  dir: string;
  manifest: BackupManifest;
  experiments: number;
  runs: number;
  objects: number;
  /** Objects under the prefix that were not in the backup, deleted (only with --force). */
  deletedObjects: number;
}

/**
 * Restores a backup into the running local stack: verifies every digest, refuses another MLflow
 * version and (unless `force`) a stack that holds runs or artifacts; then stops the server, loads
 * the dump in one transaction, uploads the artifacts (with `force`, deletes the objects under the
 * prefix the backup does not have), and starts the server again.
 */
export async function restoreLocalStack(ctx: Ctx, options: { dir: string; force?: boolean }): Promise<RestoreResult> {
  const { model, docker, progress } = ctx;
  const dir = resolve(options.dir);
  const manifest = await verifyBackup(dir);
  progress(
    `verified ${dir}: the database and ${manifest.artifacts.objects.length} artifact object(s) match the manifest`,
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
  const s3 = await minioClient(ctx);
  try {
    const runs = Number(await psqlValue(docker, postgres, model, "SELECT count(*) FROM runs"));
    const present = await listKeys(s3, bucket, prefix, options.force ? Number.POSITIVE_INFINITY : 1);
    if (!options.force && (runs > 0 || present.length > 0))
      throw new LocalStackError(
        `the local stack ${projectName(model)} is not empty (${runs} run(s) in the database${present.length > 0 ? ", objects under the artifact prefix" : ""}): a restore replaces its data. Nothing was changed`,
        "Add --force to replace them with the backup, or restore into an empty stack (`mlflow-dev down --volumes --yes`, then `mlflow-dev up`).",
        [],
        { invalidInput: true },
      );

    const server = stack[SERVICE.mlflow]!.container;
    progress("stopping the server while the data is replaced");
    await docker.stopContainer(server, 30);
    try {
      progress(`loading the database (MLflow ${manifest.mlflowVersion}, schema revision ${manifest.schemaRevision})`);
      const db = model.database;
      const gunzip = createGunzip();
      const input = new PassThrough();
      const [r] = await Promise.all([
        docker.execWithStdin(
          postgres,
          ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-U", db.user, "-d", db.name],
          input,
        ),
        pipeline(createReadStream(join(dir, manifest.database.file)), gunzip, input),
      ]);
      if (r.exitCode !== 0)
        throw new LocalStackError(
          `loading the database failed (psql exit code ${r.exitCode}): ${r.stderr.trim().split("\n").slice(-5).join("\n")}`,
          "It ran in one transaction: the database is as it was before. Fix the cause and run `mlflow-dev restore` again.",
        );

      const { PutObjectCommand, DeleteObjectCommand } = await import("@aws-sdk/client-s3");
      progress(`uploading ${manifest.artifacts.objects.length} artifact object(s) to s3://${bucket}/${prefix}/`);
      let deletedObjects = 0;
      try {
        for (const o of manifest.artifacts.objects) {
          const key = restoredKey(o.key, manifest.artifacts.prefix, prefix);
          await s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: createReadStream(join(dir, ARTIFACTS_DIR, ...o.key.split("/"))),
              ContentLength: o.bytes,
            }),
          );
        }
        const kept = new Set(
          manifest.artifacts.objects.map((o) => restoredKey(o.key, manifest.artifacts.prefix, prefix)),
        );
        for (const { key } of present)
          if (!kept.has(key)) {
            await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
            deletedObjects++;
          }
      } catch (e) {
        throw new LocalStackError(
          `the database is restored, but copying the artifacts failed: ${(e as Error).message}`,
          "Fix the cause and run `mlflow-dev restore` again with --force (the stack is no longer empty).",
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
      };
    } finally {
      progress("starting the server again");
      await docker.startContainer(server);
      await waitForHealth(`${mlflowUrl(model)}${model.mlflow.healthPath}`, 120_000)
        .then(() => waitForContainerHealth(docker, projectName(model), SERVICE.mlflow, 120_000))
        .catch((e: Error) => {
          throw new LocalStackError(
            `the server did not become healthy after the restore: ${e.message}`,
            "See `mlflow-dev logs mlflow`; `mlflow-dev up` starts it again.",
            [SERVICE.mlflow],
          );
        });
    }
  } finally {
    s3.destroy();
  }
}
