import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import {
  type CliResult,
  cli,
  MlflowClient,
  minioClient,
  projectContainers,
  readEnvFile,
  removeLeftovers,
  requireImagesInCi,
  showRun,
  stackPorts,
  testSpecDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Operating the local stack: `logs --since/--timestamps` (docker compose's own flags), and `exec`,
 * a one-off container of the mlflow service on the stack's network (compose run), running an
 * MLflow command, SQL against the stack's database (not published), and a failing command;
 * `gc` (gc.olderThanDays: 0 here) after deleting runs and an experiment with artifacts.
 */
const NAME = "itoplocal";
const PROJECT = `mlflow-dev-${NAME}`;
const PORTS = stackPorts(import.meta.url);
let dir: string;

const show = (r: CliResult) => showRun(r, 3000);

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(PROJECT);
  dir = testSpecDir(NAME, PORTS, (spec) => spec.set("gc.olderThanDays", 0));
  const up = cli(["up"], { cwd: dir });
  expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
});

afterAll(() => {
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

describe("operating the local stack", () => {
  it("logs --since and --timestamps select and stamp the server's lines", () => {
    const r = cli(["logs", "mlflow", "--since", "1h", "--timestamps"], { cwd: dir });
    expect(r.code, show(r)).toBe(0);
    const startup = r.stdout.split("\n").find((l) => l.includes("Application startup complete"));
    const stamp = /\| (\d{4}-\d{2}-\d{2}T\S+) /.exec(startup ?? "")?.[1];
    expect(stamp, show(r)).toBeDefined();
    expect(Date.now() - Date.parse(stamp ?? "")).toBeLessThan(3_600_000);
    const future = cli(["logs", "mlflow", "--since", new Date(Date.now() + 3_600_000).toISOString()], { cwd: dir });
    expect(future.code, show(future)).toBe(0);
    expect(future.stdout).not.toContain("Application startup complete");
  });

  it("exec runs an mlflow command against the stack's database, in a container that is removed after", () => {
    const r = cli(["exec", "--", "mlflow", "experiments", "search", "--view", "all"], { cwd: dir });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^0\s+Default\s+/m);
    // Only the stack's own containers are left (compose run --rm).
    expect(projectContainers(PROJECT).filter((n) => n.includes("-run-"))).toEqual([]);
  });

  it("exec psql reaches the unpublished database; a failing query and a failing command give their exit codes", () => {
    const r = cli(["exec", "--", "psql", "-c", "select name, lifecycle_stage from experiments"], { cwd: dir });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain("name|lifecycle_stage\nDefault|active\n(1 row)");
    const bad = cli(["exec", "--", "psql", "-c", "select * from no_such_table"], { cwd: dir });
    expect(bad.code, show(bad)).toBe(1);
    expect(bad.stderr).toContain('ERROR:  relation "no_such_table" does not exist');
    const failing = cli(["exec", "--", "sh", "-c", "echo about to fail; exit 3"], { cwd: dir });
    expect(failing.code, show(failing)).toBe(3);
    expect(failing.stdout).toContain("about to fail");
  });

  it("gc --dry-run counts what gc removes and removes nothing; gc removes the rows and the objects, and reports them", async () => {
    const client = new MlflowClient(`http://127.0.0.1:${PORTS.mlflow}`);
    const kept = await client.createExperiment(`kept-${Date.now()}`);
    const doomed = await client.createExperiment(`doomed-${Date.now()}`);
    const payload = new Uint8Array(1000).fill(7);
    const runs: { runId: string; artifactUri: string }[] = [];
    for (const [experiment, name] of [
      [kept, "deleted-run"],
      [kept, "kept-run"],
      [doomed, "in-deleted-experiment"],
    ] as const) {
      const run = await client.createRun(experiment, name);
      await client.uploadArtifact(run.artifactUri, "a.bin", payload);
      await client.uploadArtifact(run.artifactUri, "dir/b.bin", payload.slice(0, 500));
      runs.push(run);
    }
    await client.call("POST", "runs/delete", { run_id: runs[0]?.runId });
    await client.call("POST", "experiments/delete", { experiment_id: doomed });
    const env = readEnvFile(join(dir, ".mlflow-dev/.env"));
    const s3 = minioClient(PORTS.minio, env);
    const objects = async () =>
      ((await s3.send(new ListObjectsV2Command({ Bucket: "mlflow-artifacts", Prefix: "mlflow/" }))).Contents ?? []).map(
        (o) => o.Key ?? "",
      );
    const before = await objects();
    const sql = `select count(*) from runs where run_uuid in ('${runs.map((r) => r.runId).join("','")}')`;

    const dry = cli(["gc", "--dry-run", "--json"], { cwd: dir });
    expect(dry.code, show(dry)).toBe(0);
    const dryReport = JSON.parse(dry.stdout);
    expect(dryReport).toMatchObject({
      dryRun: true,
      olderThanDays: 0,
      runs: { found: 2, removed: 0 },
      experiments: { found: 1, removed: 0 },
      artifactObjects: { found: 4, removed: 0 },
      bytes: { found: 3000, freed: 0 },
    });
    expect(await objects()).toEqual(before);
    const still = cli(["exec", "--", "psql", "-At", "-c", sql], { cwd: dir });
    expect(still.stdout.trim(), show(still)).toBe("3");

    const gc = cli(["gc", "--json"], { cwd: dir });
    expect(gc.code, show(gc)).toBe(0);
    expect(JSON.parse(gc.stdout)).toMatchObject({
      dryRun: false,
      gcExitCode: 0,
      runs: { found: 2, removed: 2 },
      experiments: { found: 1, removed: 1 },
      artifactObjects: { found: 4, removed: 4 },
      bytes: { found: 3000, freed: 3000 },
    });
    const after = await objects();
    expect(before.length - after.length).toBe(4);
    expect(after.filter((k) => k.includes(runs[1]?.runId ?? "?"))).toHaveLength(2);
    const left = cli(["exec", "--", "psql", "-At", "-c", sql], { cwd: dir });
    expect(left.stdout.trim(), show(left)).toBe("1");
    const text = cli(["gc"], { cwd: dir });
    expect(text.code, show(text)).toBe(0);
    expect(text.stdout).toContain("runs:             0 of 0");
  });
});
