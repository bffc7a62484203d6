import { cpSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { checkoutProject } from "@mlflow-dev/compose/runtime";
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
  specFixture,
  stackPorts,
  tempDir,
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
/** Every checkout of the spec has a project that starts so. */
const STACKS = `mlflow-dev-${NAME}`;
/** The compose project of this run's checkout. */
let PROJECT = STACKS;
const PORTS = stackPorts(import.meta.url);
let dir: string;

const show = (r: CliResult) => showRun(r, 3000);

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(STACKS);
  dir = testSpecDir(NAME, PORTS, (spec) => spec.set("gc.olderThanDays", 0));
  PROJECT = checkoutProject(NAME, dir);
  const up = cli(["up"], { cwd: dir });
  expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
});

let copy: string | undefined;

afterAll(() => {
  if (copy) cli(["down", "--volumes", "--yes"], { cwd: copy });
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
  removeLeftovers(STACKS);
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

describe("two checkouts of one spec on one machine", () => {
  const status = (cwd: string) => {
    const r = cli(["status", "--json"], { cwd });
    return { r, json: r.stdout ? JSON.parse(r.stdout) : undefined };
  };

  it("a copy of the checkout (its .mlflow-dev too) is refused on the first one's ports, naming it; on ports of its own it runs beside it; down of one leaves the other", () => {
    copy = join(tempDir(`mlflow-dev-${NAME}-copy-`), "project");
    cpSync(dir, copy, { recursive: true });
    const own = checkoutProject(NAME, copy);
    expect(own).not.toBe(PROJECT);

    const refused = cli(["up"], { cwd: copy });
    expect(refused.code, show(refused)).toBe(1);
    expect(refused.stderr).toContain(
      `127.0.0.1:${PORTS.mlflow} (environments.local.ports.mlflow): held by the local stack ${PROJECT} of the checkout ${realpathSync(dir)}`,
    );
    expect(refused.stderr).toContain(`\`mlflow-dev down\` in ${realpathSync(dir)}`);
    expect(refused.stderr).not.toContain("internal error");
    expect(projectContainers(own)).toEqual([]);

    const ports = stackPorts(import.meta.url, 1);
    specFixture
      .file(join(copy, "mlflow-dev.yaml"))
      .env("local", { ports: { ...ports } })
      .write(copy);
    const up = cli(["up"], { cwd: copy });
    expect(up.code, show(up)).toBe(0);
    expect(up.stderr).toContain(
      `this directory is a copy of another checkout of the project: it gets a stack of its own, ${own}`,
    );

    const first = status(dir);
    const second = status(copy);
    expect(first.r.code, show(first.r)).toBe(0);
    expect(second.r.code, show(second.r)).toBe(0);
    expect(first.json).toMatchObject({ project: PROJECT, url: `http://127.0.0.1:${PORTS.mlflow}`, healthy: true });
    expect(second.json).toMatchObject({ project: own, url: `http://127.0.0.1:${ports.mlflow}`, healthy: true });

    const down = cli(["down", "--volumes", "--yes"], { cwd: copy });
    expect(down.code, show(down)).toBe(0);
    expect(projectContainers(own)).toEqual([]);
    const still = status(dir);
    expect(still.r.code, show(still.r)).toBe(0);
    expect(still.json).toMatchObject({ project: PROJECT, healthy: true });
  });

  it("a stack an earlier version started (project mlflow-dev-<name>, no record) is still found by status and down", () => {
    const legacy = STACKS;
    const target = copy ?? "";
    const record = join(target, ".mlflow-dev", "project.json");
    // What an earlier mlflow-dev did: the same compose file under the project mlflow-dev-<name>.
    writeFileSync(record, JSON.stringify({ name: NAME, project: legacy, checkout: realpathSync(target) }));
    const up = cli(["up"], { cwd: target });
    expect(up.code, show(up)).toBe(0);
    expect(projectContainers(legacy).length).toBeGreaterThan(0);
    rmSync(record);

    const found = status(target);
    expect(found.r.code, show(found.r)).toBe(0);
    expect(found.json).toMatchObject({ project: legacy, healthy: true });
    const down = cli(["down"], { cwd: target });
    expect(down.code, show(down)).toBe(0);
    expect(down.stdout).toMatch(/^stopped \d+ container\(s\); data volumes kept/);
    expect(projectContainers(legacy)).toEqual([]);
    // Stopped, its data volume and this checkout's .env still name it.
    expect(status(target).json).toMatchObject({ project: legacy, services: [] });
    expect(cli(["down", "--volumes", "--yes"], { cwd: target }).code).toBe(0);
    expect(status(dir).json).toMatchObject({ project: PROJECT, healthy: true });
  });
});
