import { describe, expect, it } from "vitest";
import pins from "../../../pins.json" with { type: "json" };
import { backupSnapshotId, SnapshotTag, snapshotTags } from "../src/deploy/engine/db-snapshots.ts";
import { databaseSnapshotParameter, type StackInfo } from "../src/deploy/engine/stack-info.ts";
import { LogicalId, ParameterName, toTemplate } from "../src/index.ts";
import { exampleModel } from "./helpers.ts";

const stack = (parameters: Record<string, string>) => ({ parameters }) as unknown as StackInfo;

describe("restoring the database from an RDS snapshot", () => {
  const model = exampleModel("basic", "staging");

  it("the template names the snapshot only when the parameter is set, and then leaves out the name and the user", () => {
    const t = toTemplate(model);
    const db = t.Resources[LogicalId.database]?.Properties as Record<string, unknown>;
    const cond = "DatabaseFromSnapshot";
    expect(t.Parameters[ParameterName.databaseSnapshot]?.Default).toBe("");
    expect(db.DBSnapshotIdentifier).toEqual({
      "Fn::If": [cond, { Ref: ParameterName.databaseSnapshot }, { Ref: "AWS::NoValue" }],
    });
    expect(db.DBName).toEqual({ "Fn::If": [cond, { Ref: "AWS::NoValue" }, model.database.name] });
    expect(db.MasterUsername).toEqual({ "Fn::If": [cond, { Ref: "AWS::NoValue" }, model.database.user] });
    // The password comes from the secret either way: a restored instance gets the current one.
    expect(JSON.stringify(db.MasterUserPassword)).toContain("DbPasswordSecretArn");
  });

  it("the snapshot parameter allows identifiers and ARNs of manual and automated snapshots, nothing else", () => {
    const pattern = new RegExp(
      (toTemplate(model).Parameters[ParameterName.databaseSnapshot]?.AllowedPattern as string) ?? "",
    );
    for (const ok of [
      "",
      "mlflow-dev-tracking-staging-database-abc-backup-20261201140509",
      "rds:mydb-2026-12-01-14-05",
      "arn:aws:rds:eu-west-1:123456789012:snapshot:mydb-final-snapshot",
    ])
      expect(pattern.test(ok), ok).toBe(true);
    for (const bad of ["1starts-with-digit", "has space", "a".repeat(256), "arn:aws:rds:eu-west-1:1:snapshot:x"])
      expect(pattern.test(bad), bad).toBe(false);
  });

  it("a change set keeps the stack's snapshot, sets a restore's, and leaves the parameter out for an older stack", () => {
    expect(databaseSnapshotParameter(stack({ [ParameterName.databaseSnapshot]: "snap-1" }))).toEqual({
      ParameterKey: ParameterName.databaseSnapshot,
      UsePreviousValue: true,
    });
    expect(databaseSnapshotParameter(stack({ [ParameterName.databaseSnapshot]: "" }), "snap-2")).toEqual({
      ParameterKey: ParameterName.databaseSnapshot,
      ParameterValue: "snap-2",
    });
    expect(databaseSnapshotParameter(undefined, "snap-3")).toEqual({
      ParameterKey: ParameterName.databaseSnapshot,
      ParameterValue: "snap-3",
    });
    expect(databaseSnapshotParameter(stack({ TaskDefinitionArn: "" }))).toBeUndefined();
    expect(databaseSnapshotParameter(undefined)).toBeUndefined();
  });

  it("names a backup after the instance, its kind and the time, as RDS allows", () => {
    const id = backupSnapshotId(
      "mlflow-dev-tracking-staging-database-abc",
      "before-restore",
      new Date("2026-12-01T14:05:09Z"),
    );
    expect(id).toBe("mlflow-dev-tracking-staging-database-abc-before-restore-20261201140509");
    expect(id).toMatch(/^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$/);
  });

  it("tags a snapshot with the MLflow version and the artifact point, in values RDS accepts", () => {
    const tags = snapshotTags(
      "backup",
      pins.mlflow,
      {
        bucket: "b",
        prefix: "mlflow",
        versioning: "Enabled",
        objects: 3,
        bytes: 1200,
        at: "2026-12-01T14:05:09.123Z",
      },
      ["db-password", "kek-passphrase"],
    );
    expect(Object.fromEntries(tags.map((t) => [t.Key, t.Value]))).toEqual({
      [SnapshotTag.kind]: "backup",
      [SnapshotTag.mlflowVersion]: pins.mlflow,
      [SnapshotTag.takenAt]: "2026-12-01T14:05:09.123Z",
      [SnapshotTag.bucket]: "b",
      [SnapshotTag.bucketVersioning]: "Enabled",
      [SnapshotTag.objects]: "3",
      [SnapshotTag.bytes]: "1200",
      [SnapshotTag.secrets]: "db-password kek-passphrase",
    });
    for (const t of tags) expect(t.Value).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u);
  });
});
