import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AwsBackupResult,
  type AwsClients,
  type AwsRestoreResult,
  createAwsClients,
  destroyAwsClients,
  type PromoteResult,
  SnapshotTag,
  send,
  targetFor,
} from "@mlflow-dev/aws/deploy";
import { cli, EMULATOR, emulatedEnv, emulatorAnswers, emulatorEnv, specFixture } from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * Backups of an AWS environment on the emulator, whose RDS snapshots hold the data (MiniStack
 * patch 8): examples/basic staging is promoted, gets an experiment, is backed up, gets a second
 * experiment, and is restored from the backup (the first experiment is there, the second is not,
 * the database is a new instance, the replaced one is a snapshot). A later promote keeps the
 * restored database. destroy keeps a final snapshot, from which restore recreates the stack.
 */
const up = await emulatorAnswers("test/integration/aws-backup-restore.test.ts");
const ACCOUNT = "888877776666";
const NAME = `itawsbackup-${Math.random().toString(36).slice(2, 7)}`;
const STACK = `mlflow-dev-${NAME}-staging`;
const SERVICE = `${NAME}-mlflow`;

describe.skipIf(!up && !process.env.CI)("backup and restore of an AWS environment on the emulator", () => {
  let dir: string;
  let clients: AwsClients;
  let url: string;
  let backup: AwsBackupResult;
  let finalSnapshot: string;
  const env = emulatorEnv(ACCOUNT);
  const run = (args: string[]) => cli([...args, "--env", "staging"], { cwd: dir, env });

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await send(targetFor(url, EMULATOR), method, `/api/2.0/mlflow/${path}`, {
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, json: JSON.parse(r.body.toString() || "{}") };
  };
  const experiment = (name: string) => api("GET", `experiments/get-by-name?experiment_name=${name}`);
  const databaseInstance = async () =>
    (await clients.cloudformation.describeStackResource({ StackName: STACK, LogicalResourceId: "Database" }))
      .StackResourceDetail?.PhysicalResourceId;
  const stackParameter = async (key: string) =>
    (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0]?.Parameters?.find(
      (p) => p.ParameterKey === key,
    )?.ParameterValue;
  const service = async () =>
    (await clients.ecs.describeServices({ cluster: STACK, services: [SERVICE] })).services?.[0];
  const tags = async (snapshot: string) => {
    const s = (await clients.rds.describeDBSnapshots({ DBSnapshotIdentifier: snapshot })).DBSnapshots?.[0];
    return { status: s?.Status, tags: Object.fromEntries((s?.TagList ?? []).map((t) => [t.Key, t.Value])) };
  };

  beforeAll(async () => {
    if (!up) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    dir = mkdtempSync(join(tmpdir(), `mlflow-dev-${NAME}-`));
    emulatedEnv(specFixture("examples/basic").name(NAME), { account: ACCOUNT }).write(dir);
    clients = await createAwsClients({
      region: "eu-west-1",
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
    });
    const promoted = run(["promote", "--json"]);
    expect(promoted.code, promoted.stderr).toBe(0);
    url = (JSON.parse(promoted.stdout) as PromoteResult).url;
  }, 600_000);

  afterAll(() => {
    if (dir) {
      const d = run(["destroy", "--yes", "--delete-data", "--skip-final-snapshot"]);
      if (d.code !== 0) console.warn(`destroy of the emulated staging failed:\n${d.stderr}`);
      rmSync(dir, { recursive: true, force: true });
    }
    if (clients) destroyAwsClients(clients);
  }, 600_000);

  it("backup --env takes a snapshot tagged with the MLflow version and the artifact point", async () => {
    expect((await api("POST", "experiments/create", { name: "before-backup" })).status).toBe(200);
    const r = run(["backup", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    backup = JSON.parse(r.stdout) as AwsBackupResult;
    expect(backup.instance).toBe(await databaseInstance());
    expect(backup.snapshot).toMatch(new RegExp(`^${backup.instance}-backup-\\d{14}$`));
    const snapshot = await tags(backup.snapshot);
    expect(snapshot.status).toBe("available");
    expect(snapshot.tags).toMatchObject({
      [SnapshotTag.kind]: "backup",
      [SnapshotTag.mlflowVersion]: pins.mlflow,
      [SnapshotTag.bucket]: `${NAME}-staging-artifacts-${ACCOUNT}`,
      [SnapshotTag.objects]: String(backup.artifacts.objects),
    });
    expect((await api("POST", "experiments/create", { name: "after-backup" })).status).toBe(200);
  });

  it("restore refuses a snapshot that does not exist or holds a newer MLflow's schema, changing nothing", async () => {
    const missing = run(["restore", "--snapshot", "no-such-snapshot"]);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain("there is no RDS snapshot no-such-snapshot in eu-west-1");
    const newer = `${backup.instance}-newer`;
    await clients.rds.createDBSnapshot({
      DBInstanceIdentifier: backup.instance,
      DBSnapshotIdentifier: newer,
      Tags: [{ Key: SnapshotTag.mlflowVersion, Value: "9.0.0" }],
    });
    const refused = run(["restore", "--snapshot", newer]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(
      `the RDS snapshot ${newer} holds MLflow 9.0.0's schema, newer than mlflow.version ${pins.mlflow}`,
    );
    expect(await databaseInstance()).toBe(backup.instance);
    expect(await service()).toMatchObject({ desiredCount: 1, runningCount: 1 });
    expect((await experiment("after-backup")).status).toBe(200);
  });

  it("restore --env swaps in a new database from the snapshot, with the data of that moment", async () => {
    const r = run(["restore", "--snapshot", backup.snapshot, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const restored = JSON.parse(r.stdout) as AwsRestoreResult;
    expect(r.stderr).toContain("service scaled to zero (from 1): no server writes while the database is swapped");
    expect(restored.snapshotMlflowVersion).toBe(pins.mlflow);
    expect(restored.previousDatabaseSnapshot).toMatch(new RegExp(`^${backup.instance}-before-restore-\\d{14}$`));
    expect((await tags(restored.previousDatabaseSnapshot ?? "")).status).toBe("available");

    const instance = await databaseInstance();
    expect(instance).not.toBe(backup.instance);
    const old = await clients.rds.describeDBInstances({ DBInstanceIdentifier: backup.instance }).catch((e) => e);
    expect((old as Error).name).toBe("DBInstanceNotFoundFault");
    expect(await stackParameter("DatabaseSnapshot")).toBe(backup.snapshot);
    expect(await service()).toMatchObject({ desiredCount: 1, runningCount: 1 });
    expect((await experiment("before-backup")).status).toBe(200);
    const gone = await experiment("after-backup");
    expect(gone.status).toBe(404);
    expect(gone.json.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
  });

  it("a later promote keeps the restored database (the stack keeps naming the snapshot)", async () => {
    const instance = await databaseInstance();
    const r = run(["promote"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await databaseInstance()).toBe(instance);
    expect(await stackParameter("DatabaseSnapshot")).toBe(backup.snapshot);
    expect((await experiment("before-backup")).status).toBe(200);
  });

  it("destroy keeps a final snapshot that records the MLflow version", async () => {
    const r = run(["destroy", "--yes", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    finalSnapshot = (JSON.parse(r.stdout) as { finalSnapshot: string }).finalSnapshot;
    expect(r.stderr).toContain(`mlflow-dev restore --env staging --snapshot ${finalSnapshot} brings it back`);
    const snapshot = await tags(finalSnapshot);
    expect(snapshot.status).toBe("available");
    expect(snapshot.tags).toMatchObject({ [SnapshotTag.kind]: "final", [SnapshotTag.mlflowVersion]: pins.mlflow });
  });

  it("restore --env after destroy recreates the stack with the database from the final snapshot", async () => {
    const r = run(["restore", "--snapshot", finalSnapshot, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const restored = JSON.parse(r.stdout) as AwsRestoreResult;
    expect(restored.previousDatabaseSnapshot).toBeUndefined();
    expect(r.stderr).toContain(`the bucket ${NAME}-staging-artifacts-${ACCOUNT} exists (kept by an earlier destroy)`);
    url = restored.promote.url;
    expect(await stackParameter("DatabaseSnapshot")).toBe(finalSnapshot);
    expect(await service()).toMatchObject({ desiredCount: 1, runningCount: 1 });
    expect((await experiment("before-backup")).status).toBe(200);
    expect((await experiment("after-backup")).status).toBe(404);
  });
});
