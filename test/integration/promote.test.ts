import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AwsClients,
  createAwsClients,
  destroyAwsClients,
  type PromoteResult,
  send,
  targetFor,
} from "@mlflow-dev/aws/deploy";
import {
  buildBrokenServerImage,
  buildServerTestImage,
  type CliResult,
  containerFacts,
  containersWithLabels,
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  type SpecFixture,
  specFixture,
  tempDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_KEY, awsEnv, cli, cliAsync, type Env, elbv2, MLFLOW_IMAGE, show } from "./emulator-cli.ts";

/**
 * promote / plan / destroy / unlock for real, against the MiniStack emulator (localstack/): its
 * CloudFormation, ECS (tasks run as Docker containers), RDS (a PostgreSQL container), S3, ALB data
 * plane, Secrets Manager, SSM and ECR. examples/basic, environment staging, is copied with a name
 * of its own and the emulator account's id, and driven through the CLI.
 */
const SUFFIX = Math.random().toString(36).slice(2, 7);
const NAME = `itpromote-${SUFFIX}`;
const STACK = `mlflow-dev-${NAME}-staging`;
const CLUSTER = STACK;
const SERVICE = `${NAME}-mlflow`;
const FAMILY = `${STACK}-mlflow`;
const BROKEN_IMAGE = "localhost/mlflow-dev-test/mlflow-broken-server:1";
const UNHEALTHY_IMAGE = "localhost/mlflow-dev-test/mlflow-unhealthy:1";
/** A server that needs 1.5 GiB, more than staging's 1024 MiB (validation cannot see an image's needs). */
const OOM_IMAGE = "localhost/mlflow-dev-test/mlflow-needs-1536m:1";
/** A server that starts and answers /health, but whose tracking store refuses every new run. */
const NO_RUNS_IMAGE = "localhost/mlflow-dev-test/mlflow-refuses-runs:1";

const up = await emulatorAnswers("test/integration/promote.test.ts");

/** examples/basic with this test's name, account and bucket, deletion protection off; `edit` after. */
function specDir(account: string, edit: (spec: SpecFixture) => unknown = () => {}): string {
  const dir = tempDir(`mlflow-dev-${NAME}-`);
  // destroy refuses a database under deletion protection: these tests destroy what they promote.
  const spec = emulatedEnv(specFixture("examples/basic").name(NAME), { account });
  edit(spec);
  spec.write(dir);
  return dir;
}

function docker(args: string[]): string {
  return spawnSync("docker", args, { encoding: "utf8" }).stdout.trim();
}

let clients: AwsClients;
let account: string;
let dir: string;
let first: PromoteResult;
describe.skipIf(!up && !process.env.CI)("promote / plan / destroy on the AWS emulator", () => {
  beforeAll(async () => {
    if (!up) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    clients = await createAwsClients({
      region: "eu-west-1",
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: "test" },
    });
    account = (await clients.sts.getCallerIdentity({})).Account ?? "";
    expect(account).toBe(ACCESS_KEY);
    dir = specDir(account);
    buildBrokenServerImage(MLFLOW_IMAGE, BROKEN_IMAGE);
    buildServerTestImage(
      MLFLOW_IMAGE,
      UNHEALTHY_IMAGE,
      'import os\nos.chdir("/tmp")\nos.execvp("python", ["python", "-m", "http.server", "5000"])',
    );
    // Takes its memory at once, so the kill comes before any health check could pass. (MLflow with
    // job execution forced on grows to 1.8 GiB too, but only after /health answers: a race.)
    buildServerTestImage(MLFLOW_IMAGE, OOM_IMAGE, "import time\nb = bytearray(1536 * 2 ** 20)\ntime.sleep(600)");
    buildServerTestImage(
      MLFLOW_IMAGE,
      NO_RUNS_IMAGE,
      [
        "from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore",
        "def _refuse(*args, **kwargs):",
        '    raise RuntimeError("test image: the tracking store refuses new runs")',
        "SqlAlchemyStore.create_run = _refuse",
      ].join("\n"),
    );
  });

  afterAll(async () => {
    if (!clients) return;
    // Whatever a failed test left behind.
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
  });

  describe("bad input is refused before anything is created", () => {
    async function nothingCreated() {
      await expect(clients.cloudformation.describeStacks({ StackName: STACK })).rejects.toThrow(/does not exist/);
      const secrets = await clients.secretsManager.listSecrets({});
      expect((secrets.SecretList ?? []).map((s) => s.Name)).not.toContain(`mlflow-dev/${NAME}/staging/db-password`);
    }

    /** No keys, an empty home (no ~/.aws) and no instance metadata: no credentials anywhere. */
    function withoutCredentials(): Env {
      return awsEnv({
        HOME: tempDir("nohome-"),
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
      });
    }

    it("missing credentials", async () => {
      const env = withoutCredentials();
      const r = cli(["promote", "--env", "staging"], dir, env);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain("error: promote staging: no usable AWS credentials");
      expect(r.stderr).toContain("--profile");
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
      await nothingCreated();
    });

    it("a profile that does not exist", () => {
      const env = withoutCredentials();
      const r = cli(["promote", "--env", "staging", "--profile", "nosuchprofile"], dir, env);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain("no usable AWS credentials");
    });

    it("an unknown region", async () => {
      const bad = specDir(account, (spec) => spec.env("staging", { region: "eu-west-9" }));
      const r = cli(["promote", "--env", "staging"], bad);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain('environments.staging.region: "eu-west-9" is not an AWS region');
      await nothingCreated();
    });

    it("credentials for another account than the spec's", async () => {
      const bad = specDir("999988887777");
      const r = cli(["promote", "--env", "staging"], bad);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain(
        `environments.staging.account is 999988887777, but the credentials are for account ${account}`,
      );
      await nothingCreated();
    });

    it("a VPC id that does not exist", async () => {
      const bad = specDir(account, (spec) =>
        spec.env("staging", {
          network: {
            cidr: undefined,
            vpcId: "vpc-0123456789abcdef0",
            publicSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
            privateSubnetIds: ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
          },
          access: { sourceCidrs: ["10.0.0.0/16"] },
        }),
      );
      expect(readFileSync(join(bad, "mlflow-dev.yaml"), "utf8")).toContain("vpc-0123456789abcdef0");
      expect(readFileSync(join(bad, "mlflow-dev.yaml"), "utf8")).toContain("sourceCidrs: [10.0.0.0/16]");
      const r = cli(["promote", "--env", "staging"], bad);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain("environments.staging.network.vpcId: VPC vpc-0123456789abcdef0 does not exist");
      await nothingCreated();
    });

    it("destroy without --yes", async () => {
      const r = cli(["destroy", "--env", "staging"], dir);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain("refused without --yes");
    });
  });

  describe("a full promote of examples/basic staging", () => {
    let run: CliResult;

    beforeAll(() => {
      run = cli(["promote", "--env", "staging", "--json"], dir);
      expect(run.code, show(run)).toBe(0);
      first = JSON.parse(run.stdout) as PromoteResult;
      console.log(`full emulated promote: ${(run.ms / 1000).toFixed(1)} s`);
    });

    it("reports every step and the endpoint, and never prints a secret", async () => {
      expect(first.changed).toBe(true);
      expect(first.url).toMatch(/^http:\/\/.+\.elb\.amazonaws\.com$/);
      for (const step of ["checks", "secrets", "infrastructure", "image", "migration", "rollout", "smoke test"])
        expect(run.stderr).toContain(`] ${step}`);
      expect(first.secretsCreated).toEqual([
        `mlflow-dev/${NAME}/staging/db-password`,
        `mlflow-dev/${NAME}/staging/kek-passphrase`,
      ]);
      for (const id of first.secretsCreated) {
        const secret = await clients.secretsManager.getSecretValue({ SecretId: id });
        expect(secret.SecretString?.length).toBeGreaterThanOrEqual(32);
        expect(run.stdout).not.toContain(secret.SecretString);
        expect(run.stderr).not.toContain(secret.SecretString);
      }
    });

    it("puts MLflow behind an internal load balancer in the private subnets that admits the VPC only, which the smoke test reached", async () => {
      const physical = async (id: string) =>
        (await clients.cloudformation.describeStackResource({ StackName: STACK, LogicalResourceId: id }))
          .StackResourceDetail?.PhysicalResourceId ?? "";
      const xml = await elbv2("DescribeLoadBalancers", { "LoadBalancerArns.member.1": await physical("LoadBalancer") });
      expect(xml).toContain("<Scheme>internal</Scheme>");
      const subnets = [...xml.matchAll(/<SubnetId>([^<]+)<\/SubnetId>/g)].map((m) => m[1]).sort();
      expect(subnets).toEqual([await physical("PrivateSubnet1"), await physical("PrivateSubnet2")].sort());
      const group = (
        await clients.ec2.describeSecurityGroups({ GroupIds: [await physical("LoadBalancerSecurityGroup")] })
      ).SecurityGroups?.[0];
      expect(group?.IpPermissions?.map((p) => [p.FromPort, p.IpRanges?.map((r) => r.CidrIp)])).toEqual([
        [80, ["10.40.0.0/16"]],
      ]);
      // The load balancer is internal: the health wait and the smoke test ran inside the VPC, as a
      // one-off task of the service's task definition that dialled the load balancer's DNS name
      // (through the emulator's data plane, as its tasks see it) and exited 0.
      expect(first.smokeTest?.skipped).toBeUndefined();
      expect(first.smokeTest?.runId).toMatch(/^[0-9a-f]{32}$/);
      expect(run.stderr).toContain("smoke test from inside the VPC: a one-off task of the service's task definition");
      expect(run.stderr).toContain(`in-VPC smoke test: GET /health: 200 through ${new URL(first.url).host}`);
      expect(run.stderr).toMatch(/in-VPC smoke test: tracking: experiment \d+, run [0-9a-f]{32}, metric smoke_check=1/);
      const taskArn = first.smokeTest?.oneOffTask ?? "";
      expect(taskArn).toMatch(/^arn:aws:ecs:/);
      const task = (await clients.ecs.describeTasks({ cluster: CLUSTER, tasks: [taskArn] })).tasks?.[0];
      expect(task).toMatchObject({
        lastStatus: "STOPPED",
        startedBy: "mlflow-dev-exec",
        taskDefinitionArn: first.taskDefinitionArn,
      });
      expect(task?.containers?.map((c) => c.exitCode)).toEqual([0]);
    });

    it("runs MLflow as an ECS task: a container of the task definition", async () => {
      const service = (await clients.ecs.describeServices({ cluster: CLUSTER, services: [SERVICE] })).services?.[0];
      expect(service?.taskDefinition).toBe(first.taskDefinitionArn);
      expect(service?.runningCount).toBe(1);
      const containers = docker([
        "ps",
        "--filter",
        `label=com.amazonaws.ecs.task-definition-family=${FAMILY}`,
        "--filter",
        "status=running",
        "--format",
        "{{.Image}}",
      ]);
      expect(containers.split("\n")).toContain(MLFLOW_IMAGE);
    });

    it("the task runs under its Fargate size as Docker limits, and ECS reports its health check HEALTHY", async () => {
      const ids = containersWithLabels({ "com.amazonaws.ecs.task-definition-family": FAMILY });
      expect(ids).toHaveLength(1);
      expect(containerFacts(ids[0] ?? "")).toMatchObject({
        nanoCpus: 0.5e9,
        memoryMiB: 1024,
        memorySwapMiB: 1024,
        oomKilled: false,
      });
      const arns = (await clients.ecs.listTasks({ cluster: CLUSTER, serviceName: SERVICE })).taskArns ?? [];
      const tasks = (await clients.ecs.describeTasks({ cluster: CLUSTER, tasks: arns })).tasks ?? [];
      expect(tasks.map((t) => [t.lastStatus, t.healthStatus, t.containers?.[0]?.healthStatus])).toEqual([
        ["RUNNING", "HEALTHY", "HEALTHY"],
      ]);
    });

    it("backs it with the emulator's RDS PostgreSQL container", async () => {
      const stack = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
      const dbHost = stack?.Outputs?.find((o) => o.OutputKey === "DatabaseEndpoint")?.OutputValue ?? "";
      const db = await clients.cloudformation.describeStackResource({
        StackName: STACK,
        LogicalResourceId: "Database",
      });
      const dbId = db.StackResourceDetail?.PhysicalResourceId ?? "";
      const rds = docker(["ps", "--filter", "status=running", "--format", "{{.Names}}"])
        .split("\n")
        .find((n) => n.startsWith("ministack-rds-") && n.endsWith(dbId));
      expect(rds, `a running RDS container for ${dbId}`).toBeDefined();
      // As on AWS, the endpoint is a DNS name (the emulator's patch 15: the container's alias on its
      // network, named by the database's certificate).
      expect(dbHost).toMatch(new RegExp(`^${dbId}\\.[0-9a-f]{12}\\.eu-west-1\\.rds\\.amazonaws\\.com$`));
      const aliases = docker([
        "inspect",
        rds ?? "",
        "--format",
        '{{range .NetworkSettings.Networks}}{{join .Aliases " "}} {{end}}',
      ]);
      expect(aliases.split(" ")).toContain(dbHost);
    });

    it("the smoke test's tracking round trip reached the server, and its artifact is an object in the bucket", async () => {
      expect(first.smokeTest?.runId).toMatch(/^[0-9a-f]{32}$/);
      const object = first.smokeTest?.artifactObject ?? "";
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(object);
      expect(m?.[1]).toBe(`${NAME}-staging-artifacts-${account}`);
      const got = await clients.s3.getObject({ Bucket: m?.[1] ?? "", Key: m?.[2] ?? "" });
      expect(await got.Body?.transformToString()).toMatch(/^mlflow-dev smoke test [0-9a-f]{16}\n$/);
      // The run is in MLflow's database, read back through the load balancer.
      const r = await send(
        targetFor(first.url, EMULATOR),
        "GET",
        `/api/2.0/mlflow/runs/get?run_id=${first.smokeTest?.runId}`,
      );
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString()).run.data.metrics).toContainEqual(
        expect.objectContaining({ key: "smoke_check" }),
      );
    });

    it("a second promote changes nothing and says so", async () => {
      const revisions = (await clients.ecs.listTaskDefinitions({ familyPrefix: FAMILY })).taskDefinitionArns;
      const before = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
      const again = cli(["promote", "--env", "staging"], dir);
      expect(again.code, show(again)).toBe(0);
      console.log(`no-op re-promote: ${(again.ms / 1000).toFixed(1)} s`);
      expect(again.stdout).toMatch(/^no changes: .* is up to date\. MLflow is up: http/);
      expect(again.stderr).toContain("infrastructure: stack");
      expect(again.stderr).toContain("no changes");
      expect(again.stderr).not.toContain("UPDATE_IN_PROGRESS");
      expect(again.stderr).not.toContain("registered");
      expect((await clients.ecs.listTaskDefinitions({ familyPrefix: FAMILY })).taskDefinitionArns).toEqual(revisions);
      const after = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
      expect(after?.LastUpdatedTime).toEqual(before?.LastUpdatedTime);
    });

    it("plan shows no changes, and a new image as a task definition field", () => {
      const same = cli(["plan", "--env", "staging"], dir);
      expect(same.code, show(same)).toBe(0);
      expect(same.stdout).toContain("no changes: promote would change nothing");
      const other = cli(
        ["plan", "--env", "staging", "--json"],
        dir,
        awsEnv({ MLFLOW_DEV_IMAGES: `mlflow=${BROKEN_IMAGE}`, MLFLOW_DEV_DEPLOY_IMAGE: BROKEN_IMAGE }),
      );
      expect(other.code, show(other)).toBe(0);
      const plan = JSON.parse(other.stdout);
      expect(plan.upToDate).toBe(false);
      expect(plan.infrastructure).toEqual([]);
      expect(plan.service.action).toBe("update");
      expect(plan.service.changes).toEqual([
        { path: "containerDefinitions[0].image", before: MLFLOW_IMAGE, after: BROKEN_IMAGE },
      ]);
    });
  });

  describe("failures after the rollout started go back to the previous revision", () => {
    async function serviceRevision(): Promise<string | undefined> {
      return (await clients.ecs.describeServices({ cluster: CLUSTER, services: [SERVICE] })).services?.[0]
        ?.taskDefinition;
    }

    /**
     * The stack's own rollback, as on AWS: the rollout's change set waited for the deployment, the
     * circuit breaker tripped after 3 failed launches (desired count 1), the service resource
     * failed and CloudFormation put the previous TaskDefinitionArn back.
     */
    async function expectStackRolledBack(r: CliResult): Promise<void> {
      expect(r.stderr).toContain(`the stack ${STACK} ended in UPDATE_ROLLBACK_COMPLETE`);
      expect(r.stderr).toContain("ECS Deployment Circuit Breaker was triggered");
      expect(r.stderr).toContain(
        "(CloudFormation rolled the stack back: its update ended in UPDATE_ROLLBACK_COMPLETE)",
      );
      const stopped = Number(/(\d+) task\(s\) of it stopped/.exec(r.stderr)?.[1]);
      expect(stopped).toBeGreaterThanOrEqual(3);
      const stack = (await clients.cloudformation.describeStacks({ StackName: STACK })).Stacks?.[0];
      expect(stack?.StackStatus).toBe("UPDATE_ROLLBACK_COMPLETE");
      expect(stack?.Parameters?.find((p) => p.ParameterKey === "TaskDefinitionArn")?.ParameterValue).toBe(
        first.taskDefinitionArn,
      );
      const events = (await clients.cloudformation.describeStackEvents({ StackName: STACK })).StackEvents ?? [];
      const newest = (logicalId: string, status: string) =>
        events.findIndex((e) => e.LogicalResourceId === logicalId && e.ResourceStatus === status);
      // Newest first: the rollback completed after the service's failed update.
      expect(newest(STACK, "UPDATE_ROLLBACK_COMPLETE")).toBeGreaterThanOrEqual(0);
      expect(newest("Service", "UPDATE_FAILED")).toBeGreaterThan(newest(STACK, "UPDATE_ROLLBACK_COMPLETE"));
    }

    async function answers(): Promise<number> {
      return (await send(targetFor(first.url, EMULATOR), "GET", "/health")).status;
    }

    it("a broken image: ECS gives up on it, the stack rolls back, the service keeps answering; a concurrent promote is refused", async () => {
      const broken = cliAsync(
        ["promote", "--env", "staging"],
        dir,
        awsEnv({ MLFLOW_DEV_IMAGES: `mlflow=${BROKEN_IMAGE}`, MLFLOW_DEV_DEPLOY_IMAGE: BROKEN_IMAGE }),
      );
      // While it holds the lock, a second promote is refused.
      const lock = `/mlflow-dev/${NAME}/staging/deploy-lock`;
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await clients.ssm.getParameter({ Name: lock });
          break;
        } catch {
          if (Date.now() > deadline) throw new Error("the broken promote never took the lock");
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const second = cli(["promote", "--env", "staging"], dir);
      expect(second.code, show(second)).toBe(1);
      expect(second.stderr).toContain("refused: another deploy of staging holds its lock (promote by");
      expect(second.stderr).toContain("mlflow-dev unlock --env staging");

      const r = await broken;
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toContain("error: promote staging: a task of");
      expect(r.stderr).toContain("stopped before the rollout completed");
      expect(r.stderr).toContain("exit code 3");
      expect(r.stderr).toContain("test image: the server fails on purpose");
      expect(r.stderr).toContain(`Rolled back: the service runs ${first.taskDefinitionArn.split("/").pop()} again`);
      await expectStackRolledBack(r);
      expect(await serviceRevision()).toBe(first.taskDefinitionArn);
      expect(await answers()).toBe(200);
      await expect(clients.ssm.getParameter({ Name: lock })).rejects.toThrow();
    });

    // Three unhealthy tasks, each declared unhealthy after the spec's short start period and
    // retries (5 s + 2 checks 5 s apart) instead of the derived ones (examples/basic staging: 95 s
    // + 10 checks 5 s apart, over 7 minutes for the three): the same path, in about a minute.
    it("a failing health check: ECS stops the unhealthy tasks, the stack rolls back, the service keeps answering", {
      timeout: 600_000,
    }, async () => {
      const quick = specDir(account, (spec) => spec.set("mlflow.healthCheck", { startPeriodSeconds: 5, retries: 2 }));
      const r = cli(
        ["promote", "--env", "staging"],
        quick,
        awsEnv({ MLFLOW_DEV_IMAGES: `mlflow=${UNHEALTHY_IMAGE}`, MLFLOW_DEV_DEPLOY_IMAGE: UNHEALTHY_IMAGE }),
      );
      expect(r.code, show(r)).toBe(1);
      // The spec's settings were warned about (a healthy server would not start in 15 s), and used.
      expect(r.stderr).toContain("mlflow.healthCheck.startPeriodSeconds");
      expect(r.stderr).toContain("within its 5 s start period and 2 retries every 5 s");
      expect(r.stderr).toContain("Task failed container health checks");
      expect(r.stderr).toContain("did not pass its health check (GET /health inside the container)");
      expect(r.stderr).toContain(`Rolled back: the service runs ${first.taskDefinitionArn.split("/").pop()} again`);
      await expectStackRolledBack(r);
      expect(await serviceRevision()).toBe(first.taskDefinitionArn);
      expect(await answers()).toBe(200);
    });

    it("a server that outgrows its memory: the tasks are OOM-killed, the stack rolls back, promote names the cause", async () => {
      const r = cli(
        ["promote", "--env", "staging"],
        dir,
        awsEnv({ MLFLOW_DEV_IMAGES: `mlflow=${OOM_IMAGE}`, MLFLOW_DEV_DEPLOY_IMAGE: OOM_IMAGE }),
      );
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toContain("OutOfMemoryError: Container killed due to memory usage, exit code 137");
      expect(r.stderr).toContain("used more than the task's 1024 MiB (environments.staging.memory) and was killed");
      expect(r.stderr).toContain(`Rolled back: the service runs ${first.taskDefinitionArn.split("/").pop()} again`);
      await expectStackRolledBack(r);
      expect(await serviceRevision()).toBe(first.taskDefinitionArn);
      expect(await answers()).toBe(200);
    });

    it("a revision whose tracking API fails: the in-VPC smoke task exits 1, promote fails and puts the previous revision back", async () => {
      const r = cli(
        ["promote", "--env", "staging"],
        dir,
        awsEnv({ MLFLOW_DEV_IMAGES: `mlflow=${NO_RUNS_IMAGE}`, MLFLOW_DEV_DEPLOY_IMAGE: NO_RUNS_IMAGE }),
      );
      expect(r.code, show(r)).toBe(1);
      // ECS ran the revision steadily (its /health answers): only the smoke test inside the VPC saw the fault.
      expect(r.stderr).toContain("smoke test from inside the VPC");
      expect(r.stderr).toMatch(
        /the smoke test inside the VPC failed \(task [0-9a-f-]+, exit code 1\): POST runs\/create: HTTP 500/,
      );
      expect(r.stderr).toContain(`Rolled back: the service runs ${first.taskDefinitionArn.split("/").pop()} again`);
      expect(await serviceRevision()).toBe(first.taskDefinitionArn);
      expect(await answers()).toBe(200);
      // The failed smoke task is an ECS task of the failed revision, stopped with exit code 1.
      const id = /the smoke test inside the VPC failed \(task ([0-9a-f-]+)/.exec(r.stderr)?.[1] ?? "";
      const task = (await clients.ecs.describeTasks({ cluster: CLUSTER, tasks: [id] })).tasks?.[0];
      expect(task?.startedBy).toBe("mlflow-dev-exec");
      expect(task?.taskDefinitionArn).not.toBe(first.taskDefinitionArn);
      expect(task?.containers?.map((c) => c.exitCode)).toEqual([1]);
    });

    it("a lock left by a crashed promote refuses the next one until unlock releases it", async () => {
      const lock = `/mlflow-dev/${NAME}/staging/deploy-lock`;
      const holder = {
        id: "x",
        command: "promote",
        user: "ci",
        host: "lost-runner",
        pid: 4242,
        startedAt: "2026-01-01T00:00:00Z",
      };
      await clients.ssm.putParameter({ Name: lock, Type: "String", Value: JSON.stringify(holder) });
      const refused = cli(["promote", "--env", "staging"], dir);
      expect(refused.code, show(refused)).toBe(1);
      expect(refused.stderr).toContain("promote by ci@lost-runner (pid 4242) since 2026-01-01T00:00:00Z");
      const unlock = cli(["unlock", "--env", "staging"], dir);
      expect(unlock.code, show(unlock)).toBe(0);
      expect(unlock.stdout).toContain("released the deploy lock of staging, held by promote by ci@lost-runner");
      expect(cli(["unlock", "--env", "staging"], dir).stdout).toContain("staging was not locked");
      const again = cli(["promote", "--env", "staging"], dir);
      expect(again.code, show(again)).toBe(0);
      expect(again.stdout).toContain("no changes");
    });
  });

  describe("destroy", () => {
    it("removes the stack, the service and every task definition; keeps a final snapshot and the bucket", async () => {
      const db = await clients.cloudformation.describeStackResource({
        StackName: STACK,
        LogicalResourceId: "Database",
      });
      const r = cli(["destroy", "--env", "staging", "--yes", "--json"], dir);
      expect(r.code, show(r)).toBe(0);
      const result = JSON.parse(r.stdout);
      expect(result.stackDeleted).toBe(true);
      await expect(clients.cloudformation.describeStacks({ StackName: STACK })).rejects.toThrow(/does not exist/);
      // The service is gone with its cluster (or, where the cluster outlives it, not ACTIVE).
      const services = await clients.ecs
        .describeServices({ cluster: CLUSTER, services: [SERVICE] })
        .catch((e: Error) => {
          if (e.name === "ClusterNotFoundException") return { services: [] };
          throw e;
        });
      expect((services.services ?? []).filter((s) => s.status === "ACTIVE")).toEqual([]);
      for (const family of [FAMILY, `${FAMILY}-migrate`]) {
        const active = await clients.ecs.listTaskDefinitions({ familyPrefix: family, status: "ACTIVE" });
        expect(active.taskDefinitionArns ?? []).toEqual([]);
      }
      expect(result.taskDefinitionsDeregistered.length).toBeGreaterThanOrEqual(4);
      expect(docker(["ps", "--filter", `label=com.amazonaws.ecs.task-definition-family=${FAMILY}`, "-q"])).toBe("");
      // Kept: the bucket with the smoke test's artifact, and a final snapshot of the database.
      expect(result.bucketKept).toBe(`${NAME}-staging-artifacts-${account}`);
      const key = (first.smokeTest?.artifactObject ?? "").replace(/^s3:\/\/[^/]+\//, "");
      await clients.s3.headObject({ Bucket: result.bucketKept, Key: key });
      const snapshots = await clients.rds.describeDBSnapshots({
        DBInstanceIdentifier: db.StackResourceDetail?.PhysicalResourceId ?? "",
      });
      expect((snapshots.DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier)).toContain(result.finalSnapshot);
      // The secrets stay while the snapshot and the bucket that need them do.
      const secret = await clients.secretsManager.describeSecret({
        SecretId: `mlflow-dev/${NAME}/staging/db-password`,
      });
      expect(secret.DeletedDate).toBeUndefined();
      expect(result.secretsKept).toContain(`mlflow-dev/${NAME}/staging/db-password`);
    });

    it("a promote after destroy adopts the kept bucket and uses the kept secrets", () => {
      const r = cli(["promote", "--env", "staging"], dir);
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr).toContain("adopting it into the stack");
      expect(r.stderr).not.toContain("created mlflow-dev/");
      const d = cli(["destroy", "--env", "staging", "--yes", "--skip-final-snapshot", "--delete-data"], dir);
      expect(d.code, show(d)).toBe(0);
      expect(d.stdout).toBe(`destroyed ${STACK}\n`);
    });
  });
});
