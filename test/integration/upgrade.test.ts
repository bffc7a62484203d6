import { existsSync, readFileSync, rmSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  type AwsClients,
  createAwsClients,
  destroyAwsClients,
  type PromoteResult,
  send,
  targetFor,
} from "@mlflow-dev/aws/deploy";
import {
  cli,
  cliInBackground,
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  emulatorEnv,
  imageOverride,
  MlflowClient,
  readBackWithPythonClient,
  readEnvFile,
  removeLeftovers,
  requireImagesInCi,
  runPythonClient,
  specFixture,
  stackDatabase,
  stackPorts,
  tempDir,
  testSpecDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * Changing mlflow.version of a local stack that holds data, with the project's two MLflow images
 * (the previous release and the current one, whose schemas differ): the upgrade stops the server,
 * dumps the database and migrates it, keeping the data; a downgrade is refused before anything
 * changes; and the migration job itself refuses a schema newer than its MLflow knows.
 */
const NAME = "itupgrade";
/** Every checkout of the spec has a project that starts so. */
const STACKS = `mlflow-dev-${NAME}`;
const PORTS = stackPorts(import.meta.url);
const url = `http://127.0.0.1:${PORTS.mlflow}`;
const OLD = pins.mlflowPrevious;
const NEW = pins.mlflow;
const NEW_IMAGE = imageOverride("mlflow") ?? `ghcr.io/mlflow/mlflow:v${NEW}-full`;
/** Built by .ci/provision next to the MLflow image (same repository, the previous version's tag). */
const OLD_IMAGE = imageOverride("mlflow")
  ? NEW_IMAGE.replace(/:[^:/]+$/, `:${OLD}`)
  : `ghcr.io/mlflow/mlflow:v${OLD}-full`;
/** Alembic heads of the two versions' schemas (read from their images' migrations). */
const OLD_HEAD = "b7e2c1a4d9f3";
const NEW_HEAD = "dc11669786a5";

let dir: string;
let spec: string;
const MODEL = "kept-across-upgrade-model";

/** The run and the registered model as the REST API answers, in the fields both versions have. */
async function restView(client: MlflowClient, runId: string) {
  const { run } = await client.call<{
    run: { info: Record<string, unknown>; data: { params?: unknown[]; metrics?: unknown[]; tags?: { key: string }[] } };
  }>("GET", "runs/get", { run_id: runId });
  const { registered_model: model } = await client.call<{
    registered_model: { name: string; latest_versions?: Record<string, unknown>[] };
  }>("GET", "registered-models/get", { name: MODEL });
  const { model_version: version } = await client.call<{ model_version: Record<string, unknown> }>(
    "GET",
    "model-versions/get",
    { name: MODEL, version: "1" },
  );
  const pick = (o: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));
  return {
    info: pick(run.info, [
      "run_id",
      "experiment_id",
      "status",
      "start_time",
      "end_time",
      "artifact_uri",
      "lifecycle_stage",
    ]),
    params: run.data.params,
    metrics: run.data.metrics,
    tags: run.data.tags?.filter((t) => !t.key.startsWith("mlflow.")),
    model: model.name,
    version: pick(version, ["name", "version", "run_id", "source", "status", "creation_timestamp"]),
  };
}

/** The CLI with the spec at `version` and that version's image. */
function upAt(version: string) {
  specFixture.file(spec).set("mlflow.version", version).write(dir);
  const images = (process.env.MLFLOW_DEV_IMAGES ?? "")
    .split(",")
    .filter((p) => p && !p.startsWith("mlflow="))
    .concat(`mlflow=${version === OLD ? OLD_IMAGE : NEW_IMAGE}`)
    .join(",");
  return cli(["up"], { cwd: dir, env: { MLFLOW_DEV_IMAGES: images } });
}

async function schemaRevision(): Promise<string> {
  const db = await stackDatabase(PORTS.postgres, readEnvFile(join(dir, ".mlflow-dev/.env")));
  try {
    return (await db.query("SELECT version_num FROM alembic_version")).rows[0]?.version_num;
  } finally {
    await db.end();
  }
}

/** GET /version on a new connection (a pooled one may belong to a server that `down` stopped). */
function serverVersion(): Promise<string> {
  return new Promise((resolve, reject) => {
    get(`${url}/version`, { agent: false }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(STACKS);
  dir = testSpecDir(NAME, PORTS);
  spec = join(dir, "mlflow-dev.yaml");
}, 60_000);

afterAll(() => {
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

describe("MLflow version changes on the local stack", () => {
  let experimentId: string;

  it(`an upgrade from ${OLD} to ${NEW} stops the server, dumps the database, migrates it and keeps the data`, async () => {
    const first = upAt(OLD);
    expect(first.code, first.stderr).toBe(0);
    expect(await serverVersion()).toBe(OLD);
    expect(await schemaRevision()).toBe(OLD_HEAD);
    const client = new MlflowClient(url);
    experimentId = (
      await client.call<{ experiment_id: string }>("POST", "experiments/create", { name: "kept-across-upgrade" })
    ).experiment_id;
    // A run with params, a metric, a logged model and a registered model version, by the Python
    // client of the old version; then everything read back through the client and the REST API.
    const trained = await runPythonClient({
      image: OLD_IMAGE,
      trackingUri: url,
      experiment: "kept-across-upgrade-python",
      modelName: MODEL,
    });
    const before = await readBackWithPythonClient({
      image: OLD_IMAGE,
      trackingUri: url,
      runId: trained.runId,
      modelName: MODEL,
    });
    const restBefore = await restView(client, trained.runId);

    const r = upAt(NEW);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`upgrading MLflow ${OLD} -> ${NEW}: stopping the server, then backing up the database`);
    const backup = /backed up the database of MLflow \S+ to (\S+)/.exec(r.stderr)?.[1] ?? "";
    expect(backup).toMatch(new RegExp(`/\\.mlflow-dev/backups/\\d{8}T\\d{6}Z-mlflow-${OLD}-to-${NEW}\\.sql\\.gz$`));
    const dump = gunzipSync(readFileSync(backup)).toString();
    expect(dump).toContain("PostgreSQL database dump complete");
    expect(dump).toContain("kept-across-upgrade");
    expect(dump).toContain(OLD_HEAD);

    expect(await serverVersion()).toBe(NEW);
    expect(await schemaRevision()).toBe(NEW_HEAD);
    const got = await client.call<{ experiment: { name: string } }>("GET", "experiments/get", {
      experiment_id: experimentId,
    });
    expect(got.experiment.name).toBe("kept-across-upgrade");
    expect(readFileSync(join(dir, ".mlflow-dev/mlflow-version"), "utf8")).toBe(`${NEW}\n`);

    const after = await readBackWithPythonClient({
      image: NEW_IMAGE,
      trackingUri: url,
      runId: trained.runId,
      modelName: MODEL,
    });
    expect(after).toEqual(before);
    expect(Object.keys(before.artifacts as object)).toContain("MLmodel");
    expect((before.run as { params: Record<string, string> }).params).toEqual({ C: "0.5", max_iter: "300" });
    expect(await restView(client, trained.runId)).toEqual(restBefore);
  });

  it("after down (data kept), up backs up nothing and the migration finds the schema at its head", () => {
    expect(cli(["logs", "migrate"], { cwd: dir }).stdout).toContain(
      `mlflow database schema upgraded from ${OLD_HEAD} to ${NEW_HEAD} (MLflow ${NEW})`,
    );
    const down = cli(["down"], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    const again = upAt(NEW);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain("backing up");
    expect(cli(["logs", "migrate"], { cwd: dir }).stdout).toContain(
      `mlflow database schema is at the head of MLflow ${NEW} (${NEW_HEAD}): nothing to do`,
    );
  });

  it(`a downgrade to ${OLD} is refused before anything changes`, async () => {
    const compose = readFileSync(join(dir, ".mlflow-dev/compose.yaml"), "utf8");
    const r = upAt(OLD);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      `mlflow.version is ${OLD}, but MLflow ${NEW} last served this stack's database: a downgrade is refused`,
    );
    expect(r.stderr).toContain(`Set mlflow.version back to ${NEW}.`);
    expect(readFileSync(join(dir, ".mlflow-dev/compose.yaml"), "utf8")).toBe(compose);
    expect(await serverVersion()).toBe(NEW);
  });

  it("without that record, the migration job refuses the newer schema; back on the newer version, up recovers", async () => {
    rmSync(join(dir, ".mlflow-dev/mlflow-version"));
    const r = upAt(OLD);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("failing: migrate");
    expect(r.stderr).toContain(`the database schema (revision ${NEW_HEAD}) is newer than MLflow ${OLD} knows`);
    expect(await schemaRevision()).toBe(NEW_HEAD);
    expect(existsSync(join(dir, ".mlflow-dev/mlflow-version"))).toBe(false);
    const back = upAt(NEW);
    expect(back.code, back.stderr).toBe(0);
    expect(await serverVersion()).toBe(NEW);
    const got = await new MlflowClient(url).call<{ experiment: { name: string } }>("GET", "experiments/get", {
      experiment_id: experimentId,
    });
    expect(got.experiment.name).toBe("kept-across-upgrade");
  });
});

/**
 * The same version change promoted on the emulator: examples/basic staging first on the previous MLflow
 * release, then on the pinned one (snapshot, service scaled to zero, migration, rollout, desired count back, the
 * first promote's run still there), then back to the previous one (refused, nothing changed).
 */
const up = await emulatorAnswers("test/integration/upgrade.test.ts");
const ACCOUNT = "888899990000";
const AWS_NAME = `itupgrade-${Math.random().toString(36).slice(2, 7)}`;
const STACK = `mlflow-dev-${AWS_NAME}-staging`;
const SERVICE = `${AWS_NAME}-mlflow`;

describe.skipIf(!up && !process.env.CI)("MLflow version changes on the emulator", () => {
  let awsDir: string;
  let clients: AwsClients;
  let first: PromoteResult;

  const promoteAt = (version: string) => {
    specFixture.file(join(awsDir, "mlflow-dev.yaml")).set("mlflow.version", version).write(awsDir);
    return cli(["promote", "--env", "staging", "--json"], {
      cwd: awsDir,
      env: {
        ...emulatorEnv(ACCOUNT),
        MLFLOW_DEV_IMAGES: `mlflow=${version === OLD ? OLD_IMAGE : NEW_IMAGE}`,
        MLFLOW_DEV_DEPLOY_IMAGE: version === OLD ? OLD_IMAGE : NEW_IMAGE,
      },
    });
  };
  const runningRevision = async () =>
    (await clients.ecs.describeServices({ cluster: STACK, services: [SERVICE] }).catch(() => undefined))?.services?.[0];

  beforeAll(async () => {
    if (!up) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    awsDir = tempDir(`mlflow-dev-${AWS_NAME}-`);
    // destroy refuses a database under deletion protection: this test destroys what it promotes.
    emulatedEnv(specFixture("examples/basic").name(AWS_NAME), { account: ACCOUNT }).write(awsDir);
    clients = await createAwsClients({
      region: "eu-west-1",
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
    });
  });

  afterAll(() => {
    if (awsDir)
      cli(["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], {
        cwd: awsDir,
        env: emulatorEnv(ACCOUNT),
      });
    if (clients) destroyAwsClients(clients);
  });

  it(`promote from ${OLD} to ${NEW}: snapshot, no server during the migration, the data kept`, async () => {
    const r1 = promoteAt(OLD);
    expect(r1.code, r1.stderr).toBe(0);
    first = JSON.parse(r1.stdout) as PromoteResult;

    // plan names the version change before promote performs it.
    specFixture.file(join(awsDir, "mlflow-dev.yaml")).set("mlflow.version", NEW).write(awsDir);
    const planned = cli(["plan", "--env", "staging", "--json"], {
      cwd: awsDir,
      env: { ...emulatorEnv(ACCOUNT), MLFLOW_DEV_IMAGES: `mlflow=${NEW_IMAGE}`, MLFLOW_DEV_DEPLOY_IMAGE: NEW_IMAGE },
    });
    expect(planned.code, planned.stderr).toBe(0);
    expect(JSON.parse(planned.stdout).mlflowVersion).toEqual({ kind: "upgrade", from: OLD, to: NEW });

    // While the upgrade runs: from the drain until the rollout, no write reaches a server.
    const upgrading = cliInBackground(["promote", "--env", "staging", "--json"], {
      cwd: awsDir,
      env: { ...emulatorEnv(ACCOUNT), MLFLOW_DEV_IMAGES: `mlflow=${NEW_IMAGE}`, MLFLOW_DEV_DEPLOY_IMAGE: NEW_IMAGE },
    });
    const during: { status: number; running?: number }[] = [];
    const firstTarget = targetFor(first.url, EMULATOR);
    const write = (name: string) =>
      send(firstTarget, "POST", "/api/2.0/mlflow/experiments/create", {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name }),
        timeoutMs: 5_000,
      }).then(
        (r) => r.status,
        () => 0,
      );
    for (let i = 0; i < 600 && !/\[6\/7\] rollout/.test(upgrading.stderr()); i++) {
      if (upgrading.stderr().includes("service scaled to zero")) {
        const status = await write(`written-during-upgrade-${i}`);
        const running = (await runningRevision())?.runningCount;
        if (!/\[6\/7\] rollout/.test(upgrading.stderr()))
          during.push({ status, ...(running === undefined ? {} : { running }) });
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const r2 = await upgrading.done;
    expect(r2.code, r2.stderr).toBe(0);
    expect(during.length).toBeGreaterThan(0);
    for (const probe of during) {
      expect(probe.status).not.toBe(200);
      expect(probe.running).toBe(0);
    }
    const second = JSON.parse(r2.stdout) as PromoteResult;
    expect(r2.stderr).toContain(`migration: upgrade from MLflow ${OLD} to ${NEW}`);
    expect(r2.stderr).toContain("service scaled to zero (from 1): no server writes while the schema changes");
    expect(second.upgradeSnapshot).toMatch(/-mlflow-3-16-1-to-3-17-2-\d{14}$/);
    const snapshots = await clients.rds.describeDBSnapshots({ DBSnapshotIdentifier: second.upgradeSnapshot });
    expect(snapshots.DBSnapshots?.[0]?.Status).toBe("available");
    expect(second.migration?.taskArn).toMatch(/^arn:aws:ecs:eu-west-1:888899990000:task\//);

    const service = await runningRevision();
    expect(service?.taskDefinition).toBe(second.taskDefinitionArn);
    expect(service).toMatchObject({ desiredCount: 1, runningCount: 1 });
    const target = targetFor(second.url, EMULATOR);
    // MLflow refuses to serve an out-of-date schema, so a server of the new version answering means the
    // migration task upgraded it.
    const version = await send(target, "GET", "/version");
    expect(version.body.toString()).toBe(NEW);
    const run = await send(target, "GET", `/api/2.0/mlflow/runs/get?run_id=${first.smokeTest?.runId}`);
    expect(run.status).toBe(200);
    // None of the writes tried during the upgrade was stored.
    const search = await send(target, "POST", "/api/2.0/mlflow/experiments/search", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ max_results: 1000, filter: "name LIKE 'written-during-upgrade-%'" }),
    });
    expect(search.status).toBe(200);
    expect(JSON.parse(search.body.toString()).experiments ?? []).toEqual([]);
  });

  it(`promote back to ${OLD} is refused before anything changes`, async () => {
    const before = (await runningRevision())?.taskDefinition;
    const r = promoteAt(OLD);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      `mlflow.version is ${OLD}, but the service runs MLflow ${NEW}, which migrated the database: a downgrade is refused`,
    );
    expect(r.stderr).not.toContain("[2/7] secrets");
    expect((await runningRevision())?.taskDefinition).toBe(before);
  });
});
