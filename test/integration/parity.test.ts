import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { largeArtifacts, toAwsModel } from "@mlflow-dev/aws";
import { send, targetFor } from "@mlflow-dev/aws/deploy";
import { checkoutProject } from "@mlflow-dev/compose/runtime";
import { healthProbeScript, parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import {
  type ContainerFacts,
  cli,
  containerFacts,
  containersWithLabels,
  destroyEmulated,
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  emulatorEnv,
  imageOverride,
  type LargeArtifactRoundTrip,
  largeArtifactRoundTrip,
  MlflowClient,
  minioClient,
  NotReadyError,
  PROXIED_TRANSFERS,
  peakMemoryMiB,
  readEnvFile,
  requireImagesInCi,
  runArtifactRoundTrip,
  runPythonClient,
  sparePort,
  specFixture,
  stackPorts,
  testSpecDir,
  transferRates,
  waitUntilReady,
} from "@mlflow-dev/test-support";
import pg from "pg";
import type { StartedTestContainer } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * Live parity for real: `mlflow-dev up` (MLflow, PostgreSQL, MinIO) on one side, and on the other
 * a second real MLflow server with its own PostgreSQL database and artifacts proxied to S3
 * (MinIO, under another prefix). Same MLflow version: no difference. The previous MLflow release
 * (images/mlflow-previous): a difference, exit 1. Then the CI parity suite: the same spec promoted
 * to ECS on the AWS emulator (MiniStack: CloudFormation, RDS and ECS tasks as real containers, its
 * S3 and load balancer), and live parity between the local stack and that service: no difference.
 * Last, on the same two stacks, a 1 GiB artifact's round trip through the Python client, by
 * presigned multipart transfers and through the server: the sha256 equal on both runtimes.
 */
const NAME = "itparity";
const PORTS = stackPorts(import.meta.url);
const SAME_PORT = sparePort(import.meta.url, 0);
const PREVIOUS_PORT = sparePort(import.meta.url, 1);
const REMOTE_PG_PORT = sparePort(import.meta.url, 2);
const LOCAL_URL = `http://127.0.0.1:${PORTS.mlflow}`;
const PREVIOUS_VERSION = pins.mlflowPrevious;

const MLFLOW_IMAGE = imageOverride("mlflow") ?? `ghcr.io/mlflow/mlflow:v${pins.mlflow}-full`;
const POSTGRES_IMAGE = imageOverride("postgres") ?? `postgres:${pins.postgres.default}`;
/** Built by .ci/provision next to the MLflow image (same repository, the previous version's tag). */
const PREVIOUS_IMAGE =
  process.env.MLFLOW_DEV_PREVIOUS_MLFLOW_IMAGE ??
  (imageOverride("mlflow")
    ? MLFLOW_IMAGE.replace(/:[^:/]+$/, `:${PREVIOUS_VERSION}`)
    : `ghcr.io/mlflow/mlflow:v${PREVIOUS_VERSION}-full`);

let dir: string;
let env: Record<string, string>;
const containers: StartedTestContainer[] = [];
const pgPassword = randomBytes(12).toString("hex");

async function waitForHealth(url: string, container: StartedTestContainer, timeoutMs = 180_000): Promise<void> {
  const ready = await waitUntilReady(new MlflowClient(url), { timeoutMs, intervalMs: 1000 }).then(
    () => true,
    (e: unknown) => {
      if (e instanceof NotReadyError) return false;
      throw e;
    },
  );
  if (ready) return;
  const logs = await new Promise<string>((resolve) => {
    let out = "";
    container.logs({ tail: 40 }).then((s) => {
      s.on("data", (d: Buffer) => (out += d.toString()));
      setTimeout(() => resolve(out), 1000);
    });
  });
  throw new Error(`${url} did not become healthy in ${timeoutMs / 1000} s; last log lines:\n${logs}`);
}

/** A second MLflow server: its own PostgreSQL database, artifacts proxied to MinIO under its own prefix. */
async function startServer(image: string, port: number, database: string): Promise<string> {
  const { GenericContainer } = await import("testcontainers");
  const container = await new GenericContainer(image)
    .withNetworkMode("host")
    .withEntrypoint(["mlflow"])
    .withCommand([
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--workers",
      "2",
      "--backend-store-uri",
      `postgresql://mlflow:${pgPassword}@127.0.0.1:${REMOTE_PG_PORT}/${database}`,
      "--serve-artifacts",
      "--artifacts-destination",
      `s3://mlflow-artifacts/${database}`,
      "--allowed-hosts",
      `127.0.0.1:${port},localhost:${port}`,
    ])
    .withEnvironment({
      MLFLOW_S3_ENDPOINT_URL: `http://127.0.0.1:${PORTS.minio}`,
      AWS_ACCESS_KEY_ID: env.MLFLOW_DEV_MINIO_ROOT_USER ?? "",
      AWS_SECRET_ACCESS_KEY: env.MLFLOW_DEV_MINIO_ROOT_PASSWORD ?? "",
      AWS_DEFAULT_REGION: "us-east-1",
    })
    // The image's own health check probes port 5000; this server listens on `port`.
    .withHealthCheck({
      test: ["CMD", "bash", "-c", healthProbeScript(port)],
      interval: 2_000,
      timeout: 5_000,
      retries: 90,
      startPeriod: 5_000,
    })
    .withStartupTimeout(240_000)
    .start();
  containers.push(container);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, container);
  return url;
}

let sameUrl: string;
let previousUrl: string;

beforeAll(async () => {
  requireImagesInCi();
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "localhost";
  dir = testSpecDir(NAME, PORTS);
  const up = cli(["up"], { cwd: dir });
  expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
  env = readEnvFile(join(dir, ".mlflow-dev/.env"));

  const { GenericContainer, Wait } = await import("testcontainers");
  const postgres = await new GenericContainer(POSTGRES_IMAGE)
    .withEnvironment({ POSTGRES_USER: "mlflow", POSTGRES_PASSWORD: pgPassword, POSTGRES_DB: "mlflow" })
    .withExposedPorts({ container: 5432, host: REMOTE_PG_PORT })
    .withWaitStrategy(Wait.forSuccessfulCommand("pg_isready -h 127.0.0.1 -U mlflow -d mlflow"))
    .withStartupTimeout(120_000)
    .start();
  containers.push(postgres);
  const db = new pg.Client({ host: "127.0.0.1", port: REMOTE_PG_PORT, user: "mlflow", password: pgPassword });
  await db.connect();
  try {
    for (const name of ["same", "previous"]) await db.query(`create database ${name}`);
  } finally {
    await db.end();
  }
  [sameUrl, previousUrl] = await Promise.all([
    startServer(MLFLOW_IMAGE, SAME_PORT, "same"),
    startServer(PREVIOUS_IMAGE, PREVIOUS_PORT, "previous"),
  ]);
});

/** The emulator: in CI it must be running (.ci/provision starts it); elsewhere its tests skip, saying why. */
const emulatorUp = await emulatorAnswers("parity.test.ts");
/** The emulator's Docker network and its address there (localstack/start.sh). */
const AWS_NETWORK = process.env.MLFLOW_DEV_AWS_NETWORK ?? "mlflow-dev-aws";
const AWS_EMULATOR_IP = (process.env.MLFLOW_DEV_AWS_SUBNET ?? "169.254.170.0/24").replace(/\.0\/24$/, ".2");
const AWS_ENV = emulatorEnv("353535353535");
const AWS_ACCOUNT = AWS_ENV.AWS_ACCESS_KEY_ID;
let promoted = false;

afterAll(async () => {
  for (const c of containers.reverse()) await c.stop().catch(() => undefined);
  if (dir && promoted) destroyEmulated(dir, AWS_ENV);
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

function liveParity(remote: string, save: string) {
  const r = cli(["parity", "--live", "--local", LOCAL_URL, "--remote", remote, "--json", "--save", save], {
    cwd: dir,
  });
  return { ...r, report: r.stdout ? JSON.parse(r.stdout) : undefined };
}

describe("mlflow-dev parity --live against real servers", () => {
  it("the local stack and a second server of the same MLflow version: no difference, exit 0", () => {
    const save = join(tmpdir(), `parity-same-${Date.now()}.json`);
    const r = liveParity(sameUrl, save);
    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
    expect(r.report.differences).toEqual([]);
    expect(r.report.local.mlflowVersion).toBe(pins.mlflow);
    expect(r.report.remote.mlflowVersion).toBe(pins.mlflow);
    expect(r.report.local.incomplete).toEqual([]);
    expect(r.report.remote.incomplete).toEqual([]);
    // The workload did real work on both sides: every step answered, artifacts came back intact.
    const saved = JSON.parse(readFileSync(save, "utf8"));
    for (const side of [saved.local, saved.remote]) {
      expect(side.steps.length).toBeGreaterThan(60);
      const big = side.steps.find((s: { step: string }) => s.step === "artifacts: GET sizes/12582917.bin");
      expect(big).toMatchObject({ status: 200, value: { bytes: 12582917, sameAsUploaded: true } });
    }
  });

  it("the second server's artifacts are objects in S3 (MinIO), under its own prefix", async () => {
    const s3 = minioClient(PORTS.minio, env);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "mlflow-artifacts", Prefix: "same/" }));
    const keys = (listed.Contents ?? []).map((o) => `${o.Key?.split("/").slice(-2).join("/")}:${o.Size}`);
    expect(keys).toEqual(expect.arrayContaining(["sizes/12582917.bin:12582917", "sizes/1031.bin:1031"]));
  });

  it("a server of the previous MLflow version: a difference, exit 1", () => {
    const r = liveParity(previousUrl, join(tmpdir(), `parity-previous-${Date.now()}.json`));
    expect(r.code, r.stderr).toBe(1);
    expect(r.report.remote.mlflowVersion).toBe(PREVIOUS_VERSION);
    expect(r.report.differences).toContainEqual({
      step: "server: GET /version (the MLflow version)",
      path: "value",
      local: pins.mlflow,
      remote: PREVIOUS_VERSION,
    });
  });

  it("the text report names both versions and the difference", () => {
    const r = cli(["parity", "--live", "--local", LOCAL_URL, "--remote", previousUrl], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`MLflow ${PREVIOUS_VERSION}`);
    expect(r.stdout).toMatch(/server: GET \/version \(the MLflow version\)\s+value\s+3\.17\.2\s+3\.16\.1/);
  });
});

/** The large artifact's size: 1 GiB, above MLflow's 500 MiB multipart threshold. */
const LARGE_MIB = 1024;

/**
 * A 1 GiB artifact's round trip through the Python client (packages/test-support/src/large-artifact.ts),
 * both paths that matter for users, one after the other: MLflow's default for a file this large
 * (the server advertises multipart transfers, so the client goes through presigned URLs to the
 * store) and the proxied path (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD/DOWNLOAD=false: the bytes pass
 * the server, which spools them to its disk). Each: the digests equal, every byte back, the path
 * the client took; the seconds are printed, not asserted.
 */
async function largeRoundTrips(
  where: string,
  trackingUri: string,
  behindEmulator?: { network: string; emulator: string },
): Promise<{ multipart: LargeArtifactRoundTrip; proxied: LargeArtifactRoundTrip }> {
  const common = {
    image: MLFLOW_IMAGE,
    trackingUri,
    sizeMiB: LARGE_MIB,
    mode: "mlflow" as const,
    ...(behindEmulator ? { behindEmulator } : {}),
  };
  const multipart = await largeArtifactRoundTrip({ ...common, env: { MLFLOW_EXPERIMENT: "large-artifact" } });
  const proxied = await largeArtifactRoundTrip({
    ...common,
    env: { MLFLOW_EXPERIMENT: "large-artifact", ...PROXIED_TRANSFERS },
  });
  for (const [path, r] of Object.entries({ "multipart (default)": multipart, proxied })) {
    const rate = transferRates(r);
    console.log(
      `${where}, ${path}: ${LARGE_MIB} MiB up ${r.uploadSeconds.toFixed(1)} s (${rate.upMiBs.toFixed(1)} MiB/s), down ${r.downloadSeconds.toFixed(1)} s (${rate.downMiBs.toFixed(1)} MiB/s)`,
    );
    expect(r.bytes).toBe(LARGE_MIB * 2 ** 20);
    expect(r.downloadedBytes, `${path}: bytes back`).toBe(r.bytes);
    expect(r.downloaded, `${path}: sha256 of the download`).toBe(r.uploaded);
    expect(r.sha256Equal).toBe(true);
    expect(r.runId).toMatch(/^[0-9a-f]{32}$/);
  }
  expect(multipart).toMatchObject({ multipartUpload: true, multipartDownload: true });
  expect(proxied).toMatchObject({ multipartUpload: false, multipartDownload: false });
  return { multipart, proxied };
}

/** Sizes of the objects in `bucket` whose key holds `runId`, by the key's last segment. */
async function objectsOfRun(s3: S3Client, bucket: string, runId: string): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key?.includes(runId)) found[o.Key.split("/").pop() ?? ""] = o.Size ?? -1;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found;
}

/** The one running container of the local stack's `mlflow` service. */
function localMlflowContainer(): string {
  const ids = containersWithLabels({
    "com.docker.compose.project": checkoutProject(NAME, dir),
    "com.docker.compose.service": "mlflow",
  });
  expect(ids).toHaveLength(1);
  return ids[0] ?? "";
}

/** The one running container of the promoted service's task (MiniStack labels it as ECS does). */
function ecsMlflowContainer(): string {
  const ids = containersWithLabels({
    "com.amazonaws.ecs.task-definition-family": `mlflow-dev-${NAME}-staging-mlflow`,
    "com.amazonaws.ecs.container-name": "mlflow",
  });
  expect(ids).toHaveLength(1);
  return ids[0] ?? "";
}

describe.skipIf(!emulatorUp && !process.env.CI)("the CI parity suite: local stack vs an emulated ECS promote", () => {
  let remote: string;
  let host: string;
  let bucket: string;
  /** Both MLflow containers before the workloads, to tell a replaced task or a restart afterwards. */
  let before: { local: ContainerFacts; ecs: ContainerFacts };

  beforeAll(() => {
    // The spec of the local stack, with this test's account and a bucket of its own (S3 names are
    // global on the emulator too), and a database that destroy may delete.
    bucket = `itparity-${Date.now().toString(36)}-artifacts`;
    emulatedEnv(specFixture.file(join(dir, "mlflow-dev.yaml")), { account: AWS_ACCOUNT, bucket }).write(dir);
    const r = cli(["promote", "--env", "staging", "--json"], { cwd: dir, env: AWS_ENV });
    promoted = true;
    expect(r.code, `promote failed:\n${r.stderr.slice(-3000)}`).toBe(0);
    remote = JSON.parse(r.stdout).url;
    host = new URL(remote).host;
    expect(remote).toMatch(/^http:\/\/.+\.elb\.amazonaws\.com$/);
    before = { local: containerFacts(localMlflowContainer()), ecs: containerFacts(ecsMlflowContainer()) };
  }, 900_000);

  it("the local container and the ECS task run under the same limits: staging's cpu 512 and memory 1024, no swap", () => {
    for (const facts of [before.local, before.ecs]) {
      expect(facts).toMatchObject({ nanoCpus: 0.5e9, memoryMiB: 1024, memorySwapMiB: 1024, running: true });
    }
  });

  it("static parity of the promoted spec: no drift", () => {
    const r = cli(["parity", "--env", "staging", "--json"], { cwd: dir });
    expect(r.code, r.stdout).toBe(0);
    expect(JSON.parse(r.stdout).drift).toEqual([]);
  });

  it("live parity between the local stack and the emulated ECS service: no difference", () => {
    const save = join(tmpdir(), `parity-emulated-${Date.now()}.json`);
    const r = cli(
      [
        "parity",
        "--live",
        "--local",
        LOCAL_URL,
        "--remote",
        remote,
        "--connect-to",
        `${host}:80:127.0.0.1:4566`,
        "--json",
        "--save",
        save,
      ],
      { cwd: dir },
    );
    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.differences).toEqual([]);
    expect(report.remote.mlflowVersion).toBe(pins.mlflow);
    expect(report.remote.incomplete).toEqual([]);
    const saved = JSON.parse(readFileSync(save, "utf8"));
    const big = saved.remote.steps.find((s: { step: string }) => s.step === "artifacts: GET sizes/12582917.bin");
    expect(big).toMatchObject({ status: 200, value: { bytes: 12582917, sameAsUploaded: true } });
  });

  it("the promoted service encrypts the secrets MLflow stores with its generated passphrase, not MLflow's default", async () => {
    const r = await send(targetFor(remote, EMULATOR), "GET", "/ajax-api/3.0/mlflow/gateway/secrets/config");
    expect(r.status, r.body.toString()).toBe(200);
    expect(JSON.parse(r.body.toString())).toMatchObject({ using_default_passphrase: false });
  });

  it("the Python client's presigned multipart upload and download work through the promoted service too", async () => {
    const r = await runArtifactRoundTrip({
      image: MLFLOW_IMAGE,
      trackingUri: remote,
      behindEmulator: { network: AWS_NETWORK, emulator: `${AWS_EMULATOR_IP}:4566` },
    });
    expect(r).toMatchObject({ multipartUploads: true, multipartDownloads: true });
    expect(r.downloaded).toBe(r.uploaded);
  }, 600_000);

  it("examples/python-client logs to the local stack, then, with only MLFLOW_TRACKING_URI changed, to the promoted service", async () => {
    const common = { image: MLFLOW_IMAGE, experiment: "python-client", modelName: "iris-parity" };
    const local = await runPythonClient({ ...common, trackingUri: LOCAL_URL });
    const cloud = await runPythonClient({
      ...common,
      trackingUri: remote,
      behindEmulator: { network: AWS_NETWORK, emulator: `${AWS_EMULATOR_IP}:4566` },
    });
    // The same script and data: the same model on both sides, logged as separate runs.
    expect(cloud.accuracy).toBe(local.accuracy);
    expect(cloud.runId).not.toBe(local.runId);
    const service = targetFor(remote, EMULATOR);
    const get = async (path: string) => {
      const r = await send(service, "GET", `/api/2.0/mlflow/${path}`);
      expect(r.status, r.body.toString()).toBe(200);
      return JSON.parse(r.body.toString());
    };
    const run = await get(`runs/get?run_id=${cloud.runId}`);
    // train.py prints the accuracy with three decimals.
    const accuracy = run.run.data.metrics.find((m: { key: string }) => m.key === "accuracy");
    expect(accuracy?.value).toBeCloseTo(cloud.accuracy, 3);
    const versions = await get(`model-versions/search?filter=${encodeURIComponent("name='iris-parity'")}`);
    expect(versions.model_versions.map((v: { run_id: string }) => v.run_id)).toEqual([cloud.runId]);
    // The model's files are objects in the promoted stack's bucket on the emulator's S3.
    const s3 = new S3Client({
      endpoint: EMULATOR,
      region: AWS_ENV.AWS_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: AWS_ACCOUNT, secretAccessKey: "test" },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).map((o) => o.Key ?? "");
    const mlmodel = keys.find((k) => k.endsWith("/MLmodel"));
    expect(mlmodel, keys.join("\n")).toBeDefined();
    const text = await (
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: mlmodel }))
    ).Body?.transformToString();
    // The sklearn flavor names its serialized model file, which sits next to MLmodel.
    const file = /pickled_model: (\S+)/.exec(text ?? "")?.[1];
    expect(file, text).toBeDefined();
    expect(keys).toContain(mlmodel?.replace(/MLmodel$/, file ?? ""));
  }, 900_000);

  it("models promote copies the local stack's registered version into the promoted service (AWS endpoint: its stack's URL through the emulated load balancer), verified, and a second promote writes nothing", async () => {
    // The previous test registered iris-parity version 1 on both sides (separate runs). Promoting
    // the local one adds a version in staging that is a copy, with the local run's lineage.
    const promote = () =>
      cli(
        ["models", "promote", "iris-parity", "--version", "1", "--to", "staging", "--set-alias", "candidate", "--json"],
        {
          cwd: dir,
          env: AWS_ENV,
        },
      );
    const first = promote();
    expect(first.code, `${first.stderr}\n${first.stdout}`).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({
      outcome: "promoted",
      from: "itparity/local",
      to: "itparity/staging",
      alias: "candidate",
    });
    expect(report.copied.files).toBeGreaterThan(2);
    const service = targetFor(remote, EMULATOR);
    const get = async (path: string) => {
      const r = await send(service, "GET", `/api/2.0/mlflow/${path}`);
      expect(r.status, r.body.toString()).toBe(200);
      return JSON.parse(r.body.toString());
    };
    const byAlias = await get(`registered-models/alias?name=iris-parity&alias=candidate`);
    expect(byAlias.model_version.version).toBe(String(report.version));
    const copiedRun = await get(`runs/get?run_id=${byAlias.model_version.run_id}`);
    const localRun = JSON.parse(
      (
        await send({ url: LOCAL_URL }, "GET", `/api/2.0/mlflow/model-versions/get?name=iris-parity&version=1`)
      ).body.toString(),
    );
    const sourceRun = JSON.parse(
      (
        await send({ url: LOCAL_URL }, "GET", `/api/2.0/mlflow/runs/get?run_id=${localRun.model_version.run_id}`)
      ).body.toString(),
    );
    // The copy carries the source run's metrics (values and steps) and its start time.
    const metrics = (run: { run: { data: { metrics: { key: string; value: number }[] } } }) =>
      Object.fromEntries(run.run.data.metrics.map((m) => [m.key, m.value]));
    expect(metrics(copiedRun)).toEqual(metrics(sourceRun));
    expect(copiedRun.run.info.start_time).toBe(sourceRun.run.info.start_time);
    expect(copiedRun.run.info.run_id).not.toBe(sourceRun.run.info.run_id);
    const second = promote();
    expect(second.code, `${second.stderr}\n${second.stdout}`).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({
      outcome: "already-promoted",
      version: report.version,
      writes: 0,
    });
  }, 600_000);

  it("both held the workloads within their limits: no OOM kill, no restart, no task replaced", () => {
    const after = { local: containerFacts(localMlflowContainer()), ecs: containerFacts(ecsMlflowContainer()) };
    for (const side of ["local", "ecs"] as const) {
      expect(after[side].id, `${side}: the container was replaced`).toBe(before[side].id);
      expect(after[side]).toMatchObject({ oomKilled: false, restartCount: 0, running: true });
      const peak = peakMemoryMiB(after[side].id);
      console.log(`${side} MLflow container: peak memory ${peak.toFixed(0)} MiB of ${after[side].memoryMiB} MiB`);
      expect(peak).toBeGreaterThan(100);
      expect(peak).toBeLessThan(after[side].memoryMiB);
    }
  });

  it("a 1 GiB artifact's sha256 is equal after the round trip through the emulated load balancer: MLflow's default (presigned multipart) and the proxied path, under the load balancer's derived idle timeout", async () => {
    // The proxied path holds the connection while the server moves the file between its disk and
    // S3: the load balancer's idle timeout is the one derived from artifacts.largestGiB.
    const elb = new ElasticLoadBalancingV2Client({
      endpoint: EMULATOR,
      region: AWS_ENV.AWS_REGION,
      credentials: { accessKeyId: AWS_ACCOUNT, secretAccessKey: "test" },
    });
    const lb = ((await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).find(
      (l) => l.DNSName === new URL(remote).hostname,
    );
    expect(lb?.LoadBalancerArn, `a load balancer named ${new URL(remote).hostname}`).toBeDefined();
    const attributes =
      (await elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: lb?.LoadBalancerArn })))
        .Attributes ?? [];
    const idle = Number(attributes.find((a) => a.Key === "idle_timeout.timeout_seconds")?.Value);
    const model = toAwsModel(resolve(parseSpecOrThrow(readFileSync(join(dir, "mlflow-dev.yaml"), "utf8")), "staging"));
    console.log(
      `the emulated load balancer's idle timeout: ${idle} s (derived from artifacts.largestGiB ${model.artifacts.largestGiB}: ${largeArtifacts(model).idleTimeoutSeconds} s)`,
    );

    const { multipart, proxied } = await largeRoundTrips("emulator, through its load balancer", remote, {
      network: AWS_NETWORK,
      emulator: `${AWS_EMULATOR_IP}:4566`,
    });
    // Both landed whole in the promoted stack's bucket on the emulator's S3.
    const s3 = new S3Client({
      endpoint: EMULATOR,
      region: AWS_ENV.AWS_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: AWS_ACCOUNT, secretAccessKey: "test" },
    });
    for (const r of [multipart, proxied])
      expect(await objectsOfRun(s3, bucket, r.runId ?? "")).toEqual({ "large.bin": LARGE_MIB * 2 ** 20 });
    // The stack deployed the derived idle timeout, which the proxied transfers ran under.
    expect(idle).toBe(largeArtifacts(model).idleTimeoutSeconds);
  }, 1_800_000);
});

describe("a 1 GiB artifact on the local stack (mlflow-dev up)", () => {
  it("its sha256 is equal after the round trip: MLflow's default (presigned multipart to MinIO) and the proxied path (through the server)", async () => {
    const { multipart, proxied } = await largeRoundTrips("local stack", LOCAL_URL);
    // Both landed whole in the stack's MinIO bucket.
    const s3 = minioClient(PORTS.minio, env);
    for (const r of [multipart, proxied])
      expect(await objectsOfRun(s3, "mlflow-artifacts", r.runId ?? "")).toEqual({ "large.bin": LARGE_MIB * 2 ** 20 });
  }, 1_800_000);
});
