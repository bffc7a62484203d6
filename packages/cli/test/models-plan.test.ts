import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  BATCH,
  compareVersions,
  copyPlan,
  type DestinationState,
  digestInput,
  LINEAGE,
  PlanError,
  SOURCE_MODEL,
  type Step,
} from "../src/models/plan.ts";
import { parseModelSource, type SourceRecord } from "../src/models/source.ts";

/**
 * The copy plan of `models promote` against a source recorded from a real MLflow server
 * (fixtures/promote-source.json: what read-source.ts read of a scikit-learn model logged and
 * registered by test/support/python/train-for-promote.py: 60 loss points, a dataset input, a 1 MiB
 * run artifact, an MLflow 3 logged model).
 */
const recorded = (): SourceRecord =>
  JSON.parse(readFileSync(new URL("./fixtures/promote-source.json", import.meta.url), "utf8")) as SourceRecord;
const EMPTY: DestinationState = { serverVersion: recorded().serverVersion, partialRuns: [] };
const DIGEST = "d".repeat(64);
const kinds = (steps: Step[]) => steps.map((s) => s.do);

describe("the copy plan from a recorded MLflow 3 source", () => {
  it("writes, in order: experiment, run, logged model, params and tags, metrics, inputs, files, ready, outputs, end, mark, verify, registration", () => {
    const plan = copyPlan(recorded(), EMPTY, { digest: DIGEST });
    expect(plan.outcome).toBe("copy");
    expect(kinds(plan.steps)).toEqual([
      "create-experiment",
      "create-run",
      "create-logged-model",
      "log-batch",
      "log-batch",
      "log-inputs",
      "copy-artifacts",
      "copy-artifacts",
      "finalize-logged-model",
      "log-outputs",
      "end-run",
      "mark-run",
      "verify",
      "create-registered-model",
      "create-model-version",
    ]);
  });

  it("copies the full metric history with steps and timestamps, the user's tags, not the server's", () => {
    const source = recorded();
    const plan = copyPlan(source, EMPTY, { digest: DIGEST });
    const batches = plan.steps.filter((s): s is Extract<Step, { do: "log-batch" }> => s.do === "log-batch");
    const metrics = batches.flatMap((b) => b.metrics);
    expect(metrics.filter((m) => m.key === "loss")).toHaveLength(60);
    expect(metrics.filter((m) => m.key === "loss").map((m) => [m.step, m.timestamp])).toEqual(
      source.metricHistory.loss?.map((m) => [m.step, m.timestamp]),
    );
    const tags = batches.flatMap((b) => b.tags.map((t) => t.key));
    expect(tags).toContain("team");
    expect(tags).toContain("mlflow.source.name");
    for (const serverSet of ["mlflow.user", "mlflow.runName", "mlflow.log-model.history"])
      expect(tags).not.toContain(serverSet);
    expect(batches.flatMap((b) => b.params.map((p) => p.key))).toEqual(["C", "max_iter", "solver"]);
    // A point also recorded as the logged model's metric is logged against the destination's model.
    expect(metrics.filter((m) => m.model_id === SOURCE_MODEL).length).toBeGreaterThan(0);
    expect(metrics.every((m) => m.model_id === undefined || m.model_id === SOURCE_MODEL)).toBe(true);
  });

  it("batches within MLflow's log-batch limits", () => {
    const source = recorded();
    const loss = source.metricHistory.loss ?? [];
    source.metricHistory.loss = Array.from({ length: 2500 }, (_, i) => ({
      ...loss[0],
      key: "loss",
      step: i,
      timestamp: i,
      value: i,
    }));
    source.run.data.params = Array.from({ length: 150 }, (_, i) => ({ key: `p${i}`, value: String(i) }));
    const plan = copyPlan(source, EMPTY, { digest: DIGEST });
    const batches = plan.steps.filter((s): s is Extract<Step, { do: "log-batch" }> => s.do === "log-batch");
    for (const b of batches) {
      expect(b.metrics.length).toBeLessThanOrEqual(BATCH.metrics);
      expect(b.params.length).toBeLessThanOrEqual(BATCH.params);
      expect(b.tags.length).toBeLessThanOrEqual(BATCH.tags);
    }
    expect(batches.reduce((n, b) => n + b.metrics.length, 0)).toBe(2501);
    expect(batches.reduce((n, b) => n + b.params.length, 0)).toBe(150);
  });

  it("tags the run and the version with the lineage, and registers the destination's logged model", () => {
    const source = recorded();
    const plan = copyPlan(source, EMPTY, { digest: DIGEST });
    const run = plan.steps.find((s) => s.do === "create-run");
    const version = plan.steps.find((s) => s.do === "create-model-version");
    const tag = (tags: { key: string; value: string }[] | undefined, key: string) =>
      tags?.find((t) => t.key === key)?.value;
    for (const s of [run, version] as Array<{ tags: { key: string; value: string }[] }>) {
      expect(tag(s.tags, LINEAGE.digest)).toBe(DIGEST);
      expect(tag(s.tags, LINEAGE.sourceRun)).toBe(source.run.info.run_id);
      expect(tag(s.tags, LINEAGE.sourceModelId)).toBe(source.loggedModel?.info.model_id);
      expect(tag(s.tags, LINEAGE.sourceEnv)).toBe("local");
    }
    expect(tag(run?.do === "create-run" ? run.tags : [], LINEAGE.stage)).toBe("copying");
    expect(version?.do === "create-model-version" && version.source).toEqual({
      kind: "logged-model",
      modelId: source.loggedModel?.info.model_id,
    });
    expect(tag(version?.do === "create-model-version" ? version.tags : [], "validated")).toBe("yes");
  });

  it("copies every file of the run and of the logged model, the registered model only when absent, an alias only when asked", () => {
    const source = recorded();
    const plan = copyPlan(source, { ...EMPTY, registeredModel: { name: "iris-promote" } }, { digest: DIGEST });
    const files = plan.steps.flatMap((s) =>
      s.do === "copy-artifacts" ? s.files.map((f) => `${s.scope}:${f.path}`) : [],
    );
    expect(files).toContain("run:extra/weights.bin");
    expect(files).toContain("model:MLmodel");
    expect(files).toContain("model:model.skops");
    expect(kinds(plan.steps)).not.toContain("create-registered-model");
    expect(kinds(plan.steps)).not.toContain("set-alias");
    const aliased = copyPlan(source, EMPTY, { digest: DIGEST, setAlias: "staging" });
    expect(aliased.steps.at(-1)).toEqual({ do: "set-alias", name: "iris-promote", alias: "staging" });
  });
});

describe("what the destination holds", () => {
  it("already promoted (a version carries the digest): nothing to write", () => {
    const plan = copyPlan(
      recorded(),
      { ...EMPTY, promoted: { name: "iris-promote", version: "4", source: "models:/m-1" } },
      { digest: DIGEST },
    );
    expect(plan.outcome).toBe("already-promoted");
    expect(plan.steps).toEqual([]);
  });

  it("already promoted, alias asked: only the alias, and nothing when it already points there", () => {
    const promoted = { name: "iris-promote", version: "4", source: "models:/m-1" };
    const moved = copyPlan(recorded(), { ...EMPTY, promoted }, { digest: DIGEST, setAlias: "prod" });
    expect(kinds(moved.steps)).toEqual(["set-alias"]);
    const same = copyPlan(
      recorded(),
      { ...EMPTY, promoted, registeredModel: { name: "iris-promote", aliases: [{ alias: "prod", version: "4" }] } },
      { digest: DIGEST, setAlias: "prod" },
    );
    expect(same.steps).toEqual([]);
  });

  it("an interrupted copy: an incomplete run is deleted and the copy starts over; a fully copied run is verified and registered", () => {
    const restart = copyPlan(
      recorded(),
      { ...EMPTY, partialRuns: [{ runId: "r1", stage: "copying" }] },
      { digest: DIGEST },
    );
    expect(restart.steps[0]).toMatchObject({ do: "abandon-run", runId: "r1" });
    expect(kinds(restart.steps)).toContain("create-run");
    const resume = copyPlan(
      recorded(),
      { ...EMPTY, experiment: { experimentId: "3" }, partialRuns: [{ runId: "r2", stage: "copied" }] },
      { digest: DIGEST },
    );
    expect(resume.outcome === "copy" && resume.resumeRun).toBe("r2");
    expect(kinds(resume.steps)).toEqual(["verify", "create-registered-model", "create-model-version"]);
  });

  it("an existing experiment is used; a deleted one restored", () => {
    expect(
      kinds(copyPlan(recorded(), { ...EMPTY, experiment: { experimentId: "7" } }, { digest: DIGEST }).steps)[0],
    ).toBe("create-run");
    expect(
      kinds(
        copyPlan(
          recorded(),
          { ...EMPTY, experiment: { experimentId: "7", lifecycleStage: "deleted" } },
          { digest: DIGEST },
        ).steps,
      )[0],
    ).toBe("restore-experiment");
  });

  it("refuses a destination older than the source, before any write", () => {
    expect(() => copyPlan(recorded(), { ...EMPTY, serverVersion: "3.0.0" }, { digest: DIGEST })).toThrow(PlanError);
    expect(() => copyPlan(recorded(), { ...EMPTY, serverVersion: "3.0.0" }, { digest: DIGEST })).toThrow(
      /older than the source/,
    );
    expect(compareVersions("4.2.1", "4.1.9")).toBeGreaterThan(0);
    expect(compareVersions("3.9.0", "3.17.0")).toBeLessThan(0);
    expect(compareVersions("4.2.1", "4.2.1")).toBe(0);
  });
});

describe("sources and the digest", () => {
  it("an MLflow 2 runs:/ source: no logged model, the version registered from the run's path", () => {
    const source = recorded();
    source.version.source = `runs:/${source.run.info.run_id}/model`;
    delete source.loggedModel;
    delete source.modelArtifacts;
    const plan = copyPlan(source, EMPTY, { digest: DIGEST });
    expect(kinds(plan.steps)).not.toContain("create-logged-model");
    expect(plan.steps.find((s) => s.do === "create-model-version")).toMatchObject({
      source: { kind: "run", runId: source.run.info.run_id, path: "model" },
    });
  });

  it("reads the sources MLflow writes", () => {
    const run = recorded().run;
    const v = (source: string) => ({ name: "m", version: "1", source });
    expect(parseModelSource(v("models:/m-0123abcd"), run)).toEqual({ kind: "logged-model", modelId: "m-0123abcd" });
    expect(parseModelSource(v(`runs:/${run.info.run_id}/model`), run)).toEqual({
      kind: "run",
      runId: run.info.run_id,
      path: "model",
    });
    expect(parseModelSource(v(`${run.info.artifact_uri}/sk/model`), run)).toEqual({
      kind: "run",
      runId: run.info.run_id,
      path: "sk/model",
    });
    expect(parseModelSource(v("s3://elsewhere/model"), run)).toBeUndefined();
    expect(() => copyPlan({ ...recorded(), version: v("s3://elsewhere/model") }, EMPTY, { digest: DIGEST })).toThrow(
      PlanError,
    );
  });

  it("the digest input is stable for the same source and changes with its content", () => {
    expect(digestInput(recorded())).toBe(digestInput(recorded()));
    const changed = recorded();
    changed.runArtifacts = changed.runArtifacts.map((f) => ({ ...f, file_size: Number(f.file_size) + 1 }));
    expect(digestInput(changed)).not.toBe(digestInput(recorded()));
    const otherEnv = { ...recorded(), environment: "staging" };
    expect(digestInput(otherEnv)).not.toBe(digestInput(recorded()));
  });
});
