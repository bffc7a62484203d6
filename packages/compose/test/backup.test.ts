import { createHash } from "node:crypto";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import {
  type BackupManifest,
  backupDirName,
  buildManifest,
  checkedBackupPath,
  defaultBackupDir,
  parseManifest,
  restoredKey,
  restoreNames,
  safeObjectKey,
  safetyBackupDir,
  unknownDefinitions,
  verifyBackup,
} from "../src/runtime/backup.ts";

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

/** A backup directory on disk with the given artifact files and a manifest that matches them. */
function writeBackupDir(files: Record<string, string>, sql = "SELECT 1;\n"): { dir: string; manifest: BackupManifest } {
  const dir = tempDir("mlflow-dev-backup-unit-");
  const database = gzipSync(sql);
  writeFileSync(join(dir, "database.sql.gz"), database);
  for (const [key, text] of Object.entries(files)) {
    const path = join(dir, "artifacts", key);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, text);
  }
  const manifest = buildManifest({
    createdAt: new Date("2026-03-04T05:06:07.890Z"),
    stack: "mlflow-dev-tt",
    mlflowVersion: "3.17.2",
    schemaRevision: "dc11669786a5",
    database: { sha256: sha(database), bytes: database.length },
    bucket: "t-artifacts",
    prefix: "mlflow",
    objects: Object.entries(files).map(([key, text]) => ({ key, bytes: Buffer.byteLength(text), sha256: sha(text) })),
  });
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  return { dir, manifest };
}

describe("backup names and manifests", () => {
  it("names a backup directory by its UTC time, under the stack's backups", () => {
    const now = new Date("2026-03-04T05:06:07.890Z");
    expect(backupDirName(now)).toBe("20260304T050607Z-backup");
    expect(defaultBackupDir("/s/.mlflow-dev", now)).toBe("/s/.mlflow-dev/backups/20260304T050607Z-backup");
  });

  it("builds a manifest with the objects sorted by key, whatever their listing order", () => {
    const m = buildManifest({
      createdAt: new Date("2026-03-04T05:06:07.890Z"),
      stack: "mlflow-dev-tt",
      mlflowVersion: "3.17.2",
      schemaRevision: "abc",
      database: { sha256: "d".repeat(64), bytes: 10 },
      bucket: "b",
      prefix: "mlflow",
      objects: [
        { key: "mlflow/2/x", bytes: 2, sha256: "2".repeat(64) },
        { key: "mlflow/1/y", bytes: 1, sha256: "1".repeat(64) },
      ],
    });
    expect(m).toEqual({
      format: 1,
      createdAt: "2026-03-04T05:06:07.890Z",
      stack: "mlflow-dev-tt",
      mlflowVersion: "3.17.2",
      schemaRevision: "abc",
      database: { file: "database.sql.gz", sha256: "d".repeat(64), bytes: 10 },
      artifacts: {
        bucket: "b",
        prefix: "mlflow",
        objects: [
          { key: "mlflow/1/y", bytes: 1, sha256: "1".repeat(64) },
          { key: "mlflow/2/x", bytes: 2, sha256: "2".repeat(64) },
        ],
      },
    });
  });

  it("accepts only keys under the prefix made of plain segments", () => {
    expect(safeObjectKey("mlflow/1/abc/artifacts/model/w.bin", "mlflow")).toBe(true);
    expect(safeObjectKey("other/1/x", "mlflow")).toBe(false);
    expect(safeObjectKey("mlflowx/1", "mlflow")).toBe(false);
    expect(safeObjectKey("mlflow/../../etc/passwd", "mlflow")).toBe(false);
    expect(safeObjectKey("mlflow/a//b", "mlflow")).toBe(false);
    expect(safeObjectKey("mlflow/./b", "mlflow")).toBe(false);
    expect(safeObjectKey("mlflow/a\\b", "mlflow")).toBe(false);
    expect(restoredKey("old/1/x", "old", "mlflow")).toBe("mlflow/1/x");
  });

  it("refuses a manifest of another format, with a key outside the prefix, or without digests", () => {
    const good = writeBackupDir({ "mlflow/1/a.txt": "a" }).manifest;
    expect(parseManifest(JSON.stringify(good), "m.json")).toEqual(good);
    expect(() => parseManifest("{", "m.json")).toThrow(/m\.json is not valid JSON/);
    expect(() => parseManifest(JSON.stringify({ ...good, format: 2 }), "m.json")).toThrow(
      /format is 2, this mlflow-dev reads format 1/,
    );
    const escaping = {
      ...good,
      artifacts: { ...good.artifacts, objects: [{ key: "mlflow/../x", bytes: 1, sha256: sha("a") }] },
    };
    expect(() => parseManifest(JSON.stringify(escaping), "m.json")).toThrow(
      /artifacts\.objects\[0\]\.key is not a key under the prefix mlflow\//,
    );
    const noDigest = { ...good, database: { file: "database.sql.gz", bytes: 4 } };
    expect(() => parseManifest(JSON.stringify(noDigest), "m.json")).toThrow(/database must be/);
  });
});

describe("verifying a backup before a restore", () => {
  it("accepts a backup whose files match the manifest", async () => {
    const { dir, manifest } = writeBackupDir({
      "mlflow/1/r/artifacts/a.txt": "alpha",
      "mlflow/1/r/artifacts/b/c.bin": "beta",
    });
    expect(await verifyBackup(dir)).toEqual(manifest);
  });

  it("refuses a changed artifact, naming the file, exit 2", async () => {
    const { dir } = writeBackupDir({ "mlflow/1/r/artifacts/a.txt": "alpha" });
    const file = join(dir, "artifacts/mlflow/1/r/artifacts/a.txt");
    writeFileSync(file, "alphA");
    const e = await verifyBackup(dir).catch((x: Error & { invalidInput: boolean }) => x);
    expect((e as Error).message).toContain(`${file} does not match the manifest`);
    expect((e as Error).message).toContain("the backup is corrupted");
    expect((e as { invalidInput: boolean }).invalidInput).toBe(true);
  });

  it("refuses a truncated database dump and a missing artifact", async () => {
    const a = writeBackupDir({}, "SELECT 'the whole dump';\n");
    writeFileSync(join(a.dir, "database.sql.gz"), "the whole");
    await expect(verifyBackup(a.dir)).rejects.toThrow(`${join(a.dir, "database.sql.gz")} does not match the manifest`);

    const b = writeBackupDir({ "mlflow/1/x": "x" });
    rmSync(join(b.dir, "artifacts/mlflow/1/x"));
    await expect(verifyBackup(b.dir)).rejects.toThrow(
      `${join(b.dir, "artifacts/mlflow/1/x")} is missing: the backup is incomplete`,
    );
  });

  it("refuses a directory without a manifest, and a file that is a link", async () => {
    const empty = tempDir("mlflow-dev-backup-unit-");
    await expect(verifyBackup(empty)).rejects.toThrow(`${join(empty, "manifest.json")} is missing`);
    await expect(verifyBackup(join(empty, "absent"))).rejects.toThrow("does not exist");

    const { dir } = writeBackupDir({ "mlflow/1/x": "x" });
    const outside = join(tempDir("mlflow-dev-backup-unit-"), "x");
    writeFileSync(outside, "x");
    rmSync(join(dir, "artifacts/mlflow/1/x"));
    symlinkSync(outside, join(dir, "artifacts/mlflow/1/x"));
    await expect(verifyBackup(dir)).rejects.toThrow("x is a symbolic link");
  });
});

describe("restore's path checks, dump checks and messages", () => {
  it("refuses a symbolic link anywhere under the backup: an intermediate directory, artifacts/ itself", async () => {
    const { dir } = writeBackupDir({ "mlflow/1/x": "x" });
    const elsewhere = tempDir("mlflow-dev-backup-unit-");
    mkdirSync(join(elsewhere, "1"));
    writeFileSync(join(elsewhere, "1/x"), "x");
    rmSync(join(dir, "artifacts/mlflow"), { recursive: true });
    symlinkSync(elsewhere, join(dir, "artifacts/mlflow"));
    await expect(verifyBackup(dir)).rejects.toThrow(
      `${join(dir, "artifacts/mlflow")} is a symbolic link: mlflow-dev reads no links in a backup`,
    );
    expect(() => checkedBackupPath(dir, ["artifacts", "mlflow", "1", "x"])).toThrow("is a symbolic link");

    const top = writeBackupDir({ "mlflow/1/x": "x" });
    const copy = tempDir("mlflow-dev-backup-unit-");
    mkdirSync(join(copy, "mlflow/1"), { recursive: true });
    writeFileSync(join(copy, "mlflow/1/x"), "x");
    rmSync(join(top.dir, "artifacts"), { recursive: true });
    symlinkSync(copy, join(top.dir, "artifacts"));
    await expect(verifyBackup(top.dir)).rejects.toThrow(`${join(top.dir, "artifacts")} is a symbolic link`);
  });

  it("checks each component: a file where a directory belongs, a missing one, a plain path", () => {
    const { dir } = writeBackupDir({ "mlflow/1/x": "x" });
    expect(checkedBackupPath(dir, ["artifacts", "mlflow", "1", "x"])).toBe(join(dir, "artifacts/mlflow/1/x"));
    expect(checkedBackupPath(dir, ["artifacts", "mlflow", "2", "x"])).toBeUndefined();
    expect(() => checkedBackupPath(dir, ["artifacts", "mlflow", "1", "x", "y"])).toThrow(
      `${join(dir, "artifacts/mlflow/1/x")} is not a directory`,
    );
    expect(() => checkedBackupPath(dir, ["artifacts", "mlflow"])).toThrow("is not a regular file");
  });

  it("refuses a dump with psql meta-commands before anything is loaded, naming the line", async () => {
    const { dir } = writeBackupDir({}, "SET x = 1;\n\\! touch /tmp/pwned\n");
    await expect(verifyBackup(dir)).rejects.toThrow(
      /database\.sql\.gz is refused, line 2: a backslash outside COPY data \(\\! touch \/tmp\/pwned\)/,
    );
  });

  it("escapes terminal control sequences in a crafted key and refuses them in the printed fields", async () => {
    const crafted = "mlflow/\u001b]0;owned\u0007/x";
    const { dir } = writeBackupDir({ [crafted]: "x" });
    rmSync(join(dir, "artifacts", crafted));
    const e = (await verifyBackup(dir).catch((x: Error) => x)) as Error;
    expect(e.message).toContain("mlflow/\\u{1b}]0;owned\\u{7}/x is missing");
    expect(e.message).not.toContain("\u001b");

    const good = writeBackupDir({}).manifest;
    expect(() => parseManifest(JSON.stringify({ ...good, mlflowVersion: "3.17.2\u001b[2J" }), "m.json")).toThrow(
      "mlflowVersion holds characters other than letters, digits and . _ : + -",
    );
  });

  it("accepts only the code-running definitions the stack's own database already has", () => {
    const mlflow = [
      "function CREATE OR REPLACE FUNCTION public.prevent_secrets_aad_mutation()",
      "trigger CREATE TRIGGER t",
    ];
    expect(unknownDefinitions(mlflow, mlflow)).toEqual([]);
    expect(unknownDefinitions([...mlflow, "default runs.name lo_export(1, '/x')"], mlflow)).toEqual([
      "default runs.name lo_export(1, '/x')",
    ]);
    expect(
      unknownDefinitions(["function CREATE OR REPLACE FUNCTION public.prevent_secrets_aad_mutation() -- x"], mlflow),
    ).toHaveLength(1);
  });

  it("names the safety backup and the restore's own role, database and prefix", () => {
    expect(safetyBackupDir("/s/.mlflow-dev", new Date("2026-03-04T05:06:07.890Z"))).toBe(
      "/s/.mlflow-dev/backups/20260304T050607Z-before-restore",
    );
    expect(restoreNames("mlflow", "0a1b2c3d")).toEqual({
      role: "mlflow_dev_restore_0a1b2c3d",
      database: "mlflow_dev_restore_0a1b2c3d",
      replaced: "mlflow_dev_replaced_0a1b2c3d",
      prefix: "mlflow.restore-0a1b2c3d",
    });
  });
});
