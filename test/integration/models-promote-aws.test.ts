import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { createAwsClients, destroyAwsClients, readSecretValue, targetFor } from "@mlflow-dev/aws/deploy";
import {
  BIN,
  type CliResult,
  cli,
  cliEnv,
  destroyEmulated,
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  emulatorEnv,
  imageOverride,
  MlflowClient,
  modelFiles,
  readEnvFile,
  removeLeftovers,
  requireImagesInCi,
  showRun,
  specFixture,
  stackPorts,
  type TrainedForPromote,
  tempDir,
  testSpecDir,
  trainForPromote,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * `models promote` on the user's path: from the local stack to an AWS environment on the emulator,
 * both with `auth: basic` (the source's admin password from the local .env, the destination's from
 * Secrets Manager, neither on the command line). The version carries a 200 MiB run artifact,
 * streamed through the CLI (its peak memory measured) and verified by sha256 at the destination
 * through the load balancer; the destination's Python client loads the model by alias there. A
 * second project's environment on the previous MLflow release is refused as a destination older
 * than the source (exit 2), and nothing is written to it.
 */
const NAME = "itmaws";
const OLD_NAME = "itmawsold";
const PORTS = stackPorts(import.meta.url);
const LOCAL_URL = `http://127.0.0.1:${PORTS.mlflow}`;
const MODEL = "iris-aws";
const EXPERIMENT = "promote-aws-it";
const BIG_MIB = 200;
const OLD = pins.mlflowPrevious;
const IMAGE = imageOverride("mlflow") ?? `ghcr.io/mlflow/mlflow:v${pins.mlflow}-full`;
/** Built by .ci/provision next to the MLflow image (same repository, the previous version's tag). */
const OLD_IMAGE = imageOverride("mlflow") ? IMAGE.replace(/:[^:/]+$/, `:${OLD}`) : `ghcr.io/mlflow/mlflow:v${OLD}-full`;
const AWS_NETWORK = process.env.MLFLOW_DEV_AWS_NETWORK ?? "mlflow-dev-aws";
const AWS_EMULATOR_IP = (process.env.MLFLOW_DEV_AWS_SUBNET ?? "169.254.170.0/24").replace(/\.0\/24$/, ".2");
const AWS_ENV = emulatorEnv("373737373737");
const ACCOUNT = AWS_ENV.AWS_ACCESS_KEY_ID;

const emulatorUp = await emulatorAnswers("models-promote-aws.test.ts");

let dir = "";
let oldDir = "";
const promoted = { current: false, old: false };
const password = { local: "", staging: "", old: "" };
const url = { staging: "", old: "" };
let trained: TrainedForPromote;
/** The promote of the destination environment. */
let first: CliResult;

/** A client of an AWS environment through the emulator's load balancer, signed in as its admin (or not). */
const awsClient = (serviceUrl: string, pw?: string) =>
  new MlflowClient(targetFor(serviceUrl, EMULATOR), {
    timeoutMs: 600_000,
    ...(pw ? { credentials: { username: "admin", password: pw } } : {}),
  });
const localClient = () => new MlflowClient(LOCAL_URL, { credentials: { username: "admin", password: password.local } });

/** `mlflow-dev <args>` under /usr/bin/time -v: the run and the process's peak resident memory (MiB). */
function cliMeasured(args: string[], cwd: string): CliResult & { peakMiB: number } {
  const started = Date.now();
  const r = spawnSync("/usr/bin/time", ["-v", process.execPath, BIN, ...args], {
    cwd,
    encoding: "utf8",
    env: cliEnv({ env: AWS_ENV }),
    timeout: 1_200_000,
    maxBuffer: 256 * 2 ** 20,
  });
  const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
  return {
    code: r.status,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
    ms: Date.now() - started,
    peakMiB: kb / 1024,
  };
}

/** What an environment's registry and tracking store hold: the writes a promote could have made. */
async function records(client: MlflowClient) {
  const experiments = await client.call<{ experiments?: { name: string }[] }>("POST", "experiments/search", {
    max_results: 1000,
    view_type: "ALL",
  });
  const models = await client.call<{ registered_models?: unknown[] }>("GET", "registered-models/search", {
    max_results: 1000,
  });
  const runs = await client.call<{ runs?: unknown[] }>("POST", "runs/search", {
    experiment_ids: (experiments.experiments ?? []).map((e) => (e as { experiment_id?: string }).experiment_id),
    run_view_type: "ALL",
    max_results: 1000,
  });
  return {
    experiments: (experiments.experiments ?? []).map((e) => e.name).sort(),
    models: models.registered_models?.length ?? 0,
    runs: runs.runs?.length ?? 0,
  };
}

describe.skipIf(!emulatorUp && !process.env.CI)("models promote from the local stack to an AWS environment", () => {
  beforeAll(async () => {
    requireImagesInCi();
    removeLeftovers(`mlflow-dev-${NAME}`);
    // One project, basic auth everywhere: its local stack is the source, its staging (on the
    // emulator, this file's account and bucket, deletion protection off) the destination.
    dir = testSpecDir(NAME, PORTS, (spec) => {
      spec.set("mlflow.auth", "basic");
      emulatedEnv(spec, { account: ACCOUNT });
    });
    const up = cli(["up"], { cwd: dir });
    expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
    password.local = readEnvFile(join(dir, ".mlflow-dev/.env")).MLFLOW_DEV_AUTH_ADMIN_PASSWORD ?? "";
    expect(password.local.length).toBeGreaterThanOrEqual(12);

    first = cli(["promote", "--env", "staging", "--json"], { cwd: dir, env: AWS_ENV, timeout: 1_200_000 });
    promoted.current = true;
    expect(first.code, showRun(first, 3000)).toBe(0);
    url.staging = JSON.parse(first.stdout).url;

    // The destination's admin password, as the CLI reads it: from Secrets Manager.
    const clients = await createAwsClients({
      region: AWS_ENV.AWS_REGION,
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
    });
    try {
      password.staging = await readSecretValue(
        clients.secretsManager,
        `mlflow-dev/${NAME}/staging/auth-admin-password`,
      );
    } finally {
      destroyAwsClients(clients);
    }
  }, 1_800_000);

  afterAll(() => {
    if (dir && promoted.current) destroyEmulated(dir, AWS_ENV);
    if (oldDir && promoted.old) destroyEmulated(oldDir, AWS_ENV);
    if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
  }, 900_000);

  it("the environment's promote ran its smoke test inside the VPC, signed in with the task's own admin secret", () => {
    // staging's load balancer is internal: the smoke test ran as a one-off task there.
    const result = JSON.parse(first.stdout) as { smokeTest?: { oneOffTask?: string; runId?: string } };
    expect(result.smokeTest?.oneOffTask).toMatch(/^arn:aws:ecs:/);
    expect(result.smokeTest?.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(first.stderr).toMatch(/in-VPC smoke test: tracking: experiment \d+, run [0-9a-f]{32}/);
  });

  it("both ends refuse a request without the admin's credentials", async () => {
    expect((await new MlflowClient(LOCAL_URL).request("GET", "/version")).status).toBe(401);
    expect((await awsClient(url.staging).request("GET", "/version")).status).toBe(401);
    expect((await awsClient(url.staging, password.staging).request("GET", "/version")).status).toBe(200);
  });

  it(`the local Python client logs and registers a model whose run holds a ${BIG_MIB} MiB artifact`, async () => {
    trained = await trainForPromote({
      image: IMAGE,
      trackingUri: LOCAL_URL,
      experiment: EXPERIMENT,
      modelName: MODEL,
      env: {
        MLFLOW_TRACKING_USERNAME: "admin",
        MLFLOW_TRACKING_PASSWORD: password.local,
        HISTORY_POINTS: "50",
        EXTRA_ARTIFACT_MIB: String(BIG_MIB),
      },
    });
    expect(trained.version).toBe("1");
  }, 900_000);

  it(`promotes it to staging: the ${BIG_MIB} MiB artifact streamed through the CLI in bounded memory and byte-identical at the destination`, async () => {
    const args = ["models", "promote", MODEL, "--version", "1", "--to", "staging", "--set-alias", "champion", "--json"];
    // The same command as a dry run first: the same modules, clients and reads, no bytes copied.
    const dry = cliMeasured([...args, "--dry-run"], dir);
    expect(dry.code, showRun(dry, 3000)).toBe(0);
    expect(JSON.parse(dry.stdout).outcome).toBe("dry-run");
    const r = cliMeasured(args, dir);
    expect(r.code, showRun(r, 4000)).toBe(0);
    const report = JSON.parse(r.stdout) as {
      outcome: string;
      version: string;
      runId: string;
      alias: string;
      copied: { bytes: number; files: number; metricPoints: number };
    };
    expect(report).toMatchObject({ outcome: "promoted", version: "1", alias: "champion" });
    expect(report.copied.bytes).toBeGreaterThan(BIG_MIB * 2 ** 20);
    expect(report.copied.metricPoints).toBe(51);
    // Neither end's password is on the command line or in the output.
    for (const pw of [password.local, password.staging]) expect(r.stdout + r.stderr).not.toContain(pw);
    // The CLI held far less than the artifact in memory: it streamed it (through a file), both
    // ways. Measured against the dry run, whose peak is the process's own footprint (Node, the
    // CLI, the AWS SDK clients).
    console.log(
      `models promote of ${(report.copied.bytes / 2 ** 20).toFixed(0)} MiB to the emulated staging: ${(r.ms / 1000).toFixed(1)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB (the dry run's ${dry.peakMiB.toFixed(0)} MiB)`,
    );
    // (The footprint itself, about 200-240 MiB in the workspace, is Node with the AWS SDK clients
    // the deploy package loads; the copy added 40 MiB on a quiet machine and 99 MiB on a busy one,
    // where the garbage collector runs later. A copy that held the artifact would add at least its
    // 200 MiB: the bound sits between.)
    expect(dry.peakMiB).toBeGreaterThan(20);
    expect(r.peakMiB - dry.peakMiB).toBeLessThan((BIG_MIB * 3) / 4);

    // sha256 of the large file read back from the destination through its load balancer, against
    // the source's: streamed to files on both sides.
    const work = tempDir("mlflow-dev-itmaws-sha-");
    const dest = awsClient(url.staging, password.staging);
    const copied = await dest.getRun(report.runId);
    const source = await localClient().getRun(trained.run_id);
    const path = (info: unknown) =>
      dest.artifactPath(String((info as { artifact_uri?: string }).artifact_uri ?? ""), "extra/weights.bin");
    const there = await dest.downloadArtifactToFile(path(copied.info), join(work, "destination.bin"));
    const here = await localClient().downloadArtifactToFile(path(source.info), join(work, "source.bin"));
    expect(here.bytes).toBe(BIG_MIB * 2 ** 20);
    expect(there).toEqual(here);
  }, 1_200_000);

  it("the destination's Python client loads models:/<name>@champion through the load balancer and predicts the same", async () => {
    const files = await modelFiles({
      image: IMAGE,
      trackingUri: url.staging,
      modelUri: `models:/${MODEL}@champion`,
      env: { MLFLOW_TRACKING_USERNAME: "admin", MLFLOW_TRACKING_PASSWORD: password.staging },
      behindEmulator: { network: AWS_NETWORK, emulator: `${AWS_EMULATOR_IP}:4566` },
    });
    const source = await modelFiles({
      image: IMAGE,
      trackingUri: LOCAL_URL,
      modelUri: `models:/${MODEL}/1`,
      env: { MLFLOW_TRACKING_USERNAME: "admin", MLFLOW_TRACKING_PASSWORD: password.local },
    });
    expect(files.predictions).toEqual(trained.predictions);
    expect(Object.keys(files.files).length).toBeGreaterThan(3);
    expect(files.files).toEqual(source.files);
  }, 900_000);

  it("a second promote, by the source's alias, finds the copy and writes nothing", async () => {
    const before = await records(awsClient(url.staging, password.staging));
    const r = cli(["models", "promote", MODEL, "--alias", "candidate", "--to", "staging", "--json"], {
      cwd: dir,
      env: AWS_ENV,
    });
    expect(r.code, showRun(r, 3000)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "already-promoted", version: "1", writes: 0 });
    expect(await records(awsClient(url.staging, password.staging))).toEqual(before);
  }, 300_000);

  describe(`a destination on the previous MLflow release (${OLD})`, () => {
    beforeAll(async () => {
      // A second project whose staging runs the previous MLflow release.
      oldDir = tempDir(`mlflow-dev-${OLD_NAME}-`);
      emulatedEnv(specFixture("examples/basic").name(OLD_NAME), { account: ACCOUNT })
        .set("mlflow.version", OLD)
        .set("mlflow.auth", "basic")
        .write(oldDir);
      const old = cli(["promote", "--env", "staging", "--json"], {
        cwd: oldDir,
        env: { ...AWS_ENV, MLFLOW_DEV_DEPLOY_IMAGE: OLD_IMAGE },
        timeout: 1_200_000,
      });
      promoted.old = true;
      expect(old.code, showRun(old, 3000)).toBe(0);
      url.old = JSON.parse(old.stdout).url;
      const clients = await createAwsClients({
        region: AWS_ENV.AWS_REGION,
        endpointUrl: EMULATOR,
        credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
      });
      try {
        password.old = await readSecretValue(
          clients.secretsManager,
          `mlflow-dev/${OLD_NAME}/staging/auth-admin-password`,
        );
      } finally {
        destroyAwsClients(clients);
      }
    }, 1_200_000);

    it(`than the source's (${pins.mlflow}) is refused with exit 2, and nothing is written to it`, async () => {
      const old = awsClient(url.old, password.old);
      expect((await old.request("GET", "/version")).text.trim()).toBe(OLD);
      const before = await records(old);
      const r = cli(
        [
          "models",
          "promote",
          MODEL,
          "--version",
          "1",
          "--to",
          "staging",
          "--from",
          "local",
          "--from-spec",
          join(dir, "mlflow-dev.yaml"),
        ],
        { cwd: oldDir, env: AWS_ENV },
      );
      expect(r.code, showRun(r, 3000)).toBe(2);
      expect(r.stderr).toContain(`the destination runs MLflow ${OLD}, older than the source's ${pins.mlflow}`);
      expect(r.stderr).toContain("Nothing was written");
      expect(await records(old)).toEqual(before);
      expect(before.models).toBe(0);
    }, 300_000);
  });
});
