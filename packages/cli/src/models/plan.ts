import type {
  ArtifactFile,
  DatasetInput,
  KeyValue,
  MetricPoint,
  ModelVersion,
  RegisteredModel,
} from "@mlflow-dev/mlflow-client";
import { type ModelSource, parseModelSource, type SourceRecord } from "./source.ts";

/**
 * The copy plan of `models promote` (pure): from a recorded source and what the destination
 * already holds, the ordered writes that put a verified copy of the version there, or nothing
 * when it is already there. The executor (execute.ts) performs the steps in this order.
 */

/** Tags on the destination's run and version that record where the copy came from. */
export const LINEAGE = {
  digest: "mlflow-dev.promote.digest",
  sourceEnv: "mlflow-dev.promote.source-env",
  sourceModel: "mlflow-dev.promote.source-model",
  sourceVersion: "mlflow-dev.promote.source-version",
  sourceRun: "mlflow-dev.promote.source-run",
  sourceModelId: "mlflow-dev.promote.source-model-id",
  sourceUser: "mlflow-dev.promote.source-user",
  sourceCreated: "mlflow-dev.promote.source-created",
  /** On the run: "copying" until every artifact is copied, then "copied". */
  stage: "mlflow-dev.promote.stage",
} as const;

/**
 * Run tags the destination sets itself or that name the source's own ids: not copied.
 * (`mlflow.runName` is the run's name, given at creation; `mlflow.user` is the caller on a
 * basic-auth server and is kept as a lineage tag; the log-model history names the source's ids.)
 */
export const SERVER_SET_RUN_TAGS: readonly string[] = ["mlflow.runName", "mlflow.user", "mlflow.log-model.history"];

/** Logged-model tags the destination sets itself (the versions registered from it, the caller). */
export const SERVER_SET_MODEL_TAGS: readonly string[] = ["mlflow.modelVersions", "mlflow.user"];

/** MLflow's limits for one runs/log-batch request. */
export const BATCH = { metrics: 1000, params: 100, tags: 100 } as const;

/** A metric of the source's logged model: logged against the destination's copy instead. */
export const SOURCE_MODEL = "$source-model";

export type Step =
  | { do: "create-experiment"; name: string }
  | { do: "restore-experiment"; name: string }
  | { do: "abandon-run"; runId: string; why: string }
  | { do: "create-run"; runName: string; startTime: number; tags: KeyValue[] }
  | { do: "create-logged-model"; name: string; modelType?: string; params: KeyValue[]; tags: KeyValue[] }
  | { do: "log-batch"; params: KeyValue[]; tags: KeyValue[]; metrics: MetricPoint[] }
  | { do: "log-inputs"; datasets: DatasetInput[] }
  | { do: "copy-artifacts"; scope: "run" | "model"; files: ArtifactFile[] }
  | { do: "finalize-logged-model" }
  | { do: "log-outputs"; step: number }
  | { do: "end-run"; status: string; endTime: number }
  | { do: "mark-run"; tag: KeyValue }
  | { do: "verify" }
  | { do: "create-registered-model"; name: string; description?: string; tags: KeyValue[] }
  | { do: "create-model-version"; name: string; description?: string; tags: KeyValue[]; source: ModelSource }
  | { do: "set-alias"; name: string; alias: string };

/** What the destination holds that the plan depends on (read before anything is written). */
export interface DestinationState {
  serverVersion: string;
  experiment?: { experimentId: string; lifecycleStage?: string };
  registeredModel?: RegisteredModel;
  /** A version of the model whose digest tag is this source's: the promotion happened. */
  promoted?: ModelVersion;
  /** Runs tagged with this digest that no version points at: an interrupted promotion. */
  partialRuns: Array<{ runId: string; stage?: string }>;
}

export interface PlanOptions {
  /** The digest of the source's content (`digestInput`, hashed at the edge). */
  digest: string;
  setAlias?: string;
}

export type PromotePlan =
  | { outcome: "already-promoted"; digest: string; version: ModelVersion; steps: Step[] }
  | {
      outcome: "copy";
      digest: string;
      /** A run of an earlier, interrupted promotion whose content was all copied: only verified and registered. */
      resumeRun?: string;
      steps: Step[];
      /** What the copy cannot keep exactly, and where it is kept instead. */
      notPreserved: string[];
    };

export class PlanError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = "PlanError";
    this.hint = hint;
  }
}

/** MLflow versions compared numerically ("3.9.0" < "3.10.0"); a pre-release suffix is ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => (/^\d+(\.\d+)*/.exec(v.trim())?.[0] ?? "0").split(".").map(Number);
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The run's tags that are copied: the user's and the client's, not the server's own. */
export function copiedRunTags(source: SourceRecord): KeyValue[] {
  return (source.run.data.tags ?? []).filter((t) => !SERVER_SET_RUN_TAGS.includes(t.key)).sort(byKey);
}

/**
 * The text the promotion's digest is taken over (canonical JSON): the source's identity and
 * everything copied, files by path and size. Equal sources give equal digests; the edge hashes it.
 */
export function digestInput(source: SourceRecord): string {
  const history = Object.keys(source.metricHistory)
    .sort()
    .map((key) => [key, (source.metricHistory[key] ?? []).map((m) => [m.step, m.timestamp, m.value])]);
  return JSON.stringify({
    environment: source.environment,
    model: source.version.name,
    version: source.version.version,
    run: source.run.info.run_id,
    params: [...(source.run.data.params ?? [])].sort(byKey).map((p) => [p.key, p.value]),
    tags: copiedRunTags(source).map((t) => [t.key, t.value]),
    history,
    inputs: (source.run.inputs?.dataset_inputs ?? []).map((d) => [d.dataset.name, d.dataset.digest]),
    runArtifacts: source.runArtifacts.map((f) => [f.path, f.file_size ?? 0]),
    loggedModel: source.loggedModel
      ? {
          id: source.loggedModel.info.model_id,
          params: [...(source.loggedModel.data?.params ?? [])].sort(byKey).map((p) => [p.key, p.value]),
          files: (source.modelArtifacts ?? []).map((f) => [f.path, f.file_size ?? 0]),
        }
      : null,
  });
}

/** The lineage tags of the destination's run and version. */
export function lineageTags(source: SourceRecord, digest: string): KeyValue[] {
  const v = source.version;
  return [
    { key: LINEAGE.digest, value: digest },
    { key: LINEAGE.sourceEnv, value: source.environment },
    { key: LINEAGE.sourceModel, value: v.name },
    { key: LINEAGE.sourceVersion, value: v.version },
    { key: LINEAGE.sourceRun, value: source.run.info.run_id },
    ...(source.loggedModel ? [{ key: LINEAGE.sourceModelId, value: source.loggedModel.info.model_id }] : []),
  ];
}

const pointId = (m: Pick<MetricPoint, "key" | "step" | "timestamp" | "value">) =>
  `${m.key}\u0000${m.step}\u0000${m.timestamp}\u0000${m.value}`;

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The metric history as log-batch steps: params and tags first (within MLflow's limits), then metrics by 1000. */
function batches(params: KeyValue[], tags: KeyValue[], metrics: MetricPoint[]): Step[] {
  const steps: Step[] = [];
  const p = chunk(params, BATCH.params);
  const t = chunk(tags, BATCH.tags);
  for (let i = 0; i < Math.max(p.length, t.length); i++)
    steps.push({ do: "log-batch", params: p[i] ?? [], tags: t[i] ?? [], metrics: [] });
  for (const m of chunk(metrics, BATCH.metrics)) steps.push({ do: "log-batch", params: [], tags: [], metrics: m });
  return steps;
}

/** The ordered writes for a source and a destination state; throws PlanError when the copy cannot be made. */
export function copyPlan(source: SourceRecord, destination: DestinationState, options: PlanOptions): PromotePlan {
  const { digest } = options;
  if (compareVersions(destination.serverVersion, source.serverVersion) < 0)
    throw new PlanError(
      `the destination runs MLflow ${destination.serverVersion}, older than the source's ${source.serverVersion}`,
      "Upgrade the destination first (mlflow.version in the spec, then promote the environment); a newer source's objects may not fit an older server. Nothing was written.",
    );
  const modelSource = parseModelSource(source.version, source.run);
  if (!modelSource)
    throw new PlanError(
      `version ${source.version.version} of ${source.version.name} has the source ${source.version.source}, which is neither a logged model (models:/m-...) nor a path in its run's artifacts`,
      "Only versions registered from a run or a logged model can be promoted with their lineage.",
    );
  if (modelSource.kind === "logged-model" && !source.loggedModel)
    throw new PlanError(
      `the logged model ${modelSource.modelId} of version ${source.version.version} was not found on the source`,
      "It may have been deleted; register a version from an existing model.",
    );
  const name = source.version.name;
  const aliasSteps: Step[] = options.setAlias ? [{ do: "set-alias", name, alias: options.setAlias }] : [];
  if (destination.promoted)
    return { outcome: "already-promoted", digest, version: destination.promoted, steps: aliasStepsIfMissing() };

  function aliasStepsIfMissing(): Step[] {
    const alias = options.setAlias;
    if (!alias) return [];
    const current = destination.registeredModel?.aliases?.find((a) => a.alias === alias)?.version;
    return current === destination.promoted?.version ? [] : aliasSteps;
  }

  const lineage = lineageTags(source, digest);
  const steps: Step[] = [];
  const notPreserved: string[] = [];
  const copied = destination.partialRuns.find((r) => r.stage === "copied");
  for (const r of destination.partialRuns)
    if (r !== copied)
      steps.push({ do: "abandon-run", runId: r.runId, why: "an interrupted earlier promotion left it incomplete" });

  const registration: Step[] = [];
  if (!destination.registeredModel)
    registration.push({
      do: "create-registered-model",
      name,
      ...(source.registeredModel.description ? { description: source.registeredModel.description } : {}),
      tags: [...(source.registeredModel.tags ?? [])].sort(byKey),
    });
  const createdAt = source.version.creation_timestamp;
  registration.push({
    do: "create-model-version",
    name,
    ...(source.version.description ? { description: source.version.description } : {}),
    tags: [
      ...[...(source.version.tags ?? [])].filter((t) => !t.key.startsWith("mlflow-dev.promote.")).sort(byKey),
      ...lineage,
      ...(source.version.user_id ? [{ key: LINEAGE.sourceUser, value: source.version.user_id }] : []),
      ...(createdAt ? [{ key: LINEAGE.sourceCreated, value: new Date(createdAt).toISOString() }] : []),
    ],
    source: modelSource,
  });
  notPreserved.push(
    "the version's number, creation time and user (the destination numbers and stamps it; the source's are tags mlflow-dev.promote.source-version, -created, -user)",
  );
  if (source.registeredModel.aliases?.length)
    notPreserved.push(
      `the source's aliases (${source.registeredModel.aliases.map((a) => `${a.alias}->${a.version}`).join(", ")}): set one with --set-alias`,
    );

  if (copied)
    return {
      outcome: "copy",
      digest,
      resumeRun: copied.runId,
      steps: [...steps, { do: "verify" }, ...registration, ...aliasSteps],
      notPreserved,
    };

  const experiment = source.experiment.name;
  if (!destination.experiment) steps.push({ do: "create-experiment", name: experiment });
  else if (destination.experiment.lifecycleStage === "deleted")
    steps.push({ do: "restore-experiment", name: experiment });

  const run = source.run;
  const user = run.info.user_id || run.data.tags?.find((t) => t.key === "mlflow.user")?.value;
  steps.push({
    do: "create-run",
    runName: run.info.run_name || run.data.tags?.find((t) => t.key === "mlflow.runName")?.value || run.info.run_id,
    startTime: run.info.start_time ?? 0,
    tags: [
      ...lineage,
      { key: LINEAGE.stage, value: "copying" },
      ...(user ? [{ key: LINEAGE.sourceUser, value: user }] : []),
    ],
  });
  notPreserved.push("the run's id and user (the source's are tags mlflow-dev.promote.source-run and -user)");
  const lm = source.loggedModel;
  if (lm)
    steps.push({
      do: "create-logged-model",
      name: lm.info.name,
      ...(lm.info.model_type ? { modelType: lm.info.model_type } : {}),
      params: [...(lm.data?.params ?? [])].sort(byKey),
      tags: [...(lm.info.tags ?? [])].filter((t) => !SERVER_SET_MODEL_TAGS.includes(t.key)).sort(byKey),
    });

  // A point of the run's history that is also one of the logged model's metrics is logged once,
  // against the destination's copy of the model (MLflow then records it for both).
  const modelPoints = new Set((lm?.data?.metrics ?? []).map(pointId));
  const metrics = Object.keys(source.metricHistory)
    .sort()
    .flatMap((key) =>
      (source.metricHistory[key] ?? []).map(({ run_id: _, model_id: __, ...m }) => ({
        ...m,
        key,
        ...(modelPoints.has(pointId({ ...m, key })) ? { model_id: SOURCE_MODEL } : {}),
      })),
    );
  steps.push(...batches([...(run.data.params ?? [])].sort(byKey), copiedRunTags(source), metrics));
  const datasets = run.inputs?.dataset_inputs ?? [];
  if (datasets.length) steps.push({ do: "log-inputs", datasets });
  if (source.runArtifacts.length) steps.push({ do: "copy-artifacts", scope: "run", files: source.runArtifacts });
  if (lm) {
    steps.push({ do: "copy-artifacts", scope: "model", files: source.modelArtifacts ?? [] });
    steps.push({ do: "finalize-logged-model" });
    const output = run.outputs?.model_outputs?.find((o) => o.model_id === lm.info.model_id);
    if (output) steps.push({ do: "log-outputs", step: Number(output.step ?? 0) });
    notPreserved.push(
      "the logged model's id and creation time (the source's id is the tag mlflow-dev.promote.source-model-id)",
    );
  }
  steps.push({
    do: "end-run",
    status: run.info.status ?? "FINISHED",
    endTime: run.info.end_time ?? run.info.start_time ?? 0,
  });
  steps.push({ do: "mark-run", tag: { key: LINEAGE.stage, value: "copied" } });
  steps.push({ do: "verify" });
  return { outcome: "copy", digest, steps: [...steps, ...registration, ...aliasSteps], notPreserved };
}

/** The reads of a promotion, in order (shown by --dry-run and --json; the executor's reader follows it). */
export const SOURCE_READS: readonly string[] = [
  "GET /version",
  "GET registered-models/get (or registered-models/alias for --alias)",
  "GET model-versions/get",
  "GET runs/get",
  "GET metrics/get-history for each metric key (every page)",
  "GET experiments/get",
  "GET logged-models/<id> (MLflow 3 sources)",
  "GET mlflow-artifacts/artifacts listings of the run and of the logged model",
];

export const DESTINATION_READS: readonly string[] = [
  "GET /health, GET /version (reachable, authenticated, not older than the source)",
  "GET experiments/get-by-name",
  "GET registered-models/get",
  "GET model-versions/search name and digest tag (already promoted?)",
  "POST runs/search digest tag (an interrupted earlier promotion?)",
];

/** One line per step, for --dry-run and the report. */
export function describeStep(step: Step): string {
  switch (step.do) {
    case "create-experiment":
      return `create experiment ${step.name}`;
    case "restore-experiment":
      return `restore the deleted experiment ${step.name}`;
    case "abandon-run":
      return `delete run ${step.runId} (${step.why})`;
    case "create-run":
      return `create run ${step.runName} (start time ${new Date(step.startTime).toISOString()})`;
    case "create-logged-model":
      return `create logged model ${step.name} (${step.params.length} params, ${step.tags.length} tags)`;
    case "log-batch":
      return `log ${[
        step.params.length ? `${step.params.length} params` : "",
        step.tags.length ? `${step.tags.length} tags` : "",
        step.metrics.length ? `${step.metrics.length} metric points` : "",
      ]
        .filter(Boolean)
        .join(", ")}`;
    case "log-inputs":
      return `log ${step.datasets.length} dataset input(s)`;
    case "copy-artifacts":
      return `copy ${step.files.length} ${step.scope === "run" ? "run" : "logged model"} artifact(s), ${step.files.reduce((n, f) => n + Number(f.file_size ?? 0), 0)} bytes`;
    case "finalize-logged-model":
      return "mark the logged model ready";
    case "log-outputs":
      return `link the run to the logged model (step ${step.step})`;
    case "end-run":
      return `end the run as ${step.status} (end time ${new Date(step.endTime).toISOString()})`;
    case "mark-run":
      return `tag the run ${step.tag.key}=${step.tag.value}`;
    case "verify":
      return "verify: artifact lists, sizes and sha256, params, metric point counts, MLmodel";
    case "create-registered-model":
      return `create registered model ${step.name}`;
    case "create-model-version":
      return `register a new version of ${step.name} from the copied ${step.source.kind === "logged-model" ? "logged model" : `run path ${step.source.path}`}`;
    case "set-alias":
      return `set alias ${step.alias} of ${step.name}`;
  }
}
