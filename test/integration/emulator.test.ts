import { randomBytes } from "node:crypto";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  GetLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DeregisterTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type Task,
} from "@aws-sdk/client-ecs";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { emulatorUnavailable } from "@mlflow-dev/test-support";
import { afterAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * The local AWS emulator (MiniStack, started by localstack/start.sh or .ci/provision) on
 * 127.0.0.1:4566: its health endpoint, S3, and an ECS task that really runs as a container.
 * Outside CI the file is skipped, with the reason printed, when nothing answers on the port.
 */
const ENDPOINT = process.env.MLFLOW_DEV_AWS_ENDPOINT ?? "http://127.0.0.1:4566";
const IMAGE = process.env.MLFLOW_DEV_EMULATOR_TEST_IMAGE ?? `localhost/mlflow-dev-local/python:${pins.python}`;
// A 12-digit access key is the account id in MiniStack: this file works in an account of its own.
const config = {
  endpoint: ENDPOINT,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: "424242424242", secretAccessKey: "test" },
};
const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;

const unavailable = await emulatorUnavailable("emulator.test.ts", ENDPOINT);

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe.skipIf(unavailable !== undefined)("AWS emulator (MiniStack)", () => {
  it("reports itself healthy with the services mlflow-dev deploys to", async () => {
    const res = await fetch(`${ENDPOINT}/_ministack/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { services: Record<string, string> };
    for (const service of ["s3", "ecs", "rds", "cloudformation", "elasticloadbalancing", "secretsmanager", "logs"])
      expect(body.services[service], service).toBe("available");
  });

  it("stores and returns an S3 object byte for byte", async () => {
    const s3 = new S3Client(config);
    const Bucket = `mlflow-dev-emulator-test-${suffix}`;
    const Key = "dir/object.bin";
    const body = randomBytes(256 * 1024);
    await s3.send(new CreateBucketCommand({ Bucket }));
    cleanups.push(() => s3.send(new DeleteBucketCommand({ Bucket })));
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: body }));
    cleanups.push(() => s3.send(new DeleteObjectCommand({ Bucket, Key })));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    const bytes = await got.Body?.transformToByteArray();
    expect(bytes && Buffer.from(bytes).equals(body)).toBe(true);
  });

  it("runs an ECS task as a container to STOPPED with exit code 0 and its output in CloudWatch Logs", async () => {
    const ecs = new ECSClient(config);
    const logs = new CloudWatchLogsClient(config);
    const cluster = `mlflow-dev-emulator-test-${suffix}`;
    const logGroupName = `/mlflow-dev/emulator-test/${suffix}`;
    await logs.send(new CreateLogGroupCommand({ logGroupName }));
    cleanups.push(() => logs.send(new DeleteLogGroupCommand({ logGroupName })));
    await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    cleanups.push(() => ecs.send(new DeleteClusterCommand({ cluster })));
    const { taskDefinition } = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: cluster,
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: "256",
        memory: "512",
        containerDefinitions: [
          {
            name: "main",
            image: IMAGE,
            essential: true,
            // entryPoint + command, as the mlflow-dev task definitions use them
            entryPoint: ["python3", "-c"],
            command: ["print(6 * 7)"],
            logConfiguration: {
              logDriver: "awslogs",
              options: { "awslogs-group": logGroupName, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "run" },
            },
          },
        ],
      }),
    );
    const taskDefinitionArn = taskDefinition?.taskDefinitionArn;
    if (!taskDefinitionArn) throw new Error("RegisterTaskDefinition returned no ARN");
    cleanups.push(() => ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: taskDefinitionArn })));

    const run = await ecs.send(
      new RunTaskCommand({ cluster, taskDefinition: taskDefinitionArn, launchType: "FARGATE", count: 1 }),
    );
    expect(run.failures ?? []).toEqual([]);
    const taskArn = run.tasks?.[0]?.taskArn;
    if (!taskArn) throw new Error(`RunTask returned no task: ${JSON.stringify(run)}`);

    let task: Task | undefined;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      task = (await ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }))).tasks?.[0];
      if (task?.lastStatus === "STOPPED") break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(task?.lastStatus, `task did not stop within 120 s: ${JSON.stringify(task)}`).toBe("STOPPED");
    expect(task?.containers?.[0]?.exitCode, `stoppedReason: ${task?.stoppedReason}`).toBe(0);

    const taskId = taskArn.split("/").pop();
    let messages: string[] = [];
    for (let i = 0; i < 20 && !messages.includes("42"); i++) {
      const events = await logs
        .send(new GetLogEventsCommand({ logGroupName, logStreamName: `run/main/${taskId}` }))
        .catch(() => ({ events: [] }));
      messages = (events.events ?? []).map((event) => event.message?.trim() ?? "");
      if (!messages.includes("42")) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(messages).toContain("42");
  });
});
