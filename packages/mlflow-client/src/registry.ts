import type { MlflowClient } from "./client.ts";
import { MlflowRestError } from "./errors.ts";

/**
 * The tracking and registry calls a model promotion needs, as MLflow's REST API shapes them
 * (snake_case, as recorded). Reads return undefined for a missing object; writes throw
 * MlflowRestError. POSTs are sent once (no retry): a retried create can apply twice.
 */

export interface KeyValue {
  key: string;
  value: string;
}

export interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  /** MLflow 3: the logged model and dataset a metric belongs to. */
  model_id?: string;
  dataset_name?: string;
  dataset_digest?: string;
  run_id?: string;
}

export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status?: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: string;
}

export interface DatasetInput {
  tags?: KeyValue[];
  dataset: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string };
}

export interface Run {
  info: RunInfo;
  data: { params?: KeyValue[]; tags?: KeyValue[]; metrics?: MetricPoint[] };
  inputs?: { dataset_inputs?: DatasetInput[]; model_inputs?: Array<{ model_id: string }> };
  outputs?: { model_outputs?: Array<{ model_id: string; step: number }> };
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  tags?: KeyValue[];
}

export interface LoggedModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    artifact_uri: string;
    status?: string;
    model_type?: string;
    source_run_id?: string;
    creation_timestamp_ms?: number;
    tags?: KeyValue[];
  };
  data?: { params?: KeyValue[]; metrics?: MetricPoint[] };
}

export interface RegisteredModel {
  name: string;
  description?: string;
  tags?: KeyValue[];
  aliases?: Array<{ alias: string; version: string }>;
  creation_timestamp?: number;
}

export interface ModelVersion {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  model_id?: string;
  status?: string;
  description?: string;
  tags?: KeyValue[];
  aliases?: string[];
  creation_timestamp?: number;
  user_id?: string;
}

export interface ArtifactFile {
  path: string;
  is_dir?: boolean;
  file_size?: number;
}

const missing = (e: unknown) =>
  e instanceof MlflowRestError && (e.errorCode === "RESOURCE_DOES_NOT_EXIST" || e.status === 404);

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (missing(e)) return undefined;
    throw e;
  }
}

// --- reads ----------------------------------------------------------------------------

/** The server's MLflow version (GET /version; behind basic auth from 3.16 on). */
export async function serverVersion(client: MlflowClient): Promise<{ status: number; version: string }> {
  const r = await client.request("GET", "/version");
  return { status: r.status, version: r.text.trim() };
}

export async function getRegisteredModel(client: MlflowClient, name: string): Promise<RegisteredModel | undefined> {
  return orUndefined(
    client
      .call<{ registered_model: RegisteredModel }>("GET", "registered-models/get", { name })
      .then((r) => r.registered_model),
  );
}

export async function getModelVersion(
  client: MlflowClient,
  name: string,
  version: string,
): Promise<ModelVersion | undefined> {
  return orUndefined(
    client
      .call<{ model_version: ModelVersion }>("GET", "model-versions/get", { name, version })
      .then((r) => r.model_version),
  );
}

export async function getModelVersionByAlias(
  client: MlflowClient,
  name: string,
  alias: string,
): Promise<ModelVersion | undefined> {
  return orUndefined(
    client
      .call<{ model_version: ModelVersion }>("GET", "registered-models/alias", { name, alias })
      .then((r) => r.model_version),
  );
}

/** Every version matching an MLflow filter (`name='m' and tags.k='v'`), all pages. */
export async function searchModelVersions(client: MlflowClient, filter: string): Promise<ModelVersion[]> {
  const out: ModelVersion[] = [];
  let token: string | undefined;
  do {
    const r = await client.call<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
      "GET",
      "model-versions/search",
      { filter, max_results: 1000, ...(token ? { page_token: token } : {}) },
    );
    out.push(...(r.model_versions ?? []));
    token = r.next_page_token || undefined;
  } while (token);
  return out;
}

export async function getRunRecord(client: MlflowClient, runId: string): Promise<Run | undefined> {
  return orUndefined(client.call<{ run: Run }>("GET", "runs/get", { run_id: runId }).then((r) => r.run));
}

/** Runs of experiments matching a filter, all pages (deleted ones too when `viewType` says so). */
export async function searchRuns(
  client: MlflowClient,
  experimentIds: string[],
  filter: string,
  viewType: "ACTIVE_ONLY" | "ALL" = "ACTIVE_ONLY",
): Promise<Run[]> {
  const out: Run[] = [];
  let token: string | undefined;
  do {
    const r = await client.call<{ runs?: Run[]; next_page_token?: string }>("POST", "runs/search", {
      experiment_ids: experimentIds,
      filter,
      run_view_type: viewType,
      max_results: 1000,
      ...(token ? { page_token: token } : {}),
    });
    out.push(...(r.runs ?? []));
    token = r.next_page_token || undefined;
  } while (token);
  return out;
}

/** A metric's full history (every step and timestamp), all pages. */
export async function getMetricHistory(client: MlflowClient, runId: string, key: string): Promise<MetricPoint[]> {
  const out: MetricPoint[] = [];
  let token: string | undefined;
  do {
    const r = await client.call<{ metrics?: MetricPoint[]; next_page_token?: string }>("GET", "metrics/get-history", {
      run_id: runId,
      metric_key: key,
      max_results: 25_000,
      ...(token ? { page_token: token } : {}),
    });
    out.push(...(r.metrics ?? []));
    token = r.next_page_token || undefined;
  } while (token);
  return out;
}

export async function getExperiment(client: MlflowClient, experimentId: string): Promise<Experiment | undefined> {
  return orUndefined(
    client
      .call<{ experiment: Experiment }>("GET", "experiments/get", { experiment_id: experimentId })
      .then((r) => r.experiment),
  );
}

export async function getExperimentRecordByName(client: MlflowClient, name: string): Promise<Experiment | undefined> {
  return orUndefined(
    client
      .call<{ experiment: Experiment }>("GET", "experiments/get-by-name", { experiment_name: name })
      .then((r) => r.experiment),
  );
}

/** An MLflow 3 logged model (`m-...`). */
export async function getLoggedModel(client: MlflowClient, modelId: string): Promise<LoggedModel | undefined> {
  return orUndefined(
    client.call<{ model: LoggedModel }>("GET", `logged-models/${encodeURIComponent(modelId)}`).then((r) => r.model),
  );
}

/** Every file below an artifact root (`mlflow-artifacts:/...` or its path), walking directories. */
export async function listArtifactFiles(client: MlflowClient, root: string): Promise<ArtifactFile[]> {
  const base = root.replace(/^mlflow-artifacts:\/?/, "").replace(/^\/+/, "");
  const out: ArtifactFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    const r = await client.request("GET", "/api/2.0/mlflow-artifacts/artifacts", {
      query: { path: rel ? `${base}/${rel}` : base },
    });
    if (r.status !== 200)
      throw new MlflowRestError(
        r.status,
        undefined,
        `list artifacts ${rel || "/"}: HTTP ${r.status} ${r.text.slice(0, 300)}`,
      );
    for (const f of (r.json as { files?: ArtifactFile[] } | undefined)?.files ?? []) {
      const path = rel ? `${rel}/${f.path}` : f.path;
      if (f.is_dir) await walk(path);
      else out.push({ path, file_size: Number(f.file_size ?? 0) });
    }
  };
  await walk("");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

// --- writes ---------------------------------------------------------------------------

export async function createRegisteredModel(
  client: MlflowClient,
  name: string,
  options: { description?: string; tags?: KeyValue[] } = {},
): Promise<RegisteredModel> {
  return (
    await client.call<{ registered_model: RegisteredModel }>("POST", "registered-models/create", {
      name,
      ...(options.description ? { description: options.description } : {}),
      ...(options.tags?.length ? { tags: options.tags } : {}),
    })
  ).registered_model;
}

export async function createModelVersion(
  client: MlflowClient,
  request: {
    name: string;
    source: string;
    run_id?: string;
    model_id?: string;
    description?: string;
    tags?: KeyValue[];
  },
): Promise<ModelVersion> {
  return (await client.call<{ model_version: ModelVersion }>("POST", "model-versions/create", request)).model_version;
}

export async function setModelVersionTag(client: MlflowClient, name: string, version: string, tag: KeyValue) {
  await client.call("POST", "model-versions/set-tag", { name, version, ...tag });
}

export async function setRegisteredModelAlias(client: MlflowClient, name: string, alias: string, version: string) {
  await client.call("POST", "registered-models/alias", { name, alias, version });
}

/** params, tags and metrics of a run in one request (MLflow: at most 1000 items, 100 params, 100 tags). */
export async function logBatch(
  client: MlflowClient,
  runId: string,
  batch: { params?: KeyValue[]; tags?: KeyValue[]; metrics?: MetricPoint[] },
): Promise<void> {
  await client.call("POST", "runs/log-batch", {
    run_id: runId,
    params: batch.params ?? [],
    tags: batch.tags ?? [],
    metrics: (batch.metrics ?? []).map(({ run_id: _, ...m }) => m),
  });
}

export async function logInputs(client: MlflowClient, runId: string, datasets: DatasetInput[]): Promise<void> {
  await client.call("POST", "runs/log-inputs", { run_id: runId, datasets });
}

export async function logOutputs(
  client: MlflowClient,
  runId: string,
  models: Array<{ model_id: string; step: number }>,
): Promise<void> {
  await client.call("POST", "runs/outputs", { run_id: runId, models });
}

export async function setRunTag(client: MlflowClient, runId: string, tag: KeyValue): Promise<void> {
  await client.call("POST", "runs/set-tag", { run_id: runId, ...tag });
}

/** Soft delete (MLflow keeps the run as deleted until garbage collection). */
export async function deleteRun(client: MlflowClient, runId: string): Promise<void> {
  await client.call("POST", "runs/delete", { run_id: runId });
}

export async function createLoggedModel(
  client: MlflowClient,
  request: {
    experiment_id: string;
    name: string;
    model_type?: string;
    source_run_id?: string;
    params?: KeyValue[];
    tags?: KeyValue[];
  },
): Promise<LoggedModel> {
  return (await client.call<{ model: LoggedModel }>("POST", "logged-models", request)).model;
}

export async function finalizeLoggedModel(client: MlflowClient, modelId: string): Promise<void> {
  await client.call("PATCH", `logged-models/${encodeURIComponent(modelId)}`, {
    model_id: modelId,
    status: "LOGGED_MODEL_READY",
  });
}

export async function setLoggedModelTags(client: MlflowClient, modelId: string, tags: KeyValue[]): Promise<void> {
  await client.call("PATCH", `logged-models/${encodeURIComponent(modelId)}/tags`, { model_id: modelId, tags });
}
