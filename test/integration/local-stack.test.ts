import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { buildOutputReporter, checkoutProject, DockerComposeCli } from "@mlflow-dev/compose/runtime";
import {
  cli,
  containerFacts,
  containersWithLabels,
  imageOverride,
  isPythonProcess,
  MlflowClient,
  minioClient,
  peakMemoryMiB,
  projectContainers,
  readEnvFile,
  removeLeftovers,
  requireImagesInCi,
  runArtifactRoundTrip,
  runPythonClient,
  stackDatabase,
  stackPorts,
  tempDir,
  testSpecDir,
  uvicornWorkers,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * The local stack for real: `mlflow-dev up` on a real Docker engine with real PostgreSQL,
 * object store (versitygw) and MLflow containers, driven through the MLflow REST API.
 */
const NAME = "itstack";
/** Every checkout of the spec has a project that starts so. */
const STACKS = `mlflow-dev-${NAME}`;
/** The compose project of this run's checkout. */
let PROJECT = STACKS;
const PORTS = stackPorts(import.meta.url);
const url = `http://127.0.0.1:${PORTS.mlflow}`;
let dir: string;
let env: Record<string, string>;
const client = new MlflowClient(url);

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(STACKS);
  dir = testSpecDir(NAME, PORTS);
  PROJECT = checkoutProject(NAME, dir);
  const up = cli(["up"], { cwd: dir });
  expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
  expect(up.stdout).toContain(`MLflow is up: ${url}`);
  expect(up.stdout).toContain(".mlflow-dev/.env");
  env = readEnvFile(join(dir, ".mlflow-dev/.env"));
  // Secrets are never printed.
  for (const value of Object.values(env)) {
    expect(up.stdout).not.toContain(value);
    expect(up.stderr).not.toContain(value);
  }
});

afterAll(() => {
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

describe("local stack", () => {
  const state: { experimentId?: string; runId?: string; artifactUri?: string; bigSha?: string; small?: Uint8Array } =
    {};

  it("runs an MLflow workload over the REST API", async () => {
    const experimentId = await client.createExperiment(`workload-${Date.now()}`);
    const { runId, artifactUri } = await client.createRun(experimentId, "first");
    expect(artifactUri).toMatch(/^mlflow-artifacts:/);
    await client.call("POST", "runs/log-parameter", { run_id: runId, key: "lr", value: "0.01" });
    const metrics = Array.from({ length: 100 }, (_, i) => ({
      key: "loss",
      value: 1 / (i + 1),
      timestamp: Date.now(),
      step: i,
    }));
    await client.call("POST", "runs/log-batch", {
      run_id: runId,
      metrics,
      params: [{ key: "epochs", value: "100" }],
      tags: [{ key: "team", value: "ml" }],
    });

    const small = new TextEncoder().encode("hello from mlflow-dev\n");
    const big = randomBytes(50 * 1024 * 1024 + 123);
    await client.uploadArtifact(artifactUri, "notes.txt", small);
    await client.uploadArtifact(artifactUri, "data/big.bin", big);
    const listed = await client.listArtifacts(artifactUri);
    expect(listed.map((f) => f.path.split("/").pop()).sort()).toEqual(["data", "notes.txt"]);
    expect(Buffer.from(await client.downloadArtifact(artifactUri, "notes.txt")).equals(Buffer.from(small))).toBe(true);
    expect(sha(await client.downloadArtifact(artifactUri, "data/big.bin"))).toBe(sha(big));

    await client.call("POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
    const modelName = `model-${Date.now()}`;
    await client.call("POST", "registered-models/create", { name: modelName });
    const mv = await client.call<{ model_version: { version: string } }>("POST", "model-versions/create", {
      name: modelName,
      source: `${artifactUri}/model`,
      run_id: runId,
    });
    await client.call("POST", "registered-models/alias", {
      name: modelName,
      alias: "champion",
      version: mv.model_version.version,
    });
    const byAlias = await client.call<{ model_version: { version: string; run_id: string } }>(
      "GET",
      "registered-models/alias",
      { name: modelName, alias: "champion" },
    );
    expect(byAlias.model_version.run_id).toBe(runId);

    const second = await client.createRun(experimentId, "second");
    await client.call("POST", "runs/log-metric", {
      run_id: second.runId,
      key: "loss",
      value: 5,
      timestamp: Date.now(),
      step: 0,
    });
    const found = await client.call<{ runs: Array<{ info: { run_id: string } }> }>("POST", "runs/search", {
      experiment_ids: [experimentId],
      filter: "metrics.loss < 1 and params.lr = '0.01'",
      order_by: ["metrics.loss ASC"],
    });
    expect(found.runs.map((r) => r.info.run_id)).toEqual([runId]);
    Object.assign(state, { experimentId, runId, artifactUri, bigSha: sha(big), small });
  });

  it("stores the artifacts as objects in the object store's bucket (versitygw)", async () => {
    const s3 = minioClient(PORTS.minio, env);
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: "mlflow-artifacts", Prefix: `mlflow/${state.experimentId}/${state.runId}/` }),
    );
    const keys = (listed.Contents ?? []).map((o) => `${o.Key}:${o.Size}`).sort();
    expect(keys).toEqual([
      `mlflow/${state.experimentId}/${state.runId}/artifacts/data/big.bin:${50 * 1024 * 1024 + 123}`,
      `mlflow/${state.experimentId}/${state.runId}/artifacts/notes.txt:${state.small?.length}`,
    ]);
  });

  it("stores the run as rows in PostgreSQL", async () => {
    const db = await stackDatabase(PORTS.postgres, env);
    try {
      const runs = await db.query("select status from runs where run_uuid = $1", [state.runId]);
      expect(runs.rows).toEqual([{ status: "FINISHED" }]);
      const metrics = await db.query("select count(*)::int as n from metrics where run_uuid = $1 and key = 'loss'", [
        state.runId,
      ]);
      expect(metrics.rows[0].n).toBe(100);
    } finally {
      await db.end();
    }
  });

  it("adds an evaluation dataset to experiments (MLflow's dataset calls, on the psycopg2 driver)", async () => {
    const first = await client.createExperiment(`datasets-a-${Date.now()}`);
    const second = await client.createExperiment(`datasets-b-${Date.now()}`);
    const created = await client.request("POST", "/api/3.0/mlflow/datasets/create", {
      json: { name: `ds-${Date.now()}`, experiment_ids: [first] },
    });
    expect(created.status, created.text).toBe(200);
    const id = (created.json as { dataset: { dataset_id: string } }).dataset.dataset_id;
    const added = await client.request("POST", `/api/3.0/mlflow/datasets/${id}/add-experiments`, {
      json: { experiment_ids: [second] },
    });
    expect(added.status, added.text).toBe(200);
    const ids = await client.request("GET", `/api/3.0/mlflow/datasets/${id}/experiment-ids`);
    expect(ids.status, ids.text).toBe(200);
    expect([...((ids.json as { experiment_ids: string[] }).experiment_ids ?? [])].sort()).toEqual(
      [first, second].sort(),
    );
  });

  it("encrypts the secrets MLflow stores with the generated passphrase, not MLflow's default", async () => {
    const r = await client.request("GET", "/ajax-api/3.0/mlflow/gateway/secrets/config");
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ using_default_passphrase: false });
  });

  it("the Python client's log_artifact and download_artifacts go through presigned multipart URLs, to the object store (versitygw) and back", async () => {
    const r = await runArtifactRoundTrip({
      image: imageOverride("mlflow") ?? `ghcr.io/mlflow/mlflow:v${pins.mlflow}-full`,
      trackingUri: url,
    });
    // The server advertises both, so the client took the presigned path (it fails rather than fall back).
    expect(r).toMatchObject({ multipartUploads: true, multipartDownloads: true });
    expect(r.downloaded).toBe(r.uploaded);
    const s3 = minioClient(PORTS.minio, env);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "mlflow-artifacts", Prefix: "mlflow/" }));
    const object = (listed.Contents ?? []).find((o) => o.Key?.endsWith(`${r.runId}/artifacts/big.bin`));
    expect(object?.Size).toBe(12 * 1024 * 1024 + 7);
  }, 600_000);

  it("the Python mlflow client (examples/python-client) logs a run and a model", async () => {
    const { runId, accuracy } = await runPythonClient({
      image: imageOverride("mlflow") ?? `ghcr.io/mlflow/mlflow:v${pins.mlflow}-full`,
      trackingUri: url,
      experiment: "python-client",
      modelName: "iris-it",
    });
    const run = await client.call<{ run: { data: { metrics: Array<{ key: string; value: number }> } } }>(
      "GET",
      "runs/get",
      { run_id: runId },
    );
    expect(accuracy).toBeGreaterThan(0.8);
    expect(run.run.data.metrics.find((x) => x.key === "accuracy")?.value).toBeCloseTo(accuracy, 3);
    const versions = await client.call<{ model_versions?: Array<{ run_id: string }> }>("GET", "model-versions/search", {
      filter: "name='iris-it'",
    });
    expect(versions.model_versions?.map((v) => v.run_id)).toContain(runId);
  });

  it("a second up with nothing changed is a no-op", () => {
    const before = projectContainers(PROJECT).sort();
    const r = cli(["up"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("already up, nothing changed");
    expect(projectContainers(PROJECT).sort()).toEqual(before);
  });

  it("status reports every service healthy", () => {
    const r = cli(["status", "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.healthy).toBe(true);
    for (const name of ["mlflow", "postgres", "versitygw"])
      expect(s.services.find((x: { service: string }) => x.service === name)?.health).toBe("healthy");
    // The finished one-off jobs read completed, not "exited (0) unhealthy".
    for (const name of ["migrate", "versitygw-setup"])
      expect(s.services.find((x: { service: string }) => x.service === name)).toMatchObject({
        kind: "job",
        status: "completed",
        exitCode: 0,
        health: "none",
      });
    const text = cli(["status"], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^migrate\s+completed \(exit 0\)\s+-\s*$/m);
    expect(text.stdout).toMatch(/^versitygw-setup\s+completed \(exit 0\)\s+-\s*$/m);
    expect(text.stdout).not.toContain("unhealthy");
  });

  it("runs the mlflow container with staging's Fargate size, and it held the workloads: no OOM kill, no restart", () => {
    const ids = containersWithLabels({ "com.docker.compose.project": PROJECT, "com.docker.compose.service": "mlflow" });
    expect(ids).toHaveLength(1);
    const facts = containerFacts(ids[0] ?? "");
    expect(facts).toMatchObject({ nanoCpus: 0.5e9, memoryMiB: 1024, memorySwapMiB: 1024 });
    expect(facts).toMatchObject({ oomKilled: false, restartCount: 0, running: true });
    const peak = peakMemoryMiB(facts.id);
    console.log(`local MLflow container: peak memory ${peak.toFixed(0)} MiB of ${facts.memoryMiB} MiB`);
    expect(peak).toBeLessThan(facts.memoryMiB);
  });

  it("the server's main process is uvicorn's supervisor with its workers, under the init process: mlflow server handed uvicorn's command over to it", () => {
    const [id] = containersWithLabels({
      "com.docker.compose.project": PROJECT,
      "com.docker.compose.service": "mlflow",
    });
    // "<pid> <ppid> <cmdline>" for every process, one line each (the ppid is stat's 4th field; comm
    // has no space here; the server program's newlines become spaces).
    const r = spawnSync(
      "docker",
      [
        "exec",
        id ?? "",
        "sh",
        "-c",
        'for p in /proc/[0-9]*; do echo "${p#/proc/} $(cut -d" " -f4 $p/stat) $(tr "\\0\\n" "  " < $p/cmdline)"; done',
      ],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(
      lines.find((l) => l.startsWith("1 ")),
      r.stdout,
    ).toMatch(/^1 0 \S*docker-init /);
    const processes = lines.map((l) => {
      const [pid = "", ppid = "", ...args] = l.split(" ");
      return { pid, ppid, args: args.join(" ") };
    });
    const { main, workers } = uvicornWorkers(processes);
    // One Python process under the init: the one the server's script started (the server program
    // with `mlflow server`'s flags). MLflow's CLI ran in a fork of it and handed uvicorn's command
    // over; it runs uvicorn, and uvicorn's workers are its forks (examples/basic: 2).
    expect(main, r.stdout).toHaveLength(1);
    expect(main[0]?.ppid, r.stdout).toBe("1");
    expect(main[0]?.args, r.stdout).toMatch(/^\S*python\S* -c import os, sys, tempfile .* server --host 0\.0\.0\.0 /);
    expect(workers, r.stdout).toHaveLength(2);
    expect(
      workers.map((w) => w.args),
      r.stdout,
    ).toEqual([main[0]?.args, main[0]?.args]);
    // No other Python process: no forkserver, no spawned worker, no MLflow CLI left waiting.
    expect(processes.filter(isPythonProcess), r.stdout).toHaveLength(3);
    // The container's own environment (a process's environ is the one it started with): the bound
    // mlflow-dev sets for each worker's request threads; the app module that applies it was written
    // beside the server's scratch files (connection-budget.test.ts counts the threads under load).
    const mainPid = main[0]?.pid ?? "";
    const environ = spawnSync("docker", ["exec", id ?? "", "cat", `/proc/${mainPid}/environ`], { encoding: "utf8" });
    expect(environ.stdout.split("\0")).toContain("MLFLOW_DEV_WORKER_CONCURRENCY=8");
    const written = spawnSync("docker", ["exec", id ?? "", "sh", "-c", 'ls "${TMPDIR:-/tmp}"/mlflow-dev-app-*/'], {
      encoding: "utf8",
    });
    expect(written.stdout.split("\n").sort(), written.stderr).toEqual(
      expect.arrayContaining(["mlflow_dev_bounded_app.py", "mlflow_dev_preload.py"]),
    );
  });

  it("the server runs hardened: uid 10001, read-only root filesystem, no capabilities, writes only to its scratch volume", () => {
    const [id] = containersWithLabels({
      "com.docker.compose.project": PROJECT,
      "com.docker.compose.service": "mlflow",
    });
    const inspect = spawnSync("docker", ["inspect", "--format", "{{json .HostConfig}}|{{.Config.User}}", id ?? ""], {
      encoding: "utf8",
    });
    expect(inspect.status, inspect.stderr).toBe(0);
    const [hostConfig, user] = inspect.stdout.trim().split("|");
    const host = JSON.parse(hostConfig ?? "{}");
    expect(user).toBe("10001:10001");
    expect(host).toMatchObject({ ReadonlyRootfs: true, CapDrop: ["ALL"], Init: true });
    const probe = spawnSync(
      "docker",
      [
        "exec",
        id ?? "",
        "sh",
        "-c",
        "id -u; grep ^CapEff /proc/self/status; touch /home/mlflow/x 2>&1 || echo root-readonly; touch /tmp/x && echo tmp-writable",
      ],
      { encoding: "utf8" },
    );
    expect(probe.stdout).toMatch(/^10001\n/);
    expect(probe.stdout).toMatch(/CapEff:\s+0+\n/);
    expect(probe.stdout).toContain("root-readonly");
    expect(probe.stdout).toContain("tmp-writable");
  });

  it("the server's tuning: each worker's pools are sized to staging's connection budget (MLflow logs its pool options), no access lines", () => {
    const r = cli(["logs", "mlflow"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    const engines = lines.filter((l) => l.includes("Create SQLAlchemy engine with pool options"));
    expect(engines.length, r.stdout.slice(-2000)).toBeGreaterThanOrEqual(2); // one per worker at least
    // The local stack runs the pool of the environment it mirrors: examples/basic's staging, 2 tasks
    // x 2 workers x 2 pools (tracking and model registry stores) on a db.t4g.micro, 9 per pool.
    for (const line of engines) expect(line).toContain("{'pool_size': 6, 'max_overflow': 3}");
    // The workloads above made hundreds of requests; uvicorn's own start-up lines stay.
    expect(lines.filter((l) => / HTTP\/1\.1" \d{3}/.test(l))).toEqual([]);
    expect(r.stdout).toContain("Application startup complete");
  });

  it("keeps every run, metric and artifact across down and up", async () => {
    const down = cli(["down"], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain("data volumes kept");
    expect(projectContainers(PROJECT)).toEqual([]);
    // A line the data was created with, missing from .env: up refuses to invent it, writes nothing.
    const envPath = join(dir, ".mlflow-dev/.env");
    const envText = readFileSync(envPath, "utf8");
    writeFileSync(envPath, envText.replace(/^MLFLOW_DEV_KEK_PASSPHRASE=.*\n/m, ""), { mode: 0o600 });
    const refused = cli(["up"], { cwd: dir });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(
      `has no MLFLOW_DEV_KEK_PASSPHRASE, which the data volume ${PROJECT}_postgres-data was created with`,
    );
    expect(readFileSync(envPath, "utf8")).not.toContain("MLFLOW_DEV_KEK_PASSPHRASE");
    expect(projectContainers(PROJECT)).toEqual([]);
    writeFileSync(envPath, envText, { mode: 0o600 });
    const up = cli(["up"], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const run = await client.call<{ run: { data: { metrics: Array<{ key: string; value: number }> } } }>(
      "GET",
      "runs/get",
      { run_id: state.runId },
    );
    expect(run.run.data.metrics.find((m) => m.key === "loss")?.value).toBe(0.01);
    const history = await client.call<{ metrics: unknown[] }>("GET", "metrics/get-history", {
      run_id: state.runId,
      metric_key: "loss",
    });
    expect(history.metrics.length).toBe(100);
    expect(sha(await client.downloadArtifact(state.artifactUri ?? "", "data/big.bin"))).toBe(state.bigSha);
  });

  it("loses no acknowledged write when PostgreSQL restarts mid-loop", async () => {
    const { runId } = await client.createRun(state.experimentId ?? "", "fault");
    const acknowledged: number[] = [];
    const deadline = Date.now() + 120_000;
    let step = 0;
    let restarted = false;
    while (Date.now() < deadline && (acknowledged.length < 60 || !restarted)) {
      if (step === 20 && !restarted) {
        restarted = true;
        const r = await import("node:child_process").then((cp) =>
          cp.spawnSync("docker", ["restart", `${PROJECT}-postgres-1`], { encoding: "utf8" }),
        );
        expect(r.status, r.stderr).toBe(0);
      }
      try {
        await client.call("POST", "runs/log-metric", {
          run_id: runId,
          key: "m",
          value: step,
          timestamp: Date.now(),
          step,
        });
        acknowledged.push(step);
      } catch {
        // not acknowledged: the client would retry
        await new Promise((r) => setTimeout(r, 500));
      }
      step++;
    }
    expect(restarted).toBe(true);
    expect(acknowledged.length).toBeGreaterThanOrEqual(60);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const history = await client.call<{ metrics: Array<{ step: string }> }>("GET", "metrics/get-history", {
      run_id: runId,
      metric_key: "m",
    });
    const stored = new Set(history.metrics.map((m) => Number(m.step)));
    for (const s of acknowledged) expect(stored.has(s), `acknowledged step ${s} lost`).toBe(true);
  });
});

describe("bad input leaves nothing behind", () => {
  it("a port in use: clear error, exit 1, no containers", async () => {
    const ports = stackPorts(import.meta.url, 1);
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(ports.minio, "127.0.0.1", () => r()));
    try {
      const d = testSpecDir("itports", ports);
      const r = cli(["up"], { cwd: d });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `port already in use:\n  127.0.0.1:${ports.minio} (environments.local.ports.minio): in use by a program outside Docker`,
      );
      expect(r.stderr).toContain("Nothing was started");
      expect(projectContainers(checkoutProject("itports", d))).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  it("an unknown image: clear error, exit 1, no containers", () => {
    const ports = stackPorts(import.meta.url, 2);
    const d = testSpecDir("itimage", ports);
    const r = cli(["up"], {
      cwd: d,
      env: {
        MLFLOW_DEV_IMAGES:
          `${process.env.MLFLOW_DEV_IMAGES ?? ""},versitygw=localhost/mlflow-dev-local/no-such-versitygw:1`.replace(
            /^,/,
            "",
          ),
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("localhost/mlflow-dev-local/no-such-versitygw:1");
    expect(r.stderr).toContain("not available locally and could not be pulled");
    expect(projectContainers(checkoutProject("itimage", d))).toEqual([]);
  });

  it("a server that exits at start: up names it with its last log lines, exit 1, no containers", () => {
    const ports = stackPorts(import.meta.url, 3);
    // Valid to the spec, refused by MLflow's own argument check when the server starts.
    const d = testSpecDir("itcrash", ports, (spec) => spec.set("mlflow.extraArgs", ["--static-prefix", "nope"]));
    try {
      const r = cli(["up"], { cwd: d });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("the local stack did not become healthy (failing: mlflow)");
      expect(r.stderr).toContain("--static-prefix must begin with a '/'");
      expect(r.stderr).toContain("mlflow-dev logs mlflow");
      expect(projectContainers(checkoutProject("itcrash", d))).toEqual([]);
    } finally {
      cli(["down", "--volumes", "--yes"], { cwd: d });
    }
  });

  it("Docker not reachable: clear error, exit 1", () => {
    const d = testSpecDir("itnodocker", stackPorts(import.meta.url, 4));
    const r = cli(["up"], { cwd: d, env: { DOCKER_HOST: "unix:///nonexistent/docker.sock" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot reach the Docker engine");
    expect(r.stderr).toContain("Nothing was started");
  });
});

describe("up's progress of an image build", () => {
  it("a build from a local Dockerfile: each step once as a line, the steps' own output only as the status", async () => {
    const d = tempDir("mlflow-dev-itbuildprogress-");
    // A base that is on this engine (no registry is needed), and steps that print.
    const base = imageOverride("postgres") ?? `postgres:${pins.postgres.default}`;
    writeFileSync(
      join(d, "Dockerfile"),
      `FROM ${base}\nRUN echo first-output && echo second-output\nRUN echo third-output\nLABEL mlflow-dev.test=itbuildprogress\n`,
    );
    const tag = `localhost/mlflow-dev-itbuildprogress:${Date.now().toString(36)}`;
    writeFileSync(join(d, "compose.yaml"), `services:\n  app:\n    image: ${tag}\n    build:\n      context: .\n`);
    writeFileSync(join(d, ".env"), "");
    const compose = new DockerComposeCli({
      composeFile: join(d, "compose.yaml"),
      envFile: join(d, ".env"),
      projectName: "mlflow-dev-itbuildprogress",
    });
    const lines: string[] = [];
    const statuses: string[] = [];
    try {
      await compose.build({
        service: "app",
        onOutput: buildOutputReporter(
          tag,
          (l) => lines.push(l),
          (t) => statuses.push(t),
        ),
      });
      console.log(`build progress lines:\n${lines.join("\n")}\nstatus lines:\n${statuses.join("\n")}`);
      // Compose's classic builder adds a step of its own (a LABEL naming the builder) after the Dockerfile's.
      const n = lines.length;
      expect(lines.slice(0, 4)).toEqual([
        `building ${tag}: step 1/${n}: FROM ${base}`,
        `building ${tag}: step 2/${n}: RUN echo first-output && echo second-output`,
        `building ${tag}: step 3/${n}: RUN echo third-output`,
        `building ${tag}: step 4/${n}: LABEL mlflow-dev.test=itbuildprogress`,
      ]);
      for (const extra of lines.slice(4)) expect(extra).toMatch(/: step \d+\/\d+: LABEL com\.docker\.compose\./);
      expect(statuses).toContain(`building ${tag} (step 2/${n}): first-output`);
      expect(statuses).toContain(`building ${tag} (step 2/${n}): second-output`);
      expect(statuses).toContain(`building ${tag} (step 3/${n}): third-output`);
      // No step is a status, no output a step line.
      expect(statuses.filter((t) => /: (RUN|FROM|LABEL) /.test(t))).toEqual([]);
    } finally {
      spawnSync("docker", ["rmi", "-f", tag], { stdio: "ignore" });
    }
  });
});
