import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { checkoutProject } from "@mlflow-dev/compose/runtime";
import {
  cli,
  imageOverride,
  MlflowClient,
  minioClient,
  readEnvFile,
  removeLeftovers,
  requireImagesInCi,
  runArtifactRoundTrip,
  stackPorts,
  testSpecDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * `proxyArtifacts: false` for real on the local stack: the server only records where artifacts
 * go (s3://bucket/prefix), and the Python client writes them to MinIO itself, with the endpoint
 * and the keys `up` points at.
 */
const NAME = "itdirect";
/** Every checkout of the spec has a project that starts so. */
const STACKS = `mlflow-dev-${NAME}`;
/** The compose project of this run's checkout. */
let PROJECT = STACKS;
const PORTS = stackPorts(import.meta.url);
const url = `http://127.0.0.1:${PORTS.mlflow}`;
let dir: string;
let env: Record<string, string>;
let up: ReturnType<typeof cli>;

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(STACKS);
  dir = testSpecDir(NAME, PORTS, (spec) => spec.set("mlflow.proxyArtifacts", false));
  PROJECT = checkoutProject(NAME, dir);
  up = cli(["up"], { cwd: dir });
  expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
  env = readEnvFile(join(dir, ".mlflow-dev/.env"));
}, 600_000);

afterAll(() => {
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

describe("artifacts without the proxy (proxyArtifacts: false) on the local stack", () => {
  it("up tells clients the S3 endpoint, the access key and where its secret is, and prints no secret", () => {
    expect(up.stdout).toContain(
      `artifacts: clients write to S3 themselves: MLFLOW_S3_ENDPOINT_URL=http://127.0.0.1:${PORTS.minio}, AWS_ACCESS_KEY_ID=mlflow-server, AWS_SECRET_ACCESS_KEY in ${join(dir, ".mlflow-dev/.env")} (MLFLOW_DEV_MINIO_SERVER_SECRET_KEY)`,
    );
    for (const value of Object.values(env)) expect(up.stdout).not.toContain(value);
  });

  it("that key reaches the artifact prefix only, as the task role does on AWS", async () => {
    const s3 = minioClient(PORTS.minio, env, "server");
    const put = (Key: string) => s3.send(new PutObjectCommand({ Bucket: "mlflow-artifacts", Key, Body: "x" }));
    await put("mlflow/allowed.txt");
    await expect(put("outside/denied.txt")).rejects.toMatchObject({ name: "AccessDenied" });
    await expect(s3.send(new ListObjectsV2Command({ Bucket: "mlflow-artifacts" }))).rejects.toMatchObject({
      name: "AccessDenied",
    });
    await expect(s3.send(new CreateBucketCommand({ Bucket: "another-bucket" }))).rejects.toMatchObject({
      name: "AccessDenied",
    });
    // The server's container holds that key, not MinIO's root key.
    const inspect = execFileSync("docker", ["inspect", "-f", "{{json .Config.Env}}", `${PROJECT}-mlflow-1`], {
      encoding: "utf8",
    });
    expect(inspect).toContain("AWS_ACCESS_KEY_ID=mlflow-server");
    expect(inspect).not.toContain(env.MLFLOW_DEV_MINIO_ROOT_PASSWORD);
  });

  it("the Python client writes and reads a run's artifact in MinIO itself, with those settings", async () => {
    const r = await runArtifactRoundTrip({
      image: imageOverride("mlflow") ?? `ghcr.io/mlflow/mlflow:v${pins.mlflow}-full`,
      trackingUri: url,
      env: {
        MLFLOW_S3_ENDPOINT_URL: `http://127.0.0.1:${PORTS.minio}`,
        AWS_ACCESS_KEY_ID: "mlflow-server",
        AWS_SECRET_ACCESS_KEY: env.MLFLOW_DEV_MINIO_SERVER_SECRET_KEY ?? "",
      },
    });
    // The server serves no artifacts, so it advertises no proxied transfers.
    expect(r).toMatchObject({ multipartUploads: false, multipartDownloads: false });
    expect(r.downloaded).toBe(r.uploaded);
    const run = await new MlflowClient(url).call<{ run: { info: { artifact_uri: string } } }>("GET", "runs/get", {
      run_id: r.runId,
    });
    expect(run.run.info.artifact_uri).toMatch(/^s3:\/\/mlflow-artifacts\/mlflow\//);
    const listed = await minioClient(PORTS.minio, env).send(
      new ListObjectsV2Command({ Bucket: "mlflow-artifacts", Prefix: "mlflow/" }),
    );
    const object = (listed.Contents ?? []).find((o) => o.Key?.endsWith(`${r.runId}/artifacts/big.bin`));
    expect(object?.Size).toBe(12 * 1024 * 1024 + 7);
  }, 600_000);
});
