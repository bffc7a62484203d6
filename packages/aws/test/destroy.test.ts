import { afterEach, describe, expect, it } from "vitest";
import { type DestroyOptions, defaultWaits, destroy, promote } from "../src/deploy/index.ts";
import type { AwsModel } from "../src/index.ts";
import { FakeAws } from "./fake-aws.ts";
import { fakeClock } from "./fake-clock.ts";
import { exampleModel, memoryReporter, PASSING_CHECKS, withImage } from "./helpers.ts";
import { inMemoryEngine, withEngine } from "./in-memory-engine.ts";

/** destroy against the in-memory AWS (fake-aws.ts): what each stack status lets it do. */

const model = exampleModel("basic", "staging");

let aws: FakeAws | undefined;
afterEach(() => {
  aws?.restore();
  aws = undefined;
});

function options() {
  const report = memoryReporter();
  return {
    report,
    waits: defaultWaits(undefined),
    clock: fakeClock(),
    skipFinalSnapshot: false,
    deleteData: false,
  };
}

/** destroy with the in-memory engine over the fake AWS, on the options' reporter and clock. */
function destroyOn(fake: FakeAws, m: AwsModel, o: DestroyOptions = options()) {
  return destroy(m, inMemoryEngine(fake.clients, o), o);
}

describe("destroy", () => {
  it("a stack another operation runs on is refused, and nothing is deleted", async () => {
    aws = await FakeAws.start({ model });
    aws.givenStack("UPDATE_IN_PROGRESS");
    const error = await destroyOn(aws, model, options()).then(
      () => undefined,
      (e: Error & { hint?: string }) => e,
    );
    expect(error?.message).toBe(
      "the stack mlflow-dev-tracking-staging is UPDATE_IN_PROGRESS: another operation is running on it",
    );
    expect(error?.hint).toBe("Wait until it finishes, then run destroy again.");
    expect(aws.sent("DeleteStack")).toEqual([]);
    expect(aws.lock).toBeUndefined();
  });

  it("an empty stack a failed creation left (ROLLBACK_COMPLETE) is deleted as it is, without a teardown change set", async () => {
    aws = await FakeAws.start({ model });
    aws.givenStack("ROLLBACK_COMPLETE");
    const o = options();
    const r = await destroyOn(aws, model, o);
    expect(r).toMatchObject({ stackDeleted: true, bucketKept: "tracking-staging-artifacts-123456789012" });
    expect(o.report.lines).toContain("  the stack is ROLLBACK_COMPLETE: deleted as it is");
    expect(aws.sent("CreateChangeSet")).toEqual([]);
    expect(aws.sent("DeleteStack")).toHaveLength(1);
    expect(aws.stack).toBeUndefined();
    // The wait for the deletion ran on the fake clock.
    expect(o.clock.slept.length).toBeGreaterThan(0);
  });

  it("a stack after a promote: the teardown settings through a change set, then the delete; the bucket and a snapshot kept", async () => {
    aws = await FakeAws.start({ model });
    const pulled = withImage(model, "ghcr.io/mlflow/mlflow:v3.17.2-full");
    await promote(
      pulled,
      ...withEngine(aws.clients, {
        ...options(),
        specDir: ".",
        serviceChecks: PASSING_CHECKS,
      }),
    );
    aws.snapshots.push("tracking-staging-db-final");
    aws.infraChanges = [{ logicalId: "Database", type: "AWS::RDS::DBInstance", action: "Modify" }];
    const from = aws.calls.length;
    const o = options();
    const r = await destroyOn(aws, pulled, o);
    const sent = aws.calls.slice(from).map((c) => c.command);
    expect(sent.indexOf("ExecuteChangeSet")).toBeLessThan(sent.indexOf("DeleteStack"));
    expect(String(aws.calls.slice(from).find((c) => c.command === "CreateChangeSet")?.input.ChangeSetName)).toMatch(
      /^mlflow-dev-teardown-/,
    );
    expect(r).toMatchObject({
      stackDeleted: true,
      finalSnapshot: "tracking-staging-db-final",
      bucketKept: "tracking-staging-artifacts-123456789012",
      taskDefinitionsDeregistered: [expect.stringMatching(/mlflow:1$/), expect.stringMatching(/migrate:1$/)],
    });
    expect(o.report.lines).toContain("  database: a final snapshot is kept");
    // The final snapshot says what a restore needs: the MLflow version served and the artifact point.
    const tags = Object.fromEntries(
      (aws.snapshotTags.get("arn:aws:rds:eu-west-1:123456789012:snapshot:tracking-staging-db-final") ?? []).map((t) => [
        t.Key,
        t.Value,
      ]),
    );
    expect(tags).toMatchObject({
      "mlflow-dev:snapshot": "final",
      "mlflow-dev:mlflow-version": pulled.mlflow.version,
      "mlflow-dev:artifact-bucket": "tracking-staging-artifacts-123456789012",
      "mlflow-dev:artifact-bucket-versioning": "Enabled",
      "mlflow-dev:artifact-objects": "1",
      "mlflow-dev:artifact-bytes": "5",
    });
    expect(aws.stack).toBeUndefined();
  });

  it("no stack: nothing to delete", async () => {
    aws = await FakeAws.start({ model });
    const o = options();
    const r = await destroyOn(aws, model, o);
    expect(r.stackDeleted).toBe(false);
    expect(o.report.lines).toContain("  no stack");
    expect(o.report.lines).toContain("  nothing to delete");
  });

  async function promoted() {
    aws = await FakeAws.start({ model });
    const pulled = withImage(model, "ghcr.io/mlflow/mlflow:v3.17.2-full");
    await promote(pulled, ...withEngine(aws.clients, { ...options(), specDir: ".", serviceChecks: PASSING_CHECKS }));
    aws.snapshots.push("tracking-staging-db-final");
    aws.infraChanges = [{ logicalId: "Database", type: "AWS::RDS::DBInstance", action: "Modify" }];
    return { fake: aws, pulled };
  }

  /** The DeletionPolicy of a resource in the teardown change set's template. */
  function teardownPolicy(fake: FakeAws, logicalId: string): unknown {
    const cs = fake.sent("CreateChangeSet").find((i) => String(i.ChangeSetName).startsWith("mlflow-dev-teardown-"));
    return (JSON.parse(String(cs?.TemplateBody)) as { Resources: Record<string, { DeletionPolicy?: string }> })
      .Resources[logicalId]?.DeletionPolicy;
  }

  it("turns off the termination protection promote turned on, right before the delete", async () => {
    const { fake, pulled } = await promoted();
    expect(fake.terminationProtection).toBe(true);
    const from = fake.calls.length;
    await destroyOn(fake, pulled, options());
    const sent = fake.calls.slice(from).map((c) => c.command);
    expect(sent.indexOf("UpdateTerminationProtection")).toBeLessThan(sent.indexOf("DeleteStack"));
    expect(fake.stack).toBeUndefined();
  });

  it("--delete-data deletes only the objects under the prefix; a bucket holding anything else is kept", async () => {
    const { fake, pulled } = await promoted();
    fake.bucketObjects = ["mlflow/1/a", "mlflow/2/b", "mlflow-other/keep", "backups/db.dump"];
    const o = { ...options(), deleteData: true };
    const r = await destroyOn(fake, pulled, o);
    expect(fake.bucketObjects).toEqual(["mlflow-other/keep", "backups/db.dump"]);
    expect(fake.sent("ListObjectVersions")[0]).toMatchObject({ Prefix: "mlflow/" });
    expect(r.bucketKept).toBe("tracking-staging-artifacts-123456789012");
    expect(teardownPolicy(fake, "ArtifactBucket")).toBe("Retain");
    expect(o.report.lines).toContain(
      "  bucket tracking-staging-artifacts-123456789012: kept: it holds objects outside mlflow/, which mlflow-dev did not write",
    );
  });

  it("--delete-data deletes the bucket when nothing but the prefix was in it", async () => {
    const { fake, pulled } = await promoted();
    fake.bucketObjects = ["mlflow/1/a"];
    const r = await destroyOn(fake, pulled, { ...options(), deleteData: true });
    expect(fake.bucketObjects).toEqual([]);
    expect(r.bucketKept).toBeUndefined();
    expect(teardownPolicy(fake, "ArtifactBucket")).toBe("Delete");
  });

  it("keeps the secrets while a final snapshot or the bucket is kept, and records them on the snapshot", async () => {
    const { fake, pulled } = await promoted();
    const o = options();
    const r = await destroyOn(fake, pulled, o);
    expect(fake.sent("DeleteSecret")).toEqual([]);
    expect(r.secrets).toEqual([]);
    expect(r.secretsKept).toEqual(pulled.mlflow.secrets.map((s) => `mlflow-dev/tracking/staging/${s.name}`));
    expect(o.report.lines).toContain(
      "  kept mlflow-dev/tracking/staging/db-password: the final snapshot tracking-staging-db-final needs it (destroy --skip-final-snapshot --delete-data deletes it)",
    );
    const tags = aws?.snapshotTags.get("arn:aws:rds:eu-west-1:123456789012:snapshot:tracking-staging-db-final") ?? [];
    expect(tags).toContainEqual({
      Key: "mlflow-dev:secrets",
      Value: pulled.mlflow.secrets.map((s) => s.name).join(" "),
    });
  });

  it("deletes the secrets when nothing of the data is kept (--skip-final-snapshot --delete-data, nothing else in the bucket)", async () => {
    const { fake, pulled } = await promoted();
    fake.bucketObjects = ["mlflow/1/a"];
    const r = await destroyOn(fake, pulled, { ...options(), skipFinalSnapshot: true, deleteData: true });
    expect(r.secretsKept).toBeUndefined();
    expect(r.secrets).toHaveLength(pulled.mlflow.secrets.length);
    expect(fake.sent("DeleteSecret").every((i) => i.ForceDeleteWithoutRecovery === true)).toBe(true);
  });

  it("refuses a database under deletion protection before anything changes, naming the setting", async () => {
    const { fake, pulled } = await promoted();
    fake.databaseProtected = true;
    const from = fake.calls.length;
    const error = await destroyOn(fake, pulled, options()).then(
      () => undefined,
      (e: Error & { hint?: string; kind?: string }) => e,
    );
    expect(error?.kind).toBe("input");
    expect(error?.message).toContain(
      "the database tracking-staging-db of mlflow-dev-tracking-staging has deletion protection on (environments.staging.database.deletionProtection: true)",
    );
    expect(error?.hint).toContain(
      "Set environments.staging.database.deletionProtection: false, run mlflow-dev promote --env staging",
    );
    const sent = fake.calls.slice(from).map((c) => c.command);
    for (const change of [
      "CreateChangeSet",
      "UpdateTerminationProtection",
      "DeleteStack",
      "DeleteSecret",
      "ModifyDBInstance",
    ])
      expect(sent).not.toContain(change);
    expect(fake.stack?.status).not.toMatch(/DELETE/);
    expect(fake.lock).toBeUndefined();
  });
});
