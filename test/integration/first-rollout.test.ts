import {
  type AwsClients,
  createAwsClients,
  destroyAwsClients,
  type PromoteResult,
  send,
  targetFor,
} from "@mlflow-dev/aws/deploy";
import {
  BROKEN_SERVER_LINE,
  buildBrokenServerImage,
  type CliResult,
  emulatedEnv,
  emulatedTaskContainers,
  imageOverride,
  cli as runCli,
  showRun,
  specFixture,
  tempDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * A FIRST rollout whose server cannot start, on the AWS emulator with patch 17 (localstack/README.md):
 * as on AWS, the change set that adds the service waits for the service's first deployment, ECS's
 * circuit breaker gives up after 3 failed launches (desired count 1), the service resource fails
 * and CloudFormation rolls the stack back, which removes the service. promote names the cause from
 * ECS's stopped tasks, and the next promote with a good image rolls out.
 */
const ENDPOINT = process.env.AWS_ENDPOINT_URL ?? "http://127.0.0.1:4566";
/** MiniStack takes a 12-digit access key as the account id: an account of this file's own. */
const ACCOUNT = "616161616161";
const REGION = "eu-west-1";
const MLFLOW_IMAGE = imageOverride("mlflow") ?? `localhost/mlflow-dev-local/mlflow:${pins.mlflow}`;
const NAME = `itfirstroll-${Math.random().toString(36).slice(2, 7)}`;
const STACK = `mlflow-dev-${NAME}-staging`;
const CLUSTER = STACK;
const SERVICE = `${NAME}-mlflow`;

async function emulatorUp(): Promise<boolean> {
  try {
    return (await fetch(`${ENDPOINT}/_ministack/health`, { signal: AbortSignal.timeout(3000) })).ok;
  } catch {
    return false;
  }
}

const up = await emulatorUp();
if (!up && !process.env.CI)
  console.warn(
    `test/integration/first-rollout.test.ts: skipped, no AWS emulator answers at ${ENDPOINT}. Start it with \`bash localstack/start.sh\``,
  );

type Env = Record<string, string | undefined>;

function awsEnv(image = MLFLOW_IMAGE): Env {
  return {
    AWS_ENDPOINT_URL: ENDPOINT,
    AWS_ACCESS_KEY_ID: ACCOUNT,
    AWS_SECRET_ACCESS_KEY: "test",
    MLFLOW_DEV_IMAGES: `mlflow=${image}`,
    MLFLOW_DEV_DEPLOY_IMAGE: image,
  };
}

const cli = (args: string[], cwd: string, env: Env = awsEnv()) =>
  runCli(args, { cwd, env, isolate: true, timeout: 1_200_000 });

let clients: AwsClients;
/** The MLflow image whose server exits 3 as it starts (the migration job never imports it). */
let BROKEN_IMAGE: string;
let dir: string;

describe.skipIf(!up && !process.env.CI)("a first rollout whose server cannot start, on the AWS emulator", () => {
  beforeAll(async () => {
    if (!up) throw new Error(`CI is set but no AWS emulator answers at ${ENDPOINT}: .ci/provision starts it`);
    clients = await createAwsClients({
      region: REGION,
      endpointUrl: ENDPOINT,
      credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
    });
    dir = tempDir(`mlflow-dev-${NAME}-`);
    // The spec's own health check: the broken server exits at once, so each failed launch takes
    // seconds whatever the start period, and the good server gets the time it needs to start.
    emulatedEnv(specFixture("examples/basic").name(NAME), { account: ACCOUNT }).write(dir);
    BROKEN_IMAGE = buildBrokenServerImage(MLFLOW_IMAGE);
  }, 300_000);

  afterAll(async () => {
    if (!clients) return;
    if (dir) cli(["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], dir);
    try {
      const snapshots = await clients.rds.describeDBSnapshots({});
      for (const s of snapshots.DBSnapshots ?? [])
        if (s.DBSnapshotIdentifier?.includes(NAME))
          await clients.rds.deleteDBSnapshot({ DBSnapshotIdentifier: s.DBSnapshotIdentifier });
    } catch {
      // the emulator may not keep snapshots
    }
    destroyAwsClients(clients);
  }, 600_000);

  let broken: CliResult;

  it("promote exits 1 naming the cause; CloudFormation rolled the stack back and removed the service", async () => {
    const started = Date.now();
    broken = cli(["promote", "--env", "staging"], dir, awsEnv(BROKEN_IMAGE));
    const seconds = (Date.now() - started) / 1000;
    console.log(`broken first promote: ${seconds.toFixed(1)} s`);
    expect(broken.code, showRun(broken)).toBe(1);
    // The cause, from ECS's stopped tasks: the reason, the exit code and the server's own words.
    expect(broken.stderr).toContain("stopped before the rollout completed");
    expect(broken.stderr).toMatch(/the newest: Essential container exited, exit code 3\n/);
    expect(broken.stderr).toContain(BROKEN_SERVER_LINE);
    expect(Number(/(\d+) task\(s\) of it stopped/.exec(broken.stderr)?.[1])).toBeGreaterThanOrEqual(3);
    // What CloudFormation did, and what is left.
    expect(broken.stderr).toContain("ECS Deployment Circuit Breaker was triggered");
    expect(broken.stderr).toContain(`the stack ${STACK} ended in UPDATE_ROLLBACK_COMPLETE`);
    expect(broken.stderr).toContain("CloudFormation rolled the stack back and removed the service it had created");
    expect(broken.stderr).toContain(`promote --env staging`);
    expect(broken.stderr).not.toMatch(/at .*\.ts:\d+/);

    // Observed on the twin: the stack is as before the rollout (no task definition), the service
    // resource failed to create and is gone, no task runs.
    const stack = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
    expect(stack?.StackStatus).toBe("UPDATE_ROLLBACK_COMPLETE");
    expect(stack?.Parameters?.find((p) => p.ParameterKey === "TaskDefinitionArn")?.ParameterValue).toBe("");
    const events = (await clients.cloudformation.describeStackEvents({ StackName: STACK })).StackEvents ?? [];
    // AWS reports CREATE_FAILED for a resource an update adds; MiniStack names every event of an
    // update UPDATE_*.
    const failed = events.find(
      (e) => e.LogicalResourceId === "Service" && /^(CREATE|UPDATE)_FAILED$/.test(e.ResourceStatus ?? ""),
    );
    expect(failed?.ResourceStatusReason).toContain("ECS Deployment Circuit Breaker was triggered");
    const began = events.find((e) => e.LogicalResourceId === "Service" && /_IN_PROGRESS$/.test(e.ResourceStatus ?? ""));
    const ended = events.find((e) => e.LogicalResourceId === STACK && e.ResourceStatus === "UPDATE_ROLLBACK_COMPLETE");
    expect(began?.Timestamp).toBeInstanceOf(Date);
    expect(ended?.Timestamp).toBeInstanceOf(Date);
    const rollout = ((ended?.Timestamp?.getTime() ?? 0) - (began?.Timestamp?.getTime() ?? 0)) / 1000;
    // The rollback ends after the service's change began, within the emulator's deployment bound.
    expect(rollout).toBeGreaterThan(0);
    expect(rollout).toBeLessThan(1800);
    console.log(
      `the service's failed first rollout, from its change set to the stack's rollback: ${rollout.toFixed(1)} s`,
    );
    const resources = (await clients.cloudformation.describeStackResources({ StackName: STACK })).StackResources ?? [];
    expect(resources.map((r) => r.LogicalResourceId)).not.toContain("Service");
    const service = (await clients.ecs.describeServices({ cluster: CLUSTER, services: [SERVICE] })).services?.[0];
    expect(service?.status ?? "MISSING").not.toBe("ACTIVE");
    const running = await clients.ecs.listTasks({ cluster: CLUSTER, desiredStatus: "RUNNING" });
    expect(running.taskArns ?? []).toEqual([]);
    const containers = emulatedTaskContainers(`${STACK}-mlflow`);
    expect(containers).toEqual([]);
  }, 1_200_000);

  it("the next promote with a good image rolls out", async () => {
    expect(broken?.code).toBe(1);
    const started = Date.now();
    const r = cli(["promote", "--env", "staging", "--json"], dir);
    console.log(`good promote after the failed first rollout: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(r.code, showRun(r)).toBe(0);
    const result = JSON.parse(r.stdout) as PromoteResult;
    expect(result.changed).toBe(true);
    expect(result.image).toBe(MLFLOW_IMAGE);
    expect(result.smokeTest?.runId).toMatch(/^[0-9a-f]{32}$/);
    const stack = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
    expect(stack?.StackStatus).toBe("UPDATE_COMPLETE");
    const service = (await clients.ecs.describeServices({ cluster: CLUSTER, services: [SERVICE] })).services?.[0];
    expect(service?.status).toBe("ACTIVE");
    expect(service?.taskDefinition).toBe(result.taskDefinitionArn);
    expect(service?.deployments?.[0]?.rolloutState).toBe("COMPLETED");
    expect((await send(targetFor(result.url, ENDPOINT), "GET", "/health")).status).toBe(200);
  }, 1_200_000);
});
