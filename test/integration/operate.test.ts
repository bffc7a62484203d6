import { OutputName, toAwsModel } from "@mlflow-dev/aws";
import { type AwsClients, createAwsClients, destroyAwsClients, targetFor } from "@mlflow-dev/aws/deploy";
import { gcArgv, oneOffCommand, parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import {
  type CliResult,
  cli,
  cliInBackground,
  destroyEmulated,
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  emulatorEnv,
  imageOverride,
  MlflowClient,
  showRun,
  specFixture,
  tempDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * Operating an AWS environment on the emulator after a promote: `logs --env` reads the server's
 * CloudWatch Logs (the emulator forwards the task's awslogs output to the group of the task
 * definition, stream `<prefix>/<container>/<task id>`); `exec --env` runs one-off Fargate tasks
 * from the server's task definition (an MLflow command, SQL against the private database, a
 * failing command) and returns their exit codes; `gc --env` (gc.olderThanDays: 0 here) removes
 * deleted runs and an experiment, their rows and their objects, as a one-off task. The scheduled
 * gc (gc.schedule) is stored by the emulator's Scheduler (patch 18: never run) with the service's
 * revision as its target, and follows a promote to the next one; the bucket holds the rendered
 * lifecycle rules (patch 19).
 */
const up = await emulatorAnswers("test/integration/operate.test.ts");
const ACCOUNT = "888899990000";
const SUFFIX = Math.random().toString(36).slice(2, 7);
const NAME = `itoperate-${SUFFIX}`;
const MLFLOW_IMAGE = imageOverride("mlflow") ?? `localhost/mlflow-dev-local/mlflow:${pins.mlflow}`;
const env = () => ({ ...emulatorEnv(ACCOUNT), MLFLOW_DEV_DEPLOY_IMAGE: MLFLOW_IMAGE });
const GC_SCHEDULE = "rate(1 day)";

/**
 * examples/basic's staging with this test's name, account and bucket, and no deletion protection
 * (destroyed at the end); gc runs daily on AWS. `revision` is a variable of the server's, so a
 * promote with another one registers a new task definition revision.
 */
function spec(revision: string) {
  return emulatedEnv(specFixture("examples/basic").name(NAME), {
    account: ACCOUNT,
    settings: { mlflow: { env: { MLFLOW_DEV_TEST_REVISION: revision } } },
  })
    .set("gc.olderThanDays", 0)
    .set("gc.schedule", GC_SCHEDULE);
}

function specDir(): string {
  const dir = tempDir(`mlflow-dev-${NAME}-`);
  spec("1").write(dir);
  return dir;
}

const show = (r: CliResult) => showRun(r, 3000);

describe.skipIf(!up && !process.env.CI)("operating a promoted environment on the emulator", () => {
  let dir: string;
  let clients: AwsClients;

  beforeAll(async () => {
    if (!up) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    clients = await createAwsClients({
      region: "eu-west-1",
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
    });
    dir = specDir();
    const r = cli(["promote", "--env", "staging"], { cwd: dir, env: env() });
    expect(r.code, show(r)).toBe(0);
  });

  afterAll(() => {
    if (dir) destroyEmulated(dir, env());
    if (clients) destroyAwsClients(clients);
  });

  it("logs --env shows the server's start-up lines from CloudWatch Logs, and the migration's", () => {
    const r = cli(["logs", "--env", "staging"], { cwd: dir, env: env() });
    expect(r.code, show(r)).toBe(0);
    const lines = r.stdout.split("\n");
    expect(
      lines.some((l) => /^mlflow\/[0-9a-f]{8} +\| .*Application startup complete/.test(l)),
      show(r),
    ).toBe(true);
    // The migration task wrote to its own streams; the server's lines come without them when asked.
    expect(
      lines.some((l) => l.startsWith("migrate/")),
      show(r),
    ).toBe(true);
    const server = cli(["logs", "mlflow", "--env", "staging"], { cwd: dir, env: env() });
    expect(server.code, show(server)).toBe(0);
    expect(server.stdout).toContain("Application startup complete");
    expect(server.stdout.split("\n").filter((l) => l.startsWith("migrate/"))).toEqual([]);
  });

  it("--since, --tail and --timestamps select and stamp the lines", () => {
    const r = cli(["logs", "mlflow", "--env", "staging", "--since", "1h", "--tail", "3", "--timestamps"], {
      cwd: dir,
      env: env(),
    });
    expect(r.code, show(r)).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      const stamp = /^mlflow\/[0-9a-f]{8} +\| (\S+) /.exec(l)?.[1];
      expect(stamp, l).toBeDefined();
      expect(Date.now() - Date.parse(stamp ?? "")).toBeLessThan(3_600_000);
    }
    // Nothing is newer than a time in the future.
    const future = cli(["logs", "--env", "staging", "--since", new Date(Date.now() + 3_600_000).toISOString()], {
      cwd: dir,
      env: env(),
    });
    expect(future.code, show(future)).toBe(0);
    expect(future.stdout).toBe("");
  });

  it("exec --env runs an mlflow command as a one-off task from the server's task definition, its output streamed", () => {
    const r = cli(["exec", "--env", "staging", "--", "mlflow", "experiments", "search", "--view", "all"], {
      cwd: dir,
      env: env(),
    });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^0\s+Default\s+/m);
    expect(r.stderr).toMatch(/started task [0-9a-f-]+ of mlflow-dev-itoperate-[a-z0-9]+-staging-mlflow:\d+/);
    expect(r.stderr).toContain("exit code 0");
  });

  it("exec --env psql reaches the private database (the stand-in on psycopg2), and a failing query's code comes back", () => {
    const r = cli(
      [
        "exec",
        "--env",
        "staging",
        "--",
        "psql",
        "-c",
        "select name, lifecycle_stage from experiments where name = 'Default'",
      ],
      {
        cwd: dir,
        env: env(),
      },
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain("name|lifecycle_stage\nDefault|active\n(1 row)");
    const bad = cli(["exec", "--env", "staging", "--", "psql", "-c", "select * from no_such_table"], {
      cwd: dir,
      env: env(),
    });
    expect(bad.code, show(bad)).toBe(1);
    expect(bad.stdout).toContain('ERROR:  relation "no_such_table" does not exist');
  });

  it("exec --env returns a failing command's exit code; logs --follow shows the new task's lines as they come", async () => {
    // Following from before the task exists: its stream appears while logs --follow runs.
    const follow = cliInBackground(["logs", "mlflow", "--env", "staging", "--follow", "--since", "1s"], {
      cwd: dir,
      env: env(),
    });
    try {
      const r = cli(["exec", "--env", "staging", "--", "sh", "-c", "echo about to fail; exit 3"], {
        cwd: dir,
        env: env(),
      });
      expect(r.code, show(r)).toBe(3);
      expect(r.stdout).toContain("about to fail");
      expect(r.stderr).toContain("exit code 3");
      const deadline = Date.now() + 15_000;
      while (!follow.stdout().includes("about to fail") && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 500));
      expect(follow.stdout()).toMatch(/^mlflow\/[0-9a-f]{8} +\| about to fail$/m);
      expect(follow.stdout().match(/about to fail/g)).toHaveLength(1);
    } finally {
      follow.child.kill("SIGINT");
    }
  });

  it("gc --env removes deleted runs and experiments with their objects as a one-off task, --dry-run nothing", async () => {
    const open = cli(["open", "--env", "staging", "--json", "--no-browser"], { cwd: dir, env: env() });
    expect(open.code, show(open)).toBe(0);
    const client = new MlflowClient(targetFor((JSON.parse(open.stdout) as { url: string }).url, EMULATOR));
    const kept = await client.createExperiment(`kept-${SUFFIX}`);
    const doomed = await client.createExperiment(`doomed-${SUFFIX}`);
    const runs: { runId: string; artifactUri: string }[] = [];
    for (const experiment of [kept, kept, doomed]) {
      const run = await client.createRun(experiment, "r");
      await client.uploadArtifact(run.artifactUri, "a.bin", new Uint8Array(1000).fill(1));
      runs.push(run);
    }
    await client.call("POST", "runs/delete", { run_id: runs[0]?.runId });
    await client.call("POST", "experiments/delete", { experiment_id: doomed });
    const bucket = `${NAME}-staging-artifacts-${ACCOUNT}`;
    const objects = async () =>
      ((await clients.s3.listObjectsV2({ Bucket: bucket, Prefix: "mlflow/" })).Contents ?? []).map((o) => o.Key ?? "");
    const before = await objects();

    const dry = cli(["gc", "--env", "staging", "--dry-run", "--json"], { cwd: dir, env: env() });
    expect(dry.code, show(dry)).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true,
      runs: { found: 2, removed: 0 },
      experiments: { found: 1, removed: 0 },
      artifactObjects: { found: 2, removed: 0 },
      bytes: { found: 2000, freed: 0 },
    });
    expect(await objects()).toEqual(before);

    const gc = cli(["gc", "--env", "staging", "--json"], { cwd: dir, env: env() });
    expect(gc.code, show(gc)).toBe(0);
    expect(JSON.parse(gc.stdout)).toMatchObject({
      dryRun: false,
      gcExitCode: 0,
      runs: { found: 2, removed: 2 },
      experiments: { found: 1, removed: 1 },
      artifactObjects: { found: 2, removed: 2 },
      bytes: { found: 2000, freed: 2000 },
    });
    const after = await objects();
    expect(before.length - after.length).toBe(2);
    expect(after.filter((k) => k.includes(runs[1]?.runId ?? "?"))).toHaveLength(1);
    const sql = `select count(*) from runs where run_uuid in ('${runs.map((r) => r.runId).join("','")}')`;
    const left = cli(["exec", "--env", "staging", "--", "psql", "-At", "-c", sql], { cwd: dir, env: env() });
    expect(left.stdout.trim(), show(left)).toBe("1");
  });
  it("the gc schedule targets the service's revision with gc's command, and moves to the next revision with a promote; the bucket has the rendered lifecycle rules", async () => {
    const { SchedulerClient, GetScheduleCommand, ListSchedulesCommand } = await import("@aws-sdk/client-scheduler");
    const scheduler = new SchedulerClient({
      region: "eu-west-1",
      endpoint: EMULATOR,
      credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
    });
    const stack = `mlflow-dev-${NAME}-staging`;
    const model = toAwsModel(resolve(parseSpecOrThrow(spec("1").text()), "staging"));
    const current = async () => {
      const outputs = (await clients.cloudformation.describeStacks({ StackName: stack })).Stacks?.[0]?.Outputs ?? [];
      const name = outputs.find((o) => o.OutputKey === OutputName.gcScheduleName)?.OutputValue ?? "";
      const cluster = outputs.find((o) => o.OutputKey === OutputName.clusterName)?.OutputValue ?? "";
      const service = (await clients.ecs.describeServices({ cluster, services: [`${NAME}-mlflow`] })).services?.[0];
      const schedule = await scheduler.send(new GetScheduleCommand({ Name: name }));
      return { name, service, schedule };
    };
    try {
      const first = await current();
      expect(first.name).not.toBe("");
      const listed = await scheduler.send(new ListSchedulesCommand({ NamePrefix: first.name }));
      expect(listed.Schedules?.map((x) => x.Name)).toEqual([first.name]);
      const target = first.schedule.Target;
      expect(first.schedule).toMatchObject({ ScheduleExpression: GC_SCHEDULE, State: "ENABLED" });
      expect(target?.Arn).toBe(first.service?.clusterArn);
      expect(target?.EcsParameters?.TaskDefinitionArn).toBe(first.service?.taskDefinition);
      expect(target?.EcsParameters?.LaunchType).toBe("FARGATE");
      expect(target?.EcsParameters?.NetworkConfiguration?.awsvpcConfiguration).toEqual({
        AssignPublicIp: first.service?.networkConfiguration?.awsvpcConfiguration?.assignPublicIp,
        SecurityGroups: first.service?.networkConfiguration?.awsvpcConfiguration?.securityGroups,
        Subnets: first.service?.networkConfiguration?.awsvpcConfiguration?.subnets,
      });
      expect(JSON.parse(target?.Input ?? "{}")).toEqual({
        containerOverrides: [{ name: "mlflow", command: oneOffCommand(model.mlflow.server, gcArgv(0, false)) }],
      });

      const lifecycle = await clients.s3.getBucketLifecycleConfiguration({
        Bucket: `${NAME}-staging-artifacts-${ACCOUNT}`,
      });
      expect(lifecycle.Rules).toEqual([
        {
          ID: "expire-noncurrent-versions",
          Status: "Enabled",
          Filter: { Prefix: "" },
          NoncurrentVersionExpiration: { NoncurrentDays: model.artifacts.lifecycle.noncurrentVersionDays },
        },
        {
          ID: "abort-incomplete-multipart-uploads",
          Status: "Enabled",
          Filter: { Prefix: "" },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: model.artifacts.lifecycle.incompleteUploadDays },
        },
      ]);

      // A promote that registers a new revision moves the schedule with the service.
      spec("2").write(dir);
      const r = cli(["promote", "--env", "staging"], { cwd: dir, env: env() });
      expect(r.code, show(r)).toBe(0);
      const second = await current();
      expect(second.name).toBe(first.name);
      expect(second.service?.taskDefinition).not.toBe(first.service?.taskDefinition);
      expect(second.schedule.Target?.EcsParameters?.TaskDefinitionArn).toBe(second.service?.taskDefinition);
    } finally {
      scheduler.destroy();
    }
  });
});
