import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { checkoutProject, verifyBackup } from "@mlflow-dev/compose/runtime";
import {
  cli,
  MlflowClient,
  minioClient,
  projectContainers,
  readEnvFile,
  removeLeftovers,
  requireImagesInCi,
  stackDatabase,
  stackPorts,
  tempDir,
  testSpecDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * backup -> the stack deleted with its volumes -> a new stack -> restore: the experiment, the run
 * with its params and metrics, and the artifact's bytes read back identically; a second restore
 * into the now non-empty stack, a tampered backup and a backup of another MLflow version are
 * refused with the data unchanged.
 */
const NAME = "itbackup";
/** Every checkout of the spec has a project that starts so. */
const STACKS = `mlflow-dev-${NAME}`;
/** The compose project of this run's checkout. */
let PROJECT = STACKS;
const PORTS = stackPorts(import.meta.url);
const url = `http://127.0.0.1:${PORTS.mlflow}`;

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let dir: string;
let out: string;

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(STACKS);
  dir = testSpecDir(NAME, PORTS);
  PROJECT = checkoutProject(NAME, dir);
  out = tempDir("mlflow-dev-itbackup-out-");
}, 60_000);

afterAll(() => {
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

interface Recorded {
  experiment: unknown;
  run: { info: Record<string, unknown>; data: Record<string, unknown> };
  history: unknown;
  artifactUri: string;
  artifactSha256: string;
  rows: unknown;
}

async function record(client: MlflowClient, experimentId: string, runId: string): Promise<Recorded> {
  const experiment = (
    await client.call<{ experiment: unknown }>("GET", "experiments/get", { experiment_id: experimentId })
  ).experiment;
  const run = (
    await client.call<{ run: { info: Record<string, unknown>; data: Record<string, unknown> } }>("GET", "runs/get", {
      run_id: runId,
    })
  ).run;
  const history = await client.call("GET", "metrics/get-history", { run_id: runId, metric_key: "loss" });
  const artifactUri = String(run.info.artifact_uri);
  const artifact = await client.downloadArtifact(artifactUri, "model/weights.bin");
  const db = await stackDatabase(PORTS.postgres, readEnvFile(join(dir, ".mlflow-dev/.env")));
  try {
    const rows = {
      metrics: (await db.query("SELECT key, value, step, timestamp FROM metrics ORDER BY key, step")).rows,
      params: (await db.query("SELECT key, value FROM params ORDER BY key")).rows,
      runs: (await db.query("SELECT run_uuid, name, status, start_time, experiment_id FROM runs ORDER BY run_uuid"))
        .rows,
    };
    return { experiment, run, history, artifactUri, artifactSha256: sha256(artifact), rows };
  } finally {
    await db.end();
  }
}

describe("backup and restore of the local stack", () => {
  const weights = new Uint8Array(randomBytes(300_000));
  let experimentId: string;
  let runId: string;
  let before: Recorded;
  let backup: string;

  it("backup refuses a stack that is not running (exit 1)", () => {
    const r = cli(["backup", "--out", join(out, "none")], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`the local stack ${PROJECT} is not running`);
    expect(existsSync(join(out, "none"))).toBe(false);
  });

  it("backup writes the dump, every artifact object and a manifest with their digests", async () => {
    const up = cli(["up"], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const client = new MlflowClient(url);
    experimentId = await client.createExperiment("kept-by-backup");
    const run = await client.createRun(experimentId, "trained");
    runId = run.runId;
    await client.call("POST", "runs/log-batch", {
      run_id: runId,
      metrics: [0, 1, 2].map((step) => ({
        key: "loss",
        value: 1 / (step + 1),
        timestamp: 1_700_000_000_000 + step,
        step,
      })),
      params: [
        { key: "lr", value: "0.01" },
        { key: "layers", value: "4" },
      ],
    });
    await client.uploadArtifact(run.artifactUri, "model/weights.bin", weights);
    before = await record(client, experimentId, runId);
    expect(before.artifactSha256).toBe(sha256(weights));

    backup = join(out, "first");
    const r = cli(["backup", "--out", backup], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`to ${backup}`);
    expect(r.stdout).toContain("artifacts: 1 object(s), 300000 bytes");
    for (const secret of Object.values(readEnvFile(join(dir, ".mlflow-dev/.env"))))
      expect(r.stdout + r.stderr).not.toContain(secret);

    const manifest = JSON.parse(readFileSync(join(backup, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({
      format: 1,
      stack: PROJECT,
      mlflowVersion: pins.mlflow,
      database: { file: "database.sql.gz" },
      artifacts: { bucket: "mlflow-artifacts", prefix: "mlflow" },
    });
    expect(manifest.schemaRevision).toMatch(/^[0-9a-f]{12}$/);
    const key = `mlflow/${experimentId}/${runId}/artifacts/model/weights.bin`;
    expect(manifest.artifacts.objects).toEqual([{ key, bytes: weights.length, sha256: sha256(weights) }]);
    expect(sha256(readFileSync(join(backup, "artifacts", key)))).toBe(sha256(weights));
    const dump = readFileSync(join(backup, "database.sql.gz"));
    expect(sha256(dump)).toBe(manifest.database.sha256);
    expect(dump.length).toBe(manifest.database.bytes);
    const sql = gunzipSync(dump).toString();
    expect(sql).toContain("PostgreSQL database dump complete");
    expect(sql).toContain("kept-by-backup");
    // No temporary directory is left beside it.
    expect(readdirSync(out).sort()).toEqual(["first"]);
  });

  it("backup refuses an existing directory (exit 2)", () => {
    const r = cli(["backup", "--out", backup], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${backup} exists`);
  });

  it("after down --volumes and a new up, restore brings back the same experiment, run, metrics and artifact bytes", async () => {
    const down = cli(["down", "--volumes", "--yes"], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    const up = cli(["up"], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const client = new MlflowClient(url);
    await expect(client.call("GET", "runs/get", { run_id: runId })).rejects.toThrow();

    const r = cli(["restore", backup], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`restored ${backup}`);
    expect(r.stdout).toContain("1 run(s)");
    expect(r.stdout).toContain("artifacts: 1 object(s)");
    const after = await record(client, experimentId, runId);
    expect(after).toEqual(before);
    expect(after.artifactSha256).toBe(sha256(weights));
  });

  it("a second restore without --force is refused: the stack is not empty", async () => {
    const r = cli(["restore", backup], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`the local stack ${PROJECT} is not empty (1 run(s) in the database`);
    expect(r.stderr).toContain("--force");
  });

  it("restore --force replaces a non-empty stack: later runs and the objects the backup lacks are gone", async () => {
    const client = new MlflowClient(url);
    const later = await client.createRun(experimentId, "after-the-backup");
    await client.uploadArtifact(later.artifactUri, "extra.txt", new TextEncoder().encode("not in the backup"));
    const r = cli(["restore", backup, "--force"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("1 run(s)");
    expect(r.stdout).toContain("artifacts: 1 object(s); 1 object(s) not in the backup deleted");
    // The safety backup: named, complete, and holding the stack as it was (2 runs, 2 objects).
    const safety = /the stack as it was before: (\S+) /.exec(r.stdout)?.[1];
    expect(safety, r.stdout).toMatch(/\.mlflow-dev\/backups\/\d{8}T\d{6}Z-before-restore$/);
    const kept = await verifyBackup(safety!);
    expect(kept.artifacts.objects.map((o) => o.key).sort()).toEqual(
      [
        `mlflow/${experimentId}/${runId}/artifacts/model/weights.bin`,
        `mlflow/${experimentId}/${later.runId}/artifacts/extra.txt`,
      ].sort(),
    );
    expect(gunzipSync(readFileSync(join(safety!, "database.sql.gz"))).toString()).toContain(later.runId);
    await expect(client.call("GET", "runs/get", { run_id: later.runId })).rejects.toThrow();
    const s3 = minioClient(PORTS.minio, readEnvFile(join(dir, ".mlflow-dev/.env")));
    try {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: "mlflow-artifacts", Prefix: "mlflow/" }));
      expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([
        `mlflow/${experimentId}/${runId}/artifacts/model/weights.bin`,
      ]);
    } finally {
      s3.destroy();
    }
    expect(await record(client, experimentId, runId)).toEqual(before);
  });

  it("a tampered backup is refused before anything changes, naming the file", async () => {
    const tampered = join(out, "tampered");
    cpSync(backup, tampered, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(tampered, "manifest.json"), "utf8"));
    const file = join(tampered, "artifacts", manifest.artifacts.objects[0].key);
    const bytes = readFileSync(file);
    bytes[1000] = (bytes[1000] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    const r = cli(["restore", tampered, "--force"], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${file} does not match the manifest`);
    expect(r.stderr).not.toContain("stopping the server");

    const truncated = join(out, "truncated");
    cpSync(backup, truncated, { recursive: true });
    const dump = readFileSync(join(truncated, "database.sql.gz"));
    writeFileSync(join(truncated, "database.sql.gz"), dump.subarray(0, dump.length - 10));
    const t = cli(["restore", truncated, "--force"], { cwd: dir });
    expect(t.code, t.stderr).toBe(2);
    expect(t.stderr).toContain(`${join(truncated, "database.sql.gz")} does not match the manifest`);

    expect(await record(new MlflowClient(url), experimentId, runId)).toEqual(before);
  });

  it("a dump with psql meta-commands or COPY TO PROGRAM runs nothing: refused, no file in the container or on the host", async () => {
    const postgres = projectContainers(PROJECT).find((n) => n.includes("postgres"))!;
    const inContainer = (path: string) => spawnSync("docker", ["exec", postgres, "test", "-e", path]).status === 0;
    const marker = (what: string) => `/tmp/mlflow-dev-itbackup-${what}-${randomBytes(4).toString("hex")}`;
    /** A copy of the backup whose dump has `extra` appended, with a manifest that matches it. */
    const crafted = (name: string, extra: string) => {
      const to = join(out, name);
      cpSync(backup, to, { recursive: true });
      const dump = gzipSync(gunzipSync(readFileSync(join(to, "database.sql.gz"))).toString() + extra);
      writeFileSync(join(to, "database.sql.gz"), dump);
      const manifest = JSON.parse(readFileSync(join(to, "manifest.json"), "utf8"));
      manifest.database = { ...manifest.database, sha256: sha256(dump), bytes: dump.length };
      writeFileSync(join(to, "manifest.json"), JSON.stringify(manifest));
      return to;
    };

    const shell = marker("shell");
    const meta = crafted("meta-command", `\\! touch ${shell}\nSELECT 1; \\! touch ${shell}\n`);
    const m = cli(["restore", meta, "--force"], { cwd: dir });
    expect(m.code, m.stderr).toBe(2);
    expect(m.stderr).toContain(`${join(meta, "database.sql.gz")} is refused, line`);
    expect(m.stderr).toContain("(\\! touch /tmp/mlflow-dev-itbackup-shell");
    expect(m.stderr).not.toContain("stopping the server");

    const program = marker("program");
    const copy = crafted("copy-to-program", `COPY (SELECT 1) TO PROGRAM 'touch ${program}';\n`);
    const c = cli(["restore", copy, "--force"], { cwd: dir });
    expect(c.code, c.stderr).toBe(1);
    expect(c.stderr).toContain("loading the database failed");
    expect(c.stderr).toMatch(/permission denied|must be superuser|pg_execute_server_program/);
    expect(c.stderr).not.toContain("stopping the server");

    for (const path of [shell, program]) {
      expect(inContainer(path), `${path} in ${postgres}`).toBe(false);
      expect(existsSync(path), `${path} on the host`).toBe(false);
    }
    // Nothing half-done: the data as before, and no restore role or database left behind.
    expect(await record(new MlflowClient(url), experimentId, runId)).toEqual(before);
    const db = await stackDatabase(PORTS.postgres, readEnvFile(join(dir, ".mlflow-dev/.env")));
    try {
      const left = await db.query(
        "SELECT (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'mlflow_dev_%') + (SELECT count(*) FROM pg_database WHERE datname LIKE 'mlflow_dev_%') AS n",
      );
      expect(Number(left.rows[0].n)).toBe(0);
    } finally {
      await db.end();
    }
  });

  it("a backup with a symbolically linked directory under artifacts/ is refused, naming it", () => {
    const linked = join(out, "linked");
    cpSync(backup, linked, { recursive: true });
    const real = join(out, "linked-target");
    mkdirSync(real);
    renameSync(join(linked, "artifacts", "mlflow"), join(real, "mlflow"));
    symlinkSync(join(real, "mlflow"), join(linked, "artifacts", "mlflow"));
    const r = cli(["restore", linked, "--force"], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${join(linked, "artifacts", "mlflow")} is a symbolic link`);
  });

  it("a backup of another MLflow version is refused, naming both versions and the way", () => {
    const other = join(out, "other-version");
    cpSync(backup, other, { recursive: true });
    const path = join(other, "manifest.json");
    writeFileSync(
      path,
      readFileSync(path, "utf8").replace(
        `"mlflowVersion": "${pins.mlflow}"`,
        `"mlflowVersion": "${pins.mlflowPrevious}"`,
      ),
    );
    const r = cli(["restore", other, "--force"], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`the backup is of MLflow ${pins.mlflowPrevious}, but mlflow.version is ${pins.mlflow}`);
    expect(r.stderr).toContain(`Set mlflow.version to ${pins.mlflowPrevious}`);
    expect(r.stderr).toContain(`then upgrade it to ${pins.mlflow}`);
  });
});
