import { createWriteStream, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { randomHex } from "@mlflow-dev/kernel/random";
import { versionChange as compare, type Model, type VersionChange } from "@mlflow-dev/spec";
import { ensureDirectory, readOwnFile, writeFilesAtomically } from "../safe-write.ts";

/**
 * MLflow version changes of a local stack. MLflow requires a schema upgrade with every writer
 * stopped (mixed-version servers are not supported) and cannot run on a schema newer than it
 * knows, so `up` remembers which MLflow version last served the stack's database, refuses a
 * downgrade before anything changes, and before an upgrade stops the server and dumps the
 * database. The migration job itself refuses a newer schema too (it reads the database's
 * revision), which covers a stack without that record.
 */

/** Where the stack records the MLflow version that last served its database. */
export function servedVersionPath(stateDir: string): string {
  return join(stateDir, "mlflow-version");
}

export function backupsDir(stateDir: string): string {
  return join(stateDir, "backups");
}

/** Dumps kept per stack: the newest ones (their names start with a UTC timestamp). */
export const BACKUPS_KEPT = 5;

export function readServedVersion(stateDir: string): string | undefined {
  return readOwnFile(servedVersionPath(stateDir))?.trim() || undefined;
}

export function recordServedVersion(stateDir: string, version: string): void {
  writeFilesAtomically([{ path: servedVersionPath(stateDir), text: `${version}\n` }]);
}

export function forgetServedVersion(stateDir: string): void {
  rmSync(servedVersionPath(stateDir), { force: true });
}

export type { VersionChange };

export function versionChange(served: string | undefined, model: Model): VersionChange {
  return compare(served, model.mlflow.version);
}

/** The backups of a stack, newest first. */
export function listBackups(stateDir: string): string[] {
  try {
    return readdirSync(backupsDir(stateDir))
      .filter((f) => f.endsWith(".sql.gz"))
      .sort()
      .reverse()
      .map((f) => join(backupsDir(stateDir), f));
  } catch {
    return [];
  }
}

/** A backup's file name: sortable by time, naming both versions. */
export function backupName(from: string, to: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${stamp}-mlflow-${from}-to-${to}.sql.gz`;
}

/**
 * Writes a gzip'd dump, streamed from `dump` (the bytes of pg_dump's stdout), to the stack's
 * backups directory: to a temporary file first, renamed once complete, so a failed dump leaves
 * no file that looks like a backup. Then keeps the newest BACKUPS_KEPT.
 */
export async function writeBackup(
  stateDir: string,
  name: string,
  dump: (out: NodeJS.WritableStream) => Promise<void>,
): Promise<string> {
  const dir = backupsDir(stateDir);
  ensureDirectory(dir);
  const path = join(dir, name);
  const temp = join(dir, `.${name}.${randomHex(6)}.tmp`);
  const gzip = createGzip();
  const file = createWriteStream(temp, { flags: "wx", mode: 0o600 });
  try {
    await Promise.all([dump(gzip), pipeline(gzip, file)]);
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
  for (const old of listBackups(stateDir).slice(BACKUPS_KEPT)) rmSync(old, { force: true });
  return path;
}
