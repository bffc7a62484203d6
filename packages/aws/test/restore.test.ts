import { afterEach, describe, expect, it } from "vitest";
import pins from "../../../pins.json" with { type: "json" };
import {
  type AwsRestoreResult,
  backupAws,
  DeployError,
  promote,
  restoreAws,
  type ServiceChecks,
  SnapshotTag,
} from "../src/deploy/index.ts";
import { ParameterName } from "../src/render/names.ts";
import { FakeAws } from "./fake-aws.ts";
import { exampleModel, PASSING_CHECKS, promoteOptions, withImage } from "./helpers.ts";
import { withEngine } from "./in-memory-engine.ts";

/**
 * restore --env's branches against the in-memory AWS (fake-aws.ts): refusals before anything
 * changes, the swap with every writer stopped, and what a failure before or after the swap leaves.
 * test/integration/aws-backup-restore.test.ts runs the same on the emulator, with real data.
 */
const model = exampleModel("basic", "staging");
const pulled = withImage(model, `ghcr.io/mlflow/mlflow:v${pins.mlflow}-full`);

let aws: FakeAws | undefined;
afterEach(() => {
  aws?.restore();
  aws = undefined;
});

/** A promoted stack whose service runs one task, and a backup of its database. */
async function promotedWithBackup(): Promise<{ fake: FakeAws; snapshot: string }> {
  aws = await FakeAws.start({ model: pulled });
  await promote(pulled, ...withEngine(aws.clients, promoteOptions().opts));
  const backup = await backupAws(pulled, ...withEngine(aws.clients, promoteOptions().opts));
  return { fake: aws, snapshot: backup.snapshot };
}

async function restore(fake: FakeAws, snapshot: string) {
  const { opts, report } = promoteOptions();
  const from = fake.calls.length;
  const result = await restoreAws(pulled, ...withEngine(fake.clients, { ...opts, snapshot })).then(
    (r) => r,
    (e: Error) => e,
  );
  return { result, lines: report.lines, sent: fake.calls.slice(from) };
}

const changing = (sent: { command: string }[]) =>
  sent
    .map((c) => c.command)
    .filter(
      (c) => /^(Create|Execute|Update|Modify|Delete|Put)/.test(c) && c !== "PutParameter" && c !== "DeleteParameter",
    );

describe("restore --env", () => {
  it("backup tags the snapshot with the served MLflow version and the artifact point", async () => {
    const { fake, snapshot } = await promotedWithBackup();
    expect(snapshot).toMatch(/^tracking-staging-db-backup-\d{14}$/);
    const tags = Object.fromEntries(
      ((fake.sent("CreateDBSnapshot").at(-1)?.Tags ?? []) as { Key: string; Value: string }[]).map((t) => [
        t.Key,
        t.Value,
      ]),
    );
    expect(tags).toMatchObject({
      [SnapshotTag.kind]: "backup",
      [SnapshotTag.mlflowVersion]: pins.mlflow,
      [SnapshotTag.objects]: "1",
      [SnapshotTag.bucketVersioning]: "Enabled",
    });
  });

  it("refuses a snapshot that does not exist, of a newer MLflow, or of another PostgreSQL major, changing nothing", async () => {
    const { fake } = await promotedWithBackup();
    fake.snapshots.push("newer", "pg16");
    fake.snapshotDetails.set("newer", { TagList: [{ Key: SnapshotTag.mlflowVersion, Value: "99.0.0" }] });
    fake.snapshotDetails.set("pg16", { EngineVersion: "16.8" });
    for (const [snapshot, message] of [
      ["missing", "there is no RDS snapshot missing in eu-west-1"],
      ["newer", `the RDS snapshot newer holds MLflow 99.0.0's schema, newer than mlflow.version ${pins.mlflow}`],
      [
        "pg16",
        `the RDS snapshot pg16 is of PostgreSQL 16.8, but backend.postgresVersion is ${model.database.majorVersion}`,
      ],
    ]) {
      const r = await restore(fake, snapshot ?? "");
      expect(r.result).toBeInstanceOf(DeployError);
      expect((r.result as DeployError).kind).toBe("input");
      expect((r.result as Error).message).toContain(message);
      expect(changing(r.sent)).toEqual([]);
    }
  });

  it("refuses a snapshot whose secrets are gone, changing nothing; the backup records which it needs", async () => {
    const { fake, snapshot } = await promotedWithBackup();
    const tags = (fake.sent("CreateDBSnapshot").at(-1)?.Tags ?? []) as { Key: string; Value: string }[];
    expect(tags.find((t) => t.Key === SnapshotTag.secrets)?.Value).toBe(
      pulled.mlflow.secrets.map((s) => s.name).join(" "),
    );
    fake.secrets.delete("mlflow-dev/tracking/staging/db-password");
    const r = await restore(fake, snapshot);
    expect(r.result).toBeInstanceOf(DeployError);
    expect((r.result as DeployError).kind).toBe("input");
    expect((r.result as Error).message).toContain(
      `the RDS snapshot ${snapshot} needs the secret(s) mlflow-dev/tracking/staging/db-password, which no longer exist`,
    );
    expect(changing(r.sent)).toEqual([]);
  });

  it("on a running stack: snapshot of the current database, service to zero, the stack names the snapshot, count back", async () => {
    const { fake, snapshot } = await promotedWithBackup();
    fake.databaseProtected = true;
    const r = await restore(fake, snapshot);
    expect(r.result).not.toBeInstanceOf(Error);
    const restored = r.result as AwsRestoreResult;
    expect(restored.previousDatabaseSnapshot).toMatch(/^tracking-staging-db-before-restore-\d{14}$/);
    expect(restored.snapshotMlflowVersion).toBe(pins.mlflow);
    const order = r.sent.map((c) =>
      c.command === "UpdateService" ? `UpdateService:${c.input.desiredCount}` : c.command,
    );
    const at = (name: string) => order.indexOf(name);
    expect(at("CreateDBSnapshot")).toBeGreaterThanOrEqual(0);
    expect(at("CreateDBSnapshot")).toBeLessThan(at("UpdateService:0"));
    expect(at("UpdateService:0")).toBeLessThan(at("ModifyDBInstance"));
    expect(at("ModifyDBInstance")).toBeLessThan(at("ExecuteChangeSet"));
    expect(at("ExecuteChangeSet")).toBeLessThan(at("UpdateService:1"));
    expect(fake.sent("ModifyDBInstance")).toEqual([
      { DBInstanceIdentifier: "tracking-staging-db", DeletionProtection: false, ApplyImmediately: true },
    ]);
    const infra = r.sent.find(
      (c) => c.command === "CreateChangeSet" && String(c.input.ChangeSetName).startsWith("mlflow-dev-infra-"),
    )?.input;
    expect(infra?.Parameters).toContainEqual({
      ParameterKey: ParameterName.databaseSnapshot,
      ParameterValue: snapshot,
    });
    expect(fake.stack?.parameters[ParameterName.databaseSnapshot]).toBe(snapshot);
    expect(fake.databaseInstance).toBe(`tracking-staging-db-from-${snapshot}`);
    expect(r.lines).toContain("  service scaled to zero (from 1): no server writes while the database is swapped");
    expect(r.lines.some((l) => l.startsWith("[6/7] rollout") && !l.includes("already runs"))).toBe(true);
    expect(fake.lock).toBeUndefined();
  });

  it("a later promote keeps the snapshot named (UsePreviousValue), so the database is not replaced again", async () => {
    const { fake, snapshot } = await promotedWithBackup();
    await restore(fake, snapshot);
    const from = fake.calls.length;
    fake.infraChanges = [{ logicalId: "LogGroup", type: "AWS::Logs::LogGroup", action: "Modify" }];
    await promote(pulled, ...withEngine(fake.clients, promoteOptions().opts));
    const sets = fake.calls.slice(from).filter((c) => c.command === "CreateChangeSet");
    expect(sets.length).toBeGreaterThan(0);
    for (const cs of sets)
      expect(cs.input.Parameters).toContainEqual({
        ParameterKey: ParameterName.databaseSnapshot,
        UsePreviousValue: true,
      });
    expect(fake.databaseInstance).toBe(`tracking-staging-db-from-${snapshot}`);
  });

  it("a stack update that fails before the swap gives the service its count back on the old database", async () => {
    const { fake, snapshot } = await promotedWithBackup();
    fake.failInfraUpdate = true;
    const r = await restore(fake, snapshot);
    expect(r.result).toBeInstanceOf(DeployError);
    expect((r.result as Error).message).toMatch(
      /The database was not swapped: the service has its desired count \(1\) back on the database it had, which is also in the snapshot tracking-staging-db-before-restore-\d{14}\.$/,
    );
    const counts = r.sent.filter((c) => c.command === "UpdateService").map((c) => c.input.desiredCount);
    expect(counts).toEqual([0, 1]);
    expect(fake.databaseInstance).toBe("tracking-staging-db");
  });

  it("a failure after the swap does not put the old revision back, and names both snapshots", async () => {
    const { fake, snapshot } = await promotedWithBackup();
    const { opts } = promoteOptions();
    const failing: ServiceChecks = {
      ...PASSING_CHECKS,
      smokeTest: async () => {
        throw new Error("the smoke test failed");
      },
    };
    const r = await restoreAws(pulled, ...withEngine(fake.clients, { ...opts, serviceChecks: failing, snapshot })).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(r).toBeInstanceOf(DeployError);
    expect(r?.message).toContain(
      `the smoke test failed\nThe database was restored from the snapshot ${snapshot} and the instance it replaced is gone, so the previous revision is not put back`,
    );
    expect(r?.message).toMatch(
      /the database before the restore is the snapshot tracking-staging-db-before-restore-\d{14}\.$/,
    );
    expect(fake.databaseInstance).toBe(`tracking-staging-db-from-${snapshot}`);
  });

  it("restoring the snapshot the stack already names is refused: there would be nothing to apply", async () => {
    const { fake, snapshot } = await promotedWithBackup();
    await restore(fake, snapshot);
    const again = await restore(fake, snapshot);
    expect(again.result).toBeInstanceOf(DeployError);
    expect((again.result as Error).message).toContain(`was restored from ${snapshot} already`);
    expect(changing(again.sent)).toEqual([]);
  });
});
