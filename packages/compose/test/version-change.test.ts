import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { compareVersions, parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import {
  BACKUPS_KEPT,
  backupName,
  listBackups,
  readServedVersion,
  recordServedVersion,
  versionChange,
  writeBackup,
} from "../src/runtime/version-change.ts";

const spec = (version: string) =>
  parseSpecOrThrow(
    `name: tt\nmlflow:\n  version: ${version}\nbackend: {}\nartifacts:\n  bucket: t-artifacts\nenvironments:\n  local: {}\n`,
  );

describe("MLflow version changes of a local stack", () => {
  it("orders release numbers numerically, a pre-release before its release", () => {
    expect(compareVersions("3.17.2", "3.16.1")).toBe(1);
    expect(compareVersions("3.9.0", "3.10.0")).toBe(-1);
    expect(compareVersions("3.17.2", "3.17.2")).toBe(0);
    expect(compareVersions("3.18.0rc0", "3.18.0")).toBe(-1);
    expect(compareVersions("3.18", "3.18.0")).toBe(0);
  });

  it("tells a first start, no change, an upgrade and a downgrade apart", () => {
    const model = resolve(spec("3.17.2"), "local");
    expect(versionChange(undefined, model)).toEqual({ kind: "first", to: "3.17.2" });
    expect(versionChange("3.17.2", model)).toEqual({ kind: "none" });
    expect(versionChange("3.16.1", model)).toEqual({ kind: "upgrade", from: "3.16.1", to: "3.17.2" });
    expect(versionChange("3.18.0", model)).toEqual({ kind: "downgrade", from: "3.18.0", to: "3.17.2" });
  });

  it("records the served version in the state directory, never through a link", () => {
    const dir = tempDir("mlflow-dev-version-");
    expect(readServedVersion(dir)).toBeUndefined();
    recordServedVersion(dir, "3.17.2");
    expect(readServedVersion(dir)).toBe("3.17.2");
    const other = tempDir("mlflow-dev-version-");
    const target = join(other, "elsewhere");
    writeFileSync(target, "keep");
    const linked = tempDir("mlflow-dev-version-");
    symlinkSync(target, join(linked, "mlflow-version"));
    expect(() => recordServedVersion(linked, "3.17.2")).toThrow(/link/);
    expect(readFileSync(target, "utf8")).toBe("keep");
  });

  it("names a backup by time and both versions, so names sort by time", () => {
    expect(backupName("3.16.1", "3.17.2", new Date("2026-12-01T14:05:09.123Z"))).toBe(
      "20261201T140509Z-mlflow-3.16.1-to-3.17.2.sql.gz",
    );
  });

  it("writes a gzip'd dump whole or not at all, and keeps the newest ones", async () => {
    const dir = tempDir("mlflow-dev-backup-");
    const names: string[] = [];
    for (let i = 0; i < BACKUPS_KEPT + 2; i++) {
      const name = backupName("3.16.1", "3.17.2", new Date(Date.UTC(2026, 11, 1, 10, i)));
      names.push(name);
      await writeBackup(dir, name, async (out) => {
        out.write(`-- dump ${i}\n`);
        out.end();
      });
    }
    const kept = listBackups(dir);
    expect(kept).toHaveLength(BACKUPS_KEPT);
    expect(kept[0]).toBe(join(dir, "backups", names.at(-1) ?? ""));
    expect(gunzipSync(readFileSync(kept[0] ?? "")).toString()).toBe(`-- dump ${BACKUPS_KEPT + 1}\n`);
    expect(existsSync(join(dir, "backups", names[0] ?? ""))).toBe(false);

    const failed = writeBackup(dir, "20270101T000000Z-mlflow-3.17.2-to-3.18.0.sql.gz", async (out) => {
      out.write("-- partial\n");
      out.end();
      throw new Error("pg_dump: connection refused");
    });
    await expect(failed).rejects.toThrow("pg_dump: connection refused");
    expect(readdirSync(join(dir, "backups")).filter((f) => f.includes("3.18.0"))).toEqual([]);
  });
});
