import { type AwsClients, createAwsClients, destroyAwsClients } from "@mlflow-dev/aws/deploy";
import {
  type CliResult,
  emulatedEnv,
  imageOverride,
  cli as runCli,
  type SpecFixture,
  showRun,
  specFixture,
  tempDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * The data-holding resources on the AWS emulator (MiniStack, localstack/): a spec edit that would
 * replace the database is refused before anything changes and runs only with --allow-replace; the
 * stack policy stops a replacing change set executed by anyone else (MiniStack patch 9); a bucket
 * of the spec's name that mlflow-dev did not create is not adopted; destroy --delete-data deletes
 * the prefix only. examples/basic staging, with a name of its own and deletion protection off (the
 * replaced instance is deleted in the update's cleanup).
 */
const ENDPOINT = process.env.AWS_ENDPOINT_URL ?? "http://127.0.0.1:4566";
const ACCESS_KEY = "444455556666";
const MLFLOW_IMAGE = imageOverride("mlflow") ?? `localhost/mlflow-dev-local/mlflow:${pins.mlflow}`;
const SUFFIX = Math.random().toString(36).slice(2, 7);
const NAME = `itguard-${SUFFIX}`;
const STACK = `mlflow-dev-${NAME}-staging`;
const BUCKET = `${NAME}-staging-artifacts-${ACCESS_KEY}`;

async function emulatorUp(): Promise<boolean> {
  try {
    return (await fetch(`${ENDPOINT}/_ministack/health`, { signal: AbortSignal.timeout(3000) })).ok;
  } catch {
    return false;
  }
}

const up = await emulatorUp();
if (!up && !process.env.CI)
  console.warn(`test/integration/stateful-guard.test.ts: skipped, no AWS emulator answers at ${ENDPOINT}`);

/** The CLI with exactly these AWS_* and MLFLOW_DEV_* variables: none leaks in from the caller. */
function cli(args: string[], cwd: string): CliResult {
  const env = {
    AWS_ENDPOINT_URL: ENDPOINT,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: "test",
    MLFLOW_DEV_IMAGES: `mlflow=${MLFLOW_IMAGE}`,
    MLFLOW_DEV_DEPLOY_IMAGE: MLFLOW_IMAGE,
  };
  return runCli(args, { cwd, env, isolate: true, timeout: 1_200_000 });
}

const show = (r: CliResult) => showRun(r);

/** examples/basic with `name`, this test's account and bucket, deletion protection off; `edit` after. */
function specDir(name: string, edit: (spec: SpecFixture) => unknown = () => {}): string {
  const dir = tempDir(`mlflow-dev-${name}-`);
  const spec = emulatedEnv(specFixture("examples/basic").name(name), { account: ACCESS_KEY });
  edit(spec);
  spec.write(dir);
  return dir;
}

let clients: AwsClients;
let dir: string;

async function database(): Promise<{ id: string; endpoint: string }> {
  const r = await clients.cloudformation.describeStackResource({ StackName: STACK, LogicalResourceId: "Database" });
  const stack = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
  return {
    id: r.StackResourceDetail?.PhysicalResourceId ?? "",
    endpoint: stack?.Outputs?.find((o) => o.OutputKey === "DatabaseEndpoint")?.OutputValue ?? "",
  };
}

describe.skipIf(!up && !process.env.CI)("data-holding resources on the AWS emulator", () => {
  beforeAll(async () => {
    if (!up) throw new Error(`CI is set but no AWS emulator answers at ${ENDPOINT}`);
    clients = await createAwsClients({
      region: "eu-west-1",
      endpointUrl: ENDPOINT,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: "test" },
    });
    dir = specDir(NAME);
    const r = cli(["promote", "--env", "staging"], dir);
    expect(r.code, show(r)).toBe(0);
  });

  afterAll(async () => {
    if (!clients) return;
    if (dir) cli(["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], dir);
    // What the prefix-only delete left on purpose, and the bucket it kept.
    for (const bucket of [BUCKET, `itforeign-${SUFFIX}-staging-artifacts-${ACCESS_KEY}`]) {
      try {
        const listed = await clients.s3.listObjectVersions({ Bucket: bucket });
        for (const v of listed.Versions ?? [])
          await clients.s3.deleteObject({ Bucket: bucket, Key: v.Key ?? "", VersionId: v.VersionId });
        await clients.s3.deleteBucket({ Bucket: bucket });
      } catch {
        // already gone
      }
    }
    destroyAwsClients(clients);
  });

  it("the stack carries the stack policy and termination protection", async () => {
    const policy = await clients.cloudformation.getStackPolicy({ StackName: STACK });
    expect(JSON.parse(policy.StackPolicyBody ?? "{}").Statement).toContainEqual(
      expect.objectContaining({ Effect: "Deny", Action: ["Update:Replace", "Update:Delete"] }),
    );
    const stack = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
    expect(stack?.EnableTerminationProtection).toBe(true);
    await expect(clients.cloudformation.deleteStack({ StackName: STACK })).rejects.toThrow(/TerminationProtection/);
  });

  it("an edited backend.database: plan and promote refuse (exit 2) and the database stays the same instance", async () => {
    const before = await database();
    const edited = specDir(NAME, (spec) => spec.set("backend.database", "mlflow_renamed"));
    const p = cli(["plan", "--env", "staging"], edited);
    expect(p.code, show(p)).toBe(2);
    expect(p.stdout).toContain("! Database (AWS::RDS::DBInstance");
    expect(p.stdout).toContain("backend.database (DBName)");
    const r = cli(["promote", "--env", "staging"], edited);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain("Database (AWS::RDS::DBInstance");
    expect(r.stderr).toContain("backend.database (DBName)");
    expect(r.stderr).toContain("--allow-replace Database");
    expect(await database()).toEqual(before);
    const stack = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
    expect(stack?.StackStatus).not.toMatch(/ROLLBACK|IN_PROGRESS/);
  });

  it("the stack policy stops a replacing change set executed outside promote: the update rolls back", async () => {
    const before = await database();
    const current = await clients.cloudformation.getTemplate({ StackName: STACK, TemplateStage: "Original" });
    const template = JSON.parse(current.TemplateBody ?? "{}");
    template.Resources.Database.Properties.DBName = "byhand";
    const stack = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
    const cs = await clients.cloudformation.createChangeSet({
      StackName: STACK,
      ChangeSetName: `by-hand-${SUFFIX}`,
      ChangeSetType: "UPDATE",
      TemplateBody: JSON.stringify(template),
      Capabilities: ["CAPABILITY_IAM"],
      Parameters: (stack?.Parameters ?? []).map((p) => ({ ParameterKey: p.ParameterKey, UsePreviousValue: true })),
    });
    for (let i = 0; i < 120; i++) {
      const d = await clients.cloudformation.describeChangeSet({ ChangeSetName: cs.Id, StackName: STACK });
      if (d.Status === "CREATE_COMPLETE" || d.Status === "FAILED") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await clients.cloudformation.executeChangeSet({ ChangeSetName: cs.Id, StackName: STACK });
    let status = "";
    for (let i = 0; i < 240; i++) {
      status = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0]?.StackStatus ?? "";
      if (!status.endsWith("_IN_PROGRESS")) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe("UPDATE_ROLLBACK_COMPLETE");
    const events = await clients.cloudformation.describeStackEvents({ StackName: STACK });
    expect(
      (events.StackEvents ?? []).some(
        (e) => e.LogicalResourceId === "Database" && /denied by stack policy/.test(e.ResourceStatusReason ?? ""),
      ),
    ).toBe(true);
    expect(await database()).toEqual(before);
  });

  it("with --allow-replace Database, promote replaces it and the stack policy protects it again afterwards", async () => {
    const before = await database();
    const edited = specDir(NAME, (spec) => spec.set("backend.database", "mlflow_renamed"));
    const r = cli(["promote", "--env", "staging", "--allow-replace", "Database"], edited);
    expect(r.code, show(r)).toBe(0);
    expect((await database()).id).not.toBe(before.id);
    const policy = await clients.cloudformation.getStackPolicy({ StackName: STACK });
    expect(JSON.stringify(JSON.parse(policy.StackPolicyBody ?? "{}"))).toContain("LogicalResourceId/Database");
    dir = edited;
  });

  it("a bucket with the spec's name that mlflow-dev did not create (untagged) is refused, and no stack is created", async () => {
    const name = `itforeign-${SUFFIX}`;
    const bucket = `${name}-staging-artifacts-${ACCESS_KEY}`;
    await clients.s3.createBucket({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: "eu-west-1" } });
    const r = cli(["promote", "--env", "staging"], specDir(name));
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(`the bucket ${bucket} exists but was not created by mlflow-dev for ${name} (staging)`);
    expect(r.stderr).toContain("Set environments.staging.bucket to a bucket name of its own");
    await expect(clients.cloudformation.describeStacks({ StackName: `mlflow-dev-${name}-staging` })).rejects.toThrow(
      /does not exist/,
    );
  });

  it("deletionProtection: true makes destroy refuse until the spec turns it off and a promote applies it", async () => {
    const protectedDir = specDir(NAME, (spec) =>
      spec.set("backend.database", "mlflow_renamed").env("staging", { database: { deletionProtection: true } }),
    );
    const p = cli(["promote", "--env", "staging"], protectedDir);
    expect(p.code, show(p)).toBe(0);
    const refused = cli(["destroy", "--env", "staging", "--yes"], protectedDir);
    expect(refused.code, show(refused)).toBe(2);
    expect(refused.stderr).toContain(
      "has deletion protection on (environments.staging.database.deletionProtection: true)",
    );
    const stack = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
    expect(stack?.StackStatus).toMatch(/_COMPLETE$/);
    expect(stack?.StackStatus).not.toMatch(/DELETE/);
    const off = cli(["promote", "--env", "staging"], dir);
    expect(off.code, show(off)).toBe(0);
  });

  it("destroy --delete-data deletes the objects under the prefix and keeps the bucket with the others", async () => {
    await clients.s3.putObject({ Bucket: BUCKET, Key: "mlflow/0/extra.txt", Body: "ours" });
    await clients.s3.putObject({ Bucket: BUCKET, Key: "elsewhere/keep.txt", Body: "not ours" });
    const r = cli(["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot", "--json"], dir);
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stackDeleted: true, bucketKept: BUCKET });
    const left = await clients.s3.listObjectVersions({ Bucket: BUCKET });
    expect((left.Versions ?? []).map((v) => v.Key)).toEqual(["elsewhere/keep.txt"]);
    dir = "";
  });
});
