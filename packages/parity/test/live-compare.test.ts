import { describe, expect, it } from "vitest";
import { artifactBytes, compare, formatLiveReport, liveReport, normalize, type WorkloadResults } from "../src/index.ts";
import { recording } from "./helpers.ts";

/**
 * The comparer on recorded workloads. The fixtures are real recordings (`mlflow-dev parity
 * --live --save`): two runs against one MLflow 3.17.2 server (different ids, tokens, times), one
 * against MLflow 3.16.1, and the local stack against the same spec promoted to ECS on the AWS
 * emulator (from the integration tier).
 */
const first = () => recording("mlflow-3.17.2");
const second = () => recording("mlflow-3.17.2-second-run");
const older = () => recording("mlflow-3.16.1");

function step(r: WorkloadResults, name: string) {
  const s = r.steps.find((x) => x.step === name);
  if (!s) throw new Error(`no step ${name}`);
  return s;
}

describe("compare(local, remote)", () => {
  it("two runs of the same version differ only in ids, tokens and times: no difference", () => {
    const a = first();
    const b = second();
    expect(a.token).not.toBe(b.token);
    expect(JSON.stringify(step(a, "runs/get run-a").value)).not.toBe(JSON.stringify(step(b, "runs/get run-a").value));
    expect(compare(a, b)).toEqual([]);
  });

  it("the local stack (PostgreSQL, MinIO) and the service promoted to the emulated ECS: no difference", () => {
    expect(compare(recording("local-stack"), recording("emulated-ecs"))).toEqual([]);
  });

  it("another MLflow version is a difference", () => {
    const diffs = compare(first(), older());
    expect(diffs).toContainEqual({
      step: "server: GET /version (the MLflow version)",
      path: "value",
      local: "3.17.2",
      remote: "3.16.1",
    });
  });

  it("a different status code or error code is a difference", () => {
    const b = second();
    const s = step(b, "error: runs/log-parameter changes a logged value");
    s.status = 500;
    s.errorCode = "INTERNAL_ERROR";
    expect(compare(first(), b)).toEqual([
      { step: s.step, path: "errorCode", local: "INVALID_PARAMETER_VALUE", remote: "INTERNAL_ERROR" },
      { step: s.step, path: "status", local: 400, remote: 500 },
    ]);
  });

  it("a different value deep inside a result is a difference, with its path", () => {
    const b = second();
    const run = step(b, "runs/get run-a").value as { run: { data: { metrics: { value: number }[] } } };
    const metric = run.run.data.metrics[0];
    if (metric) metric.value = 0.5;
    expect(compare(first(), b)).toEqual([
      { step: "runs/get run-a", path: "value.run.data.metrics[0].value", local: 0.25, remote: 0.5 },
    ]);
  });

  it("search results keep their order: a reordered result is a difference", () => {
    const b = second();
    const s = step(b, "runs/search metric range, ordered by metric desc").value as { runs: unknown[] };
    s.runs.reverse();
    const diffs = compare(first(), b);
    expect(diffs.length).toBeGreaterThan(0);
    expect(diffs.every((d) => d.step === "runs/search metric range, ordered by metric desc")).toBe(true);
  });

  it("params, metrics and tags are sets: another order is no difference", () => {
    const b = second();
    const run = step(b, "runs/get run-a").value as { run: { data: { params: unknown[]; tags: unknown[] } } };
    run.run.data.params.reverse();
    run.run.data.tags.reverse();
    expect(compare(first(), b)).toEqual([]);
  });

  it("a step that ran on one side only, or was skipped, is a difference", () => {
    const b = second();
    b.steps = b.steps.filter((s) => s.step !== "registered-models/get");
    const c = second();
    const skipped = step(c, "metrics/get-history run-a loss");
    delete skipped.status;
    delete skipped.value;
    skipped.skipped = "needs run-a, which an earlier step did not produce";
    expect(compare(first(), b)).toEqual([
      { step: "registered-models/get", path: "", local: "ran", remote: "(step missing)" },
    ]);
    const diffs = compare(first(), c);
    expect(diffs.map((d) => d.path).sort()).toEqual(["skipped", "status", "value"]);
  });

  it("an artifact whose bytes changed in transit is a difference", () => {
    const b = second();
    (step(b, "artifacts: GET sizes/1048579.bin").value as { sameAsUploaded: boolean }).sameAsUploaded = false;
    expect(compare(first(), b)).toEqual([
      { step: "artifacts: GET sizes/1048579.bin", path: "value.sameAsUploaded", local: true, remote: false },
    ]);
  });

  it("a client-set time is compared; a server-set time is not", () => {
    const b = second();
    const info = (step(b, "runs/get run-a").value as { run: { info: { start_time: number } } }).run.info;
    info.start_time += 1;
    expect(compare(first(), b).map((d) => d.path)).toEqual(["value.run.info.start_time"]);
    const c = second();
    const exp = step(c, "experiments/get main").value as { experiment: { creation_time: number } };
    exp.experiment.creation_time = 1;
    expect(compare(first(), c)).toEqual([]);
  });
});

describe("normalize", () => {
  it("numbers ids in order of appearance, also inside URIs, and hides the token and server times", () => {
    const n = normalize(first());
    const run = n.find((s) => s.step === "runs/get run-a")?.value as {
      run: { info: Record<string, unknown> };
    };
    expect(run.run.info.run_id).toBe("<run:1>");
    expect(run.run.info.experiment_id).toBe("<experiment:1>");
    expect(run.run.info.artifact_uri).toBe("mlflow-artifacts:/<experiment:1>/<run:1>/artifacts");
    const model = n.find((s) => s.step === "registered-models/get")?.value as {
      registered_model: Record<string, unknown>;
    };
    expect(model.registered_model.name).toBe("<token>-model");
    expect(model.registered_model.creation_timestamp).toBe("<time>");
  });

  it("is pure: the same recording normalizes to the same value", () => {
    expect(normalize(first())).toEqual(normalize(first()));
  });
});

describe("the workload's artifacts and report", () => {
  it("artifact bytes are deterministic per size", () => {
    expect(artifactBytes(1031)).toEqual(artifactBytes(1031));
    expect(artifactBytes(0).length).toBe(0);
    expect(Buffer.from(artifactBytes(64)).equals(Buffer.from(artifactBytes(65).slice(0, 64)))).toBe(false);
  });

  it("the text report lists both versions and each difference", () => {
    const text = formatLiveReport(liveReport(first(), older(), compare(first(), older())));
    expect(text).toContain("MLflow 3.17.2");
    expect(text).toContain("MLflow 3.16.1");
    expect(text).toMatch(/server: GET \/version \(the MLflow version\)\s+value\s+3\.17\.2\s+3\.16\.1/);
  });

  it("a workload that could not complete is reported as incomplete", () => {
    const b = second();
    step(b, "runs/create run-c").failure = "fetch failed (ECONNRESET)";
    const report = liveReport(first(), b, compare(first(), b));
    expect(report.remote.incomplete).toEqual(["runs/create run-c: fetch failed (ECONNRESET)"]);
    expect(formatLiveReport(report)).toContain("the workload did not complete on the remote server");
  });
});
