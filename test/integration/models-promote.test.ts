import { join } from "node:path";
import {
  cli,
  cliInBackground,
  imageOverride,
  MlflowClient,
  modelFiles,
  readEnvFile,
  removeLeftovers,
  requireImagesInCi,
  stackPorts,
  type TrainedForPromote,
  testSpecDir,
  trainForPromote,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * `models promote` between two real local stacks, both with `auth: basic`: the source's project
 * logs and registers a scikit-learn model with the Python client (60 metric points, a dataset
 * input, an extra artifact), the destination's project promotes it with --from-spec. The
 * destination's Python client then loads `models:/<name>@<alias>` and predicts the same; every
 * file's sha256 is equal; a second promote writes nothing; a promote killed mid-copy and run
 * again ends with exactly one verified version.
 */
const IMAGE = imageOverride("mlflow") ?? `ghcr.io/mlflow/mlflow:v${pins.mlflow}-full`;
const SRC = { name: "itmsrc", ports: stackPorts(import.meta.url, 0) };
const DST = { name: "itmdst", ports: stackPorts(import.meta.url, 1) };
const MODEL = "iris-promote";
const BIG = "iris-big";

const dirs: Record<"src" | "dst", string> = { src: "", dst: "" };
const password: Record<"src" | "dst", string> = { src: "", dst: "" };
let trained: TrainedForPromote;

const url = (side: "src" | "dst") => `http://127.0.0.1:${(side === "src" ? SRC : DST).ports.mlflow}`;
const client = (side: "src" | "dst") =>
  new MlflowClient(url(side), { credentials: { username: "admin", password: password[side] } });
const pythonEnv = (side: "src" | "dst") => ({
  MLFLOW_TRACKING_USERNAME: "admin",
  MLFLOW_TRACKING_PASSWORD: password[side],
});
const promote = (args: string[]) =>
  cli(["models", "promote", ...args, "--to", "local", "--from-spec", join(dirs.src, "mlflow-dev.yaml"), "--json"], {
    cwd: dirs.dst,
  });

/** What the destination holds: versions of a model and runs of the experiment (the writes a promote could make). */
async function destinationRecords(model: string) {
  const c = client("dst");
  const versions = await c.call<{ model_versions?: unknown[] }>("GET", "model-versions/search", {
    filter: `name='${model}'`,
  });
  const exp = await c.getExperimentByName("promote-it");
  const runs = exp
    ? await c.call<{ runs?: unknown[] }>("POST", "runs/search", {
        experiment_ids: [exp.experimentId],
        run_view_type: "ALL",
        max_results: 1000,
      })
    : {};
  return { versions: versions.model_versions?.length ?? 0, runs: runs.runs?.length ?? 0 };
}

beforeAll(() => {
  requireImagesInCi();
  for (const [side, stack] of [
    ["src", SRC],
    ["dst", DST],
  ] as const) {
    removeLeftovers(`mlflow-dev-${stack.name}`);
    const dir = testSpecDir(stack.name, stack.ports, (spec) => spec.set("mlflow.auth", "basic"));
    const up = cli(["up"], { cwd: dir });
    expect(up.code, `up ${stack.name} failed:\n${up.stderr}`).toBe(0);
    dirs[side] = dir;
    password[side] = readEnvFile(join(dir, ".mlflow-dev/.env")).MLFLOW_DEV_AUTH_ADMIN_PASSWORD ?? "";
  }
}, 900_000);

afterAll(() => {
  for (const dir of [dirs.src, dirs.dst]) if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

describe("models promote between two local stacks with basic auth", () => {
  it("the source's Python client logs and registers the model", async () => {
    trained = await trainForPromote({
      image: IMAGE,
      trackingUri: url("src"),
      experiment: "promote-it",
      modelName: MODEL,
      env: { ...pythonEnv("src"), HISTORY_POINTS: "60", EXTRA_ARTIFACT_MIB: "8" },
    });
    expect(trained.version).toBe("1");
    expect(trained.model_id).toMatch(/^m-/);
  }, 600_000);

  it("a dry run shows the plan and writes nothing", async () => {
    const r = promote([MODEL, "--version", "1", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { outcome: string; steps: string[] };
    expect(report.outcome).toBe("dry-run");
    expect(report.steps).toContain("log 61 metric points");
    expect(await destinationRecords(MODEL)).toEqual({ versions: 0, runs: 0 });
  }, 120_000);

  it("promotes by version: the run, its 60-point history, the logged model and byte-identical files; the model loads and predicts the same", async () => {
    const r = promote([MODEL, "--version", "1", "--set-alias", "staging"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { outcome: string; version: string; runId: string; writes: number };
    expect(report.outcome).toBe("promoted");
    expect(report.version).toBe("1");
    expect(report.writes).toBeGreaterThan(10);
    // Credentials are never printed.
    for (const p of Object.values(password)) expect(r.stdout + r.stderr).not.toContain(p);

    const history = await client("dst").call<{ metrics?: { step: number; timestamp: number }[] }>(
      "GET",
      "metrics/get-history",
      { run_id: report.runId, metric_key: "loss", max_results: 1000 },
    );
    const sourceHistory = await client("src").call<{ metrics?: { step: number; timestamp: number }[] }>(
      "GET",
      "metrics/get-history",
      { run_id: trained.run_id, metric_key: "loss", max_results: 1000 },
    );
    expect(history.metrics).toHaveLength(60);
    expect(history.metrics?.map((m) => [m.step, m.timestamp])).toEqual(
      sourceHistory.metrics?.map((m) => [m.step, m.timestamp]),
    );

    const [source, destination] = await Promise.all([
      modelFiles({ image: IMAGE, trackingUri: url("src"), modelUri: `models:/${MODEL}/1`, env: pythonEnv("src") }),
      modelFiles({
        image: IMAGE,
        trackingUri: url("dst"),
        modelUri: `models:/${MODEL}@staging`,
        env: pythonEnv("dst"),
      }),
    ]);
    expect(Object.keys(destination.files).length).toBeGreaterThan(3);
    expect(destination.files).toEqual(source.files);
    expect(destination.predictions).toEqual(trained.predictions);
    expect(source.predictions).toEqual(trained.predictions);
  }, 600_000);

  it("a second promote, by version or by alias, finds the copy by its digest and writes nothing", async () => {
    const before = await destinationRecords(MODEL);
    for (const ref of [
      ["--version", "1"],
      ["--alias", "candidate"],
    ]) {
      const r = promote([MODEL, ...ref]);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { outcome: string; version: string; writes: number };
      expect(report).toMatchObject({ outcome: "already-promoted", version: "1", writes: 0 });
    }
    expect(await destinationRecords(MODEL)).toEqual(before);
  }, 120_000);

  it("a promote killed mid-copy leaves no version; run again, it ends with exactly one verified version", async () => {
    const big = await trainForPromote({
      image: IMAGE,
      trackingUri: url("src"),
      experiment: "promote-it",
      modelName: BIG,
      env: { ...pythonEnv("src"), HISTORY_POINTS: "50", EXTRA_ARTIFACT_MIB: "96" },
    });
    const args = [
      "models",
      "promote",
      BIG,
      "--version",
      big.version,
      "--to",
      "local",
      "--from-spec",
      join(dirs.src, "mlflow-dev.yaml"),
    ];
    const run = cliInBackground(args, { cwd: dirs.dst });
    const { child } = run;
    const killed = new Promise<void>((resolve) => {
      // After cliInBackground's own listener: run.stderr() holds this chunk already.
      child.stderr?.on("data", () => {
        if (/copy 1 run artifact/.test(run.stderr()) && child.exitCode === null) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.on("close", () => resolve());
    });
    await killed;
    expect((await run.done).signal).toBe("SIGKILL");
    expect((await destinationRecords(BIG)).versions).toBe(0);

    const again = promote([BIG, "--version", big.version]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/delete run [0-9a-f]{32} \(an interrupted earlier promotion/);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: "promoted", version: "1" });
    expect((await destinationRecords(BIG)).versions).toBe(1);
    const [source, destination] = await Promise.all([
      modelFiles({
        image: IMAGE,
        trackingUri: url("src"),
        modelUri: `models:/${BIG}/${big.version}`,
        env: pythonEnv("src"),
      }),
      modelFiles({ image: IMAGE, trackingUri: url("dst"), modelUri: `models:/${BIG}/1`, env: pythonEnv("dst") }),
    ]);
    expect(destination).toEqual(source);
  }, 900_000);
});
