import { afterEach, describe, expect, it } from "vitest";
import pins from "../../../pins.json" with { type: "json" };
import { circuitBreakerThreshold } from "../src/deploy/engine/ecs-service.ts";
import { createAwsEngine, type PromoteResult, promote, type ServiceChecks } from "../src/deploy/index.ts";
import type { AwsModel } from "../src/index.ts";
import { ParameterName } from "../src/render/names.ts";
import { EXITED, FakeAws, OUT_OF_MEMORY, recordedChanges } from "./fake-aws.ts";
import { exampleModel, PASSING_CHECKS, promoteOptions, withImage } from "./helpers.ts";
import { withEngine } from "./in-memory-engine.ts";

/**
 * promote's branches against an in-memory AWS behind the real SDK clients (fake-aws.ts) and a fake
 * clock: no network, no sleeping. The emulator tier (test/integration) stays the truth for AWS.
 */

const basic = exampleModel("basic", "staging");
const GOOD = "ghcr.io/mlflow/mlflow:v3.17.2-full";

let aws: FakeAws | undefined;
afterEach(() => {
  aws?.restore();
  aws = undefined;
});

async function world(model: AwsModel = basic): Promise<FakeAws> {
  aws = await FakeAws.start({ model });
  return aws;
}

async function run(
  fake: FakeAws,
  model: AwsModel,
  checks: ServiceChecks = PASSING_CHECKS,
): Promise<{ result?: PromoteResult; error?: Error; lines: string[]; calls: number; slept: number[] }> {
  const { opts, report, clock } = promoteOptions(checks);
  const before = fake.calls.length;
  try {
    const result = await promote(model, ...withEngine(fake.clients, opts));
    return { result, lines: report.lines, calls: before, slept: clock.slept };
  } catch (e) {
    return { error: e as Error, lines: report.lines, calls: before, slept: clock.slept };
  }
}

/** The commands sent since call index `from`. */
function commandsSince(fake: FakeAws, from: number): string[] {
  return fake.calls.slice(from).map((c) => c.command);
}

function changeSetTypes(fake: FakeAws, from = 0): string[] {
  return fake.calls
    .slice(from)
    .filter((c) => c.command === "CreateChangeSet")
    .map((c) => `${c.input.ChangeSetType}:${String(c.input.ChangeSetName).replace(/^mlflow-dev-|-\d+$/g, "")}`);
}

describe("promote", () => {
  it("first rollout: creates the secrets and the stack, registers revision 1, points the service at it", async () => {
    const fake = await world(withImage(basic, GOOD));
    const r = await run(fake, withImage(basic, GOOD));
    expect(r.error).toBeUndefined();
    const steps = r.lines.filter((l) => !l.startsWith("  "));
    expect(steps).toEqual([
      "[1/7] checks",
      "[2/7] secrets",
      "[3/7] infrastructure: stack mlflow-dev-tracking-staging",
      "[4/7] image",
      "[5/7] migration",
      "[6/7] rollout",
      "[7/7] smoke test: http://tracking.example.test",
    ]);
    expect(r.lines).toContain("  creating mlflow-dev-tracking-staging: 3 to add, 0 to change, 0 to remove");
    expect(r.lines).toContain("  registered mlflow-dev-tracking-staging-mlflow:1");
    expect(r.lines).toContain("  the database schema is up to date");
    expect(changeSetTypes(fake)).toEqual(["CREATE:infra", "UPDATE:rollout"]);
    expect(r.result).toMatchObject({
      changed: true,
      url: "http://tracking.example.test",
      image: GOOD,
      taskDefinitionArn: expect.stringMatching(/task-definition\/mlflow-dev-tracking-staging-mlflow:1$/),
      smokeTest: { runId: "r1" },
    });
    expect(r.result?.previousTaskDefinitionArn).toBeUndefined();
    // On the fake clock time passes only in the waits' sleeps: all of it is counted as waiting.
    const slept = r.slept.reduce((a, b) => a + b, 0);
    expect(slept).toBeGreaterThan(0);
    expect(r.result?.timings).toEqual({ totalMs: slept, waitingMs: slept });
    expect(fake.serviceRevision()).toBe("mlflow-dev-tracking-staging-mlflow:1");
    // The lock is released.
    expect(fake.lock).toBeUndefined();
  });

  it("streams every stack event, page after page, once each", async () => {
    const fake = await world(withImage(basic, GOOD));
    const r = await run(fake, withImage(basic, GOOD));
    expect(r.error).toBeUndefined();
    // Two events per resource and the stack's own, two per page: every one is printed once.
    for (const id of ["Cluster", "Database", "Service"])
      for (const status of ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]) {
        const line = r.lines.filter((l) => l.includes(status) && l.includes(` ${id} (`));
        expect(line, `${status} ${id}`).toHaveLength(1);
      }
    expect(fake.sent("DescribeStackEvents").some((i) => i.NextToken)).toBe(true);
    // What happened before the change set was executed is not news.
    expect(r.lines.filter((l) => l.includes("REVIEW_IN_PROGRESS"))).toEqual([]);
  });

  it("a smoke test that waits for the health path itself (the in-VPC task) is the rollout's only check", async () => {
    const calls: string[] = [];
    const recording = (smokeWaitsForHealth: boolean): ServiceChecks => ({
      waitForHealth: async () => {
        calls.push("health");
      },
      smokeTest: async (target) => {
        calls.push("smoke");
        return { url: target.url, experimentId: "1", runId: "r1" };
      },
      smokeWaitsForHealth,
    });
    const model = withImage(basic, GOOD);
    expect((await run(await world(model), model, recording(true))).error).toBeUndefined();
    expect(calls).toEqual(["smoke"]);
    calls.length = 0;
    expect((await run(await world(model), model, recording(false))).error).toBeUndefined();
    expect(calls).toEqual(["health", "smoke"]);
  });

  it("no-op: a second promote with nothing changed touches nothing and checks the health only", async () => {
    const model = withImage(basic, GOOD);
    const fake = await world(model);
    await run(fake, model);
    const r = await run(fake, model);
    expect(r.error).toBeUndefined();
    expect(r.lines.filter((l) => !l.startsWith("  ")).slice(4)).toEqual([
      "[5/7] migration: skipped (the service already runs this image and configuration)",
      "[6/7] rollout: the service already runs mlflow-dev-tracking-staging-mlflow:1",
      "[7/7] smoke test: health only (nothing was rolled out)",
    ]);
    expect(r.lines).toContain("  no changes");
    expect(r.lines).toContain("  GET /health: 200");
    const sent = commandsSince(fake, r.calls);
    for (const change of ["ExecuteChangeSet", "RegisterTaskDefinition", "RunTask", "CreateSecret", "UpdateService"])
      expect(sent).not.toContain(change);
    expect(r.result).toMatchObject({ changed: false, taskDefinitionArn: expect.stringMatching(/mlflow:1$/) });
    expect(r.result?.previousTaskDefinitionArn).toBeUndefined();
  });

  it("a broken revision: CloudFormation waits for it until ECS's circuit breaker trips after 3 failed launches, the stack rolls back, promote names the cause", async () => {
    const fake = await world();
    await run(fake, withImage(basic, GOOD));
    fake.brokenImages.set("ghcr.io/mlflow/mlflow:broken", EXITED);
    const r = await run(fake, withImage(basic, "ghcr.io/mlflow/mlflow:broken"));
    const message = r.error?.message ?? "";
    // ECS's stopped tasks name the cause; the stack's events only that the circuit breaker tripped.
    expect(message).toMatch(/^a task of mlflow-dev-tracking-staging-mlflow:2 stopped before the rollout completed/);
    expect(message).toContain("3 task(s) of it stopped; the newest: Essential container in task exited, exit code 3");
    expect(message).toContain(
      "the stack mlflow-dev-tracking-staging ended in UPDATE_ROLLBACK_COMPLETE; failed resources:",
    );
    expect(message).toContain(
      "Service (AWS::ECS::Service) UPDATE_FAILED: Resource handler returned message: \"Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'.\"",
    );
    expect(message).toContain(
      "Rolled back: the service runs mlflow-dev-tracking-staging-mlflow:1 again and answers at http://tracking.example.test (CloudFormation rolled the stack back: its update ended in UPDATE_ROLLBACK_COMPLETE)",
    );
    expect(r.lines).toContain(
      "  CloudFormation waits until ECS runs mlflow-dev-tracking-staging-mlflow:2 steadily; after 3 failed task launches ECS gives up on it and the stack rolls back",
    );
    expect(
      r.lines.some((l) => l.includes("UPDATE_ROLLBACK_IN_PROGRESS") && l.includes("AWS::CloudFormation::Stack")),
    ).toBe(true);
    expect(
      r.lines.some((l) => l.includes("UPDATE_ROLLBACK_COMPLETE") && l.includes("AWS::CloudFormation::Stack")),
    ).toBe(true);
    expect(r.lines).toContain("CloudFormation rolled the stack back to mlflow-dev-tracking-staging-mlflow:1");
    expect(r.lines).toContain(
      "  mlflow-dev-tracking-staging-mlflow:1 runs again and http://tracking.example.test answers /health",
    );
    // The stack's rollback put the service back: promote ran no change set of its own for it.
    expect(changeSetTypes(fake, r.calls)).toEqual(["UPDATE:infra", "UPDATE:rollout"]);
    expect(fake.stack?.status).toBe("UPDATE_ROLLBACK_COMPLETE");
    expect(fake.stack?.parameters[ParameterName.taskDefinitionArn]).toMatch(/mlflow:1$/);
    expect(fake.serviceRevision()).toBe("mlflow-dev-tracking-staging-mlflow:1");
    expect(fake.stoppedTasks).toHaveLength(3);
    expect(fake.lock).toBeUndefined();
  });

  it("an OOM with 10 tasks: the circuit breaker takes 5 failed launches, promote gives the memory hint after the stack's rollback", async () => {
    const model: AwsModel = { ...basic, target: { ...basic.target, desiredCount: 10 } };
    const fake = await world(model);
    await run(fake, withImage(model, GOOD));
    fake.brokenImages.set("ghcr.io/mlflow/mlflow:hungry", OUT_OF_MEMORY);
    const r = await run(fake, withImage(model, "ghcr.io/mlflow/mlflow:hungry"));
    const message = r.error?.message ?? "";
    expect(message).toContain(
      "5 task(s) of it stopped; the newest: Essential container in task exited; OutOfMemoryError: Container killed due to memory usage, exit code 137",
    );
    expect(message).toContain("The MLflow container used more than the task's");
    expect(message).toContain("ended in UPDATE_ROLLBACK_COMPLETE");
    expect(message).toContain("Rolled back: the service runs mlflow-dev-tracking-staging-mlflow:1 again");
    expect(r.lines.some((l) => l.includes("after 5 failed task launches ECS gives up"))).toBe(true);
    expect(fake.stoppedTasks).toHaveLength(5);
    expect(fake.serviceRevision()).toBe("mlflow-dev-tracking-staging-mlflow:1");
  });

  it("a broken first revision: the stack's rollback removes the service it created, and promote says so", async () => {
    const fake = await world();
    fake.brokenImages.set("ghcr.io/mlflow/mlflow:broken", EXITED);
    const r = await run(fake, withImage(basic, "ghcr.io/mlflow/mlflow:broken"));
    const message = r.error?.message ?? "";
    expect(message).toMatch(/^a task of mlflow-dev-tracking-staging-mlflow:1 stopped before the rollout completed/);
    expect(message).toContain("ended in UPDATE_ROLLBACK_COMPLETE");
    expect(message).toContain(
      "CloudFormation rolled the stack back and removed the service it had created: nothing of this rollout runs or needs cleaning up.",
    );
    expect(message).toContain("the next promote adds the service again");
    expect(fake.service).toBeUndefined();
    expect(fake.stack?.parameters[ParameterName.taskDefinitionArn] ?? "").toBe("");
    expect(fake.lock).toBeUndefined();
    // The next promote, with an image that starts, adds the service.
    const again = await run(fake, withImage(basic, GOOD));
    expect(again.error).toBeUndefined();
    expect(fake.stack?.status).toBe("UPDATE_COMPLETE");
    expect(fake.serviceRevision()).toBe("mlflow-dev-tracking-staging-mlflow:2");
  });

  it("the circuit breaker's threshold is half the desired count, at least 3 and at most 200", () => {
    expect([0, 1, 6, 7, 10, 399, 400, 1000].map(circuitBreakerThreshold)).toEqual([3, 3, 3, 4, 5, 200, 200, 200]);
  });

  it("a deployment that fails after CloudFormation finished: the revision's task stops, promote puts the previous one back", async () => {
    const fake = await world();
    await run(fake, withImage(basic, GOOD));
    fake.serviceUpdateReturnsAtOnce = true;
    fake.brokenImages.set("ghcr.io/mlflow/mlflow:broken", EXITED);
    const r = await run(fake, withImage(basic, "ghcr.io/mlflow/mlflow:broken"));
    expect(r.error?.message).toMatch(
      /^a task of mlflow-dev-tracking-staging-mlflow:2 stopped before the rollout completed/,
    );
    expect(r.error?.message).toContain(
      "Rolled back: the service runs mlflow-dev-tracking-staging-mlflow:1 again and answers at http://tracking.example.test",
    );
    expect(r.lines).toContain("rolling back to mlflow-dev-tracking-staging-mlflow:1");
    expect(r.lines).toContain(
      "  mlflow-dev-tracking-staging-mlflow:1 runs again and http://tracking.example.test answers /health",
    );
    expect(fake.serviceRevision()).toBe("mlflow-dev-tracking-staging-mlflow:1");
    expect(fake.stack?.parameters[ParameterName.taskDefinitionArn]).toMatch(/mlflow:1$/);
    expect(changeSetTypes(fake, r.calls)).toEqual(["UPDATE:infra", "UPDATE:rollout", "UPDATE:rollout"]);
    expect(fake.lock).toBeUndefined();
  });

  it("rollback after a failed smoke test: the new revision runs, but the smoke test fails", async () => {
    const fake = await world();
    await run(fake, withImage(basic, GOOD));
    const failing: ServiceChecks = {
      ...PASSING_CHECKS,
      smokeTest: async () => {
        throw new Error("the smoke test failed: POST /api/2.0/mlflow/runs/create answered 500");
      },
    };
    const { opts, report, clock } = promoteOptions(failing);
    const error = await promote(
      withImage(basic, "ghcr.io/mlflow/mlflow:v3.17.2-other"),
      ...withEngine(fake.clients, opts),
    ).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toBe(
      "the smoke test failed: POST /api/2.0/mlflow/runs/create answered 500\nRolled back: the service runs mlflow-dev-tracking-staging-mlflow:1 again and answers at http://tracking.example.test",
    );
    expect(report.lines).toContain("[7/7] smoke test: http://tracking.example.test");
    expect(report.lines).toContain("rolling back to mlflow-dev-tracking-staging-mlflow:1");
    expect(fake.serviceRevision()).toBe("mlflow-dev-tracking-staging-mlflow:1");
    // The waits ran on the fake clock: it looked for stopped tasks four times, a poll apart.
    expect(clock.slept.length).toBeGreaterThanOrEqual(3);
  });

  it("ROLLBACK_COMPLETE: the empty stack a failed creation left is deleted, then created again", async () => {
    const model = withImage(basic, GOOD);
    const fake = await world(model);
    fake.givenStack("ROLLBACK_COMPLETE");
    const r = await run(fake, model);
    expect(r.error).toBeUndefined();
    expect(r.lines).toContain(
      "  the stack's first creation failed earlier and left it empty (ROLLBACK_COMPLETE): deleting it first",
    );
    const sent = commandsSince(fake, 0);
    expect(sent.indexOf("DeleteStack")).toBeGreaterThan(-1);
    expect(sent.indexOf("DeleteStack")).toBeLessThan(sent.indexOf("CreateChangeSet"));
    expect(changeSetTypes(fake)).toEqual(["CREATE:infra", "UPDATE:rollout"]);
  });

  it("a kept bucket: the new stack imports it first, then gets everything else as an update", async () => {
    const model = withImage(basic, GOOD);
    const fake = await world(model);
    fake.bucketExists = true;
    const r = await run(fake, model);
    expect(r.error).toBeUndefined();
    expect(r.lines).toContain(
      "  the bucket tracking-staging-artifacts-123456789012 exists (kept by an earlier destroy): adopting it into the stack",
    );
    expect(changeSetTypes(fake)).toEqual(["IMPORT:adopt", "UPDATE:infra", "UPDATE:rollout"]);
    const adopt = fake.sent("CreateChangeSet")[0];
    expect(adopt?.ResourcesToImport).toEqual([
      {
        ResourceType: "AWS::S3::Bucket",
        LogicalResourceId: "ArtifactBucket",
        ResourceIdentifier: { BucketName: "tracking-staging-artifacts-123456789012" },
      },
    ]);
    expect(adopt?.Tags).toBeUndefined();
    expect(r.lines).toContain("  updating mlflow-dev-tracking-staging: 3 to add, 0 to change, 0 to remove");
  });

  it.each([
    ["no tags", undefined],
    ["another spec's tags", { "mlflow-dev:service": "other", "mlflow-dev:environment": "staging" }],
    ["another environment's tags", { "mlflow-dev:service": "tracking", "mlflow-dev:environment": "prod" }],
  ])("a bucket with the spec's name and %s is not adopted: refused before anything is created", async (_, tags) => {
    const model = withImage(basic, GOOD);
    const fake = await world(model);
    fake.bucketExists = true;
    fake.bucketTags = tags;
    const r = await run(fake, model);
    expect((r.error as { kind?: string }).kind).toBe("input");
    expect(r.error?.message).toMatch(
      /^the bucket tracking-staging-artifacts-123456789012 exists but was not created by mlflow-dev for tracking \(staging\)/,
    );
    expect((r.error as { hint?: string }).hint).toContain(
      "Set environments.staging.bucket to a bucket name of its own",
    );
    expect(fake.sent("CreateChangeSet")).toEqual([]);
    expect(fake.stack).toBeUndefined();
  });

  it("lock held: refused before anything changes, and the other deploy's lock is left alone", async () => {
    const model = withImage(basic, GOOD);
    const fake = await world(model);
    const holder = JSON.stringify({
      id: "other",
      command: "promote",
      user: "ci",
      host: "runner-7",
      pid: 42,
      startedAt: "2026-01-01T00:00:00.000Z",
    });
    fake.lock = holder;
    const r = await run(fake, model);
    expect(r.error?.message).toBe(
      "refused: another deploy of staging holds its lock (promote by ci@runner-7 (pid 42) since 2026-01-01T00:00:00.000Z)",
    );
    const sent = commandsSince(fake, 0);
    for (const change of ["CreateSecret", "CreateChangeSet", "RegisterTaskDefinition", "DeleteParameter"])
      expect(sent).not.toContain(change);
    expect(fake.lock).toBe(holder);
  });

  it("a stack another operation runs on is refused, naming its status", async () => {
    const model = withImage(basic, GOOD);
    const fake = await world(model);
    fake.givenStack("UPDATE_IN_PROGRESS");
    const r = await run(fake, model);
    expect(r.error?.message).toBe(
      "the stack mlflow-dev-tracking-staging is UPDATE_IN_PROGRESS: another operation is running on it",
    );
    expect(fake.sent("CreateChangeSet")).toEqual([]);
  });

  it("a stack that never settles: promote gives up after the stack timeout, on the fake clock", async () => {
    const model = withImage(basic, GOOD);
    const fake = await world(model);
    fake.stuck = true;
    const { opts, clock } = promoteOptions();
    const t0 = clock.now();
    const error = await promote(model, ...withEngine(fake.clients, opts)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toBe("the stack mlflow-dev-tracking-staging is still CREATE_IN_PROGRESS after 60 minutes");
    expect(clock.now() - t0).toBeGreaterThan(opts.waits.stackTimeoutMs);
    expect(new Set(clock.slept)).toEqual(new Set([opts.waits.pollMs]));
    expect(fake.lock).toBeUndefined();
  });

  describe("an MLflow upgrade", () => {
    const old = withImage(basic, `ghcr.io/mlflow/mlflow:v${pins.mlflowPrevious}-full`);
    const from = { ...old, mlflow: { ...old.mlflow, version: pins.mlflowPrevious } } as AwsModel;
    const to = withImage(basic, GOOD);

    it("takes a snapshot, scales the service to zero, migrates, then rolls out at the old count", async () => {
      const fake = await world();
      await run(fake, from);
      const r = await run(fake, to);
      expect(r.error).toBeUndefined();
      expect(r.lines).toContain(`[5/7] migration: upgrade from MLflow ${pins.mlflowPrevious} to ${pins.mlflow}`);
      expect(r.lines).toContain("  service scaled to zero (from 1): no server writes while the schema changes");
      expect(r.result?.upgradeSnapshot).toMatch(/^tracking-staging-db-mlflow-3-16-1-to-3-17-2-\d{14}$/);
      expect(fake.snapshots).toEqual([r.result?.upgradeSnapshot]);
      expect(fake.sent("UpdateService").map((i) => i.desiredCount)).toEqual([0, 1]);
      expect(fake.serviceRevision()).toBe("mlflow-dev-tracking-staging-mlflow:2");
    });

    it("a failed smoke test after the migration does not put the old revision back (it cannot run on the new schema)", async () => {
      const fake = await world();
      await run(fake, from);
      const r = await run(fake, to, {
        ...PASSING_CHECKS,
        smokeTest: async () => {
          throw new Error("the smoke test failed");
        },
      });
      expect(r.error?.message).toMatch(
        /^the smoke test failed\nThe database has MLflow 3\.17\.2's schema now, on which 3\.16\.1 cannot run, so the previous revision is not put back: the service stays on mlflow-dev-tracking-staging-mlflow:2\. The database as it was before the upgrade is the snapshot tracking-staging-db-mlflow-3-16-1-to-3-17-2-\d{14}\.$/,
      );
      expect(r.lines.some((l) => l.startsWith("rolling back"))).toBe(false);
      expect(fake.serviceRevision()).toBe("mlflow-dev-tracking-staging-mlflow:2");
    });

    it("a downgrade is refused before anything changes", async () => {
      const fake = await world();
      await run(fake, to);
      const r = await run(fake, from);
      expect(r.error?.message).toMatch(/^mlflow\.version is 3\.16\.1, but the service runs MLflow 3\.17\.2/);
      const sent = commandsSince(fake, r.calls);
      for (const change of ["CreateSecret", "CreateChangeSet", "RegisterTaskDefinition", "UpdateService"])
        expect(sent).not.toContain(change);
      expect(fake.lock).toBeUndefined();
    });
  });

  describe("a change set that would replace a stateful resource", () => {
    it("is refused before it runs, naming the resource and the spec key; the change set is deleted", async () => {
      const model = withImage(basic, GOOD);
      const fake = await world(model);
      await run(fake, model);
      fake.infraChanges = recordedChanges("backend-database");
      const r = await run(fake, model);
      expect(r.error?.name).toBe("DeployError");
      expect((r.error as { kind?: string }).kind).toBe("input");
      expect(r.error?.message).toContain("Database (AWS::RDS::DBInstance) would be REPLACED by a new, empty one");
      expect(r.error?.message).toContain("backend.database (DBName)");
      expect((r.error as { hint?: string }).hint).toContain("--allow-replace Database");
      const sent = commandsSince(fake, r.calls);
      expect(sent).toContain("CreateChangeSet");
      for (const change of ["ExecuteChangeSet", "RegisterTaskDefinition", "RunTask", "UpdateService"])
        expect(sent).not.toContain(change);
      expect(fake.changeSets.size).toBe(0);
      expect(fake.lock).toBeUndefined();
    });

    it("runs with --allow-replace naming it, and only that one", async () => {
      const model = withImage(basic, GOOD);
      const fake = await world(model);
      await run(fake, model);
      fake.infraChanges = [...recordedChanges("backend-database"), ...recordedChanges("bucket")];
      const { opts } = promoteOptions();
      const partly = await promote(model, ...withEngine(fake.clients, { ...opts, allowReplace: ["Database"] })).catch(
        (e) => e as Error,
      );
      expect(partly).toBeInstanceOf(Error);
      expect((partly as Error).message).toContain("ArtifactBucket");
      expect((partly as Error).message).not.toContain("Database (");
      const before = fake.calls.length;
      const ok = await promote(
        model,
        ...withEngine(fake.clients, { ...opts, allowReplace: ["Database", "ArtifactBucket"] }),
      );
      expect(ok.infrastructureChanges.map((c) => [c.logicalId, c.replacement])).toContainEqual(["Database", "True"]);
      expect(changeSetTypes(fake, before)).toEqual(["UPDATE:infra"]);
      expect(commandsSince(fake, before)).toContain("ExecuteChangeSet");
    });

    it("the stack policy denies it outside promote's path; promote lifts it for the allowed resource only while it executes", async () => {
      const model = withImage(basic, GOOD);
      const fake = await world(model);
      await run(fake, model);
      const standard = JSON.parse(String(fake.stackPolicy));
      expect(standard.Statement).toContainEqual({
        Effect: "Deny",
        Action: ["Update:Replace", "Update:Delete"],
        Principal: "*",
        Resource: [
          "LogicalResourceId/Database",
          "LogicalResourceId/ArtifactBucket",
          "LogicalResourceId/DatabaseSubnetGroup",
          "LogicalResourceId/Vpc",
        ],
      });
      expect(fake.terminationProtection).toBe(true);
      // Anyone executing a replacing change set (the console, another tool) is stopped by the policy.
      fake.infraChanges = recordedChanges("backend-database");
      const { opts } = promoteOptions();
      const engine = createAwsEngine(fake.clients, opts);
      const cs = await engine.prepareChangeSet(
        { stackName: fake.stackName, type: "UPDATE", parameters: [], model, description: "by hand" },
        "infra",
      );
      await expect(engine.executeChangeSet(fake.stackName, cs)).rejects.toThrow();
      expect(fake.stack?.status).toBe("UPDATE_ROLLBACK_COMPLETE");
      // promote --allow-replace Database: the policy without Database while it runs, then the standard one again.
      fake.infraChanges = recordedChanges("backend-database");
      const before = fake.calls.length;
      await promote(model, ...withEngine(fake.clients, { ...opts, allowReplace: ["Database"] }));
      const policies = fake.calls
        .slice(before)
        .filter((c) => c.command === "SetStackPolicy")
        .map((c) => JSON.parse(String(c.input.StackPolicyBody)).Statement[1]?.Resource);
      expect(policies[0]).not.toContain("LogicalResourceId/Database");
      expect(policies[0]).toContain("LogicalResourceId/ArtifactBucket");
      expect(policies.at(-1)).toContain("LogicalResourceId/Database");
      expect(JSON.parse(String(fake.stackPolicy))).toEqual(standard);
      expect(fake.stack?.status).toBe("UPDATE_COMPLETE");
    });

    it("--allow-replace of a name that is not a stateful resource is refused before the checks", async () => {
      const model = withImage(basic, GOOD);
      const fake = await world(model);
      const { opts } = promoteOptions();
      await expect(promote(model, ...withEngine(fake.clients, { ...opts, allowReplace: ["Service"] }))).rejects.toThrow(
        /--allow-replace Service: not a stateful resource/,
      );
      expect(fake.calls).toEqual([]);
    });
  });

  it("a failed migration stops before the service is touched", async () => {
    const fake = await world();
    await run(fake, withImage(basic, GOOD));
    fake.migrationExitCode = 3;
    const r = await run(fake, withImage(basic, "ghcr.io/mlflow/mlflow:v3.17.2-other"));
    expect(r.error?.message).toBe("the migration task exited 3 (no log lines)");
    expect(changeSetTypes(fake, r.calls)).toEqual(["UPDATE:infra"]);
    expect(fake.serviceRevision()).toBe("mlflow-dev-tracking-staging-mlflow:1");
  });
});
