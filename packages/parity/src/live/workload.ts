import { createHash } from "node:crypto";
import type { MlflowClient } from "./client.ts";
import type { StepResult, WorkloadResults } from "./results.ts";

/**
 * The live parity workload: the same MLflow traffic as the integration tests (experiments, runs,
 * params, metrics through log-batch, artifacts of several sizes through the artifact proxy, a
 * registered model with an alias, searches with filters and ordering), then a set of invalid
 * requests, then clean-up. Every response is recorded; nothing is judged here (see compare.ts).
 */

export interface WorkloadOptions {
  /** Unique per run and server; prefixes every name the workload creates. `[a-z0-9-]` only. */
  token: string;
  /** Sizes in bytes of the artifacts uploaded through the proxy. */
  artifactSizes?: readonly number[];
  /** Called after each step (progress output). */
  onStep?: (step: StepResult) => void;
}

export const DEFAULT_ARTIFACT_SIZES: readonly number[] = [0, 1, 1031, 1_048_579, 12_582_917];

/** Client-side times are fixed, so they compare equal on both servers. */
const BASE_TIME = 1_700_000_000_000;

type Method = "GET" | "POST" | "PATCH" | "DELETE";
type Json = Record<string, unknown>;

/** Deterministic bytes of a given size (the same on every run, so digests compare). */
export function artifactBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (size * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

class Recorder {
  readonly steps: StepResult[] = [];
  readonly #client: MlflowClient;
  readonly #onStep: ((s: StepResult) => void) | undefined;

  constructor(client: MlflowClient, onStep?: (s: StepResult) => void) {
    this.#client = client;
    this.#onStep = onStep;
  }

  #push(s: StepResult): void {
    this.steps.push(s);
    this.#onStep?.(s);
  }

  /** Skips the step when a value it needs is missing (an earlier step failed). */
  #missing(step: string, needs: Record<string, unknown>): boolean {
    const missing = Object.entries(needs).find(([, v]) => v === undefined);
    if (!missing) return false;
    this.#push({ step, skipped: `needs ${missing[0]}, which an earlier step did not produce` });
    return true;
  }

  /**
   * A tracking API call (`/api/2.0/mlflow/<path>`). Records status, error code and the body
   * (or what `keep` extracts from it); returns the body on success, undefined otherwise.
   */
  async api(
    step: string,
    method: Method,
    path: string,
    body: unknown,
    options: { needs?: Record<string, unknown>; keep?: (json: Json) => unknown; errorOnly?: boolean } = {},
  ): Promise<Json | undefined> {
    if (this.#missing(step, options.needs ?? {})) return undefined;
    try {
      const r =
        method === "GET"
          ? await retryTransport(() =>
              this.#client.request("GET", `/api/2.0/mlflow/${path}`, {
                query: (body ?? {}) as Record<string, string | number | string[]>,
              }),
            )
          : await this.#client.request(method, `/api/2.0/mlflow/${path}`, { json: body ?? {} });
      const json = (r.json ?? {}) as Json;
      const ok = r.status >= 200 && r.status < 300;
      const errorCode = typeof json.error_code === "string" ? json.error_code : undefined;
      this.#push({
        step,
        status: r.status,
        ...(errorCode ? { errorCode } : {}),
        ...(ok && !options.errorOnly ? { value: options.keep ? options.keep(json) : json } : {}),
      });
      return ok ? json : undefined;
    } catch (e) {
      this.#push({ step, failure: describeFailure(e) });
      return undefined;
    }
  }

  /** Any other observation (reads and idempotent PUTs): `run` returns the status and what to record. */
  async observe(
    step: string,
    needs: Record<string, unknown>,
    run: () => Promise<{ status?: number; value?: unknown; errorCode?: string }>,
  ): Promise<{ status?: number; value?: unknown } | undefined> {
    if (this.#missing(step, needs)) return undefined;
    try {
      const r = await retryTransport(run);
      this.#push({ step, ...r });
      return r;
    } catch (e) {
      this.#push({ step, failure: describeFailure(e) });
      return undefined;
    }
  }
}

/**
 * Reads and PUTs are retried twice on a transport failure (a server worker restarting drops its
 * connections); other writes are not, since a retried create could apply twice.
 */
async function retryTransport<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      // fetch reports a dropped connection as a TypeError; a timeout is not retried.
      if (attempt >= 3 || !(e instanceof TypeError)) throw e;
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

function describeFailure(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return `${err.message ?? String(e)}${cause ? ` (${cause})` : ""}`;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const at = (v: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Json)[k] : undefined), v);

/** Runs the workload against one server and returns everything it observed. */
export async function runWorkload(client: MlflowClient, options: WorkloadOptions): Promise<WorkloadResults> {
  const { token } = options;
  if (!/^[a-z0-9-]{4,40}$/.test(token)) throw new Error(`workload token "${token}" must be 4-40 chars of [a-z0-9-]`);
  const rec = new Recorder(client, options.onStep);
  const sizes = options.artifactSizes ?? DEFAULT_ARTIFACT_SIZES;

  // --- the server --------------------------------------------------------------
  await rec.observe("server: GET /health", {}, async () => {
    const r = await client.request("GET", "/health");
    return { status: r.status, value: r.text.trim() };
  });
  await rec.observe("server: GET /version (the MLflow version)", {}, async () => {
    const r = await client.request("GET", "/version");
    return { status: r.status, value: r.text.trim() };
  });

  // --- experiments -------------------------------------------------------------
  const mainName = `${token}-main`;
  const otherName = `${token}-other`;
  const created = await rec.api("experiments/create main", "POST", "experiments/create", {
    name: mainName,
    tags: [
      { key: "team", value: "ml-platform" },
      { key: "purpose", value: "parity" },
    ],
  });
  const expId = str(created?.experiment_id);
  const other = await rec.api("experiments/create other", "POST", "experiments/create", { name: otherName });
  const otherId = str(other?.experiment_id);
  await rec.api(
    "experiments/get main",
    "GET",
    "experiments/get",
    { experiment_id: expId ?? "" },
    {
      needs: { "the main experiment": expId },
    },
  );
  await rec.api("experiments/get-by-name main", "GET", "experiments/get-by-name", { experiment_name: mainName });
  await rec.api(
    "experiments/set-experiment-tag",
    "POST",
    "experiments/set-experiment-tag",
    { experiment_id: expId, key: "stage", value: "compared" },
    { needs: { "the main experiment": expId } },
  );
  await rec.api("experiments/search by name, ordered", "POST", "experiments/search", {
    filter: `name LIKE '${token}-%'`,
    order_by: ["name DESC"],
    max_results: 10,
  });

  // --- runs, params, metrics ---------------------------------------------------
  const runIds: Record<string, string | undefined> = {};
  const artifactUris: Record<string, string | undefined> = {};
  const runSpecs = [
    { name: "run-a", lr: "0.01", loss: 0.25, team: "ml" },
    { name: "run-b", lr: "0.1", loss: 0.75, team: "ml" },
    { name: "run-c", lr: "0.5", loss: 1.5, team: "research" },
  ];
  for (const [i, r] of runSpecs.entries()) {
    const run = await rec.api(
      `runs/create ${r.name}`,
      "POST",
      "runs/create",
      {
        experiment_id: expId,
        run_name: r.name,
        start_time: BASE_TIME + i * 1000,
        tags: [{ key: "team", value: r.team }],
      },
      { needs: { "the main experiment": expId } },
    );
    runIds[r.name] = str(at(run, "run", "info", "run_id"));
    artifactUris[r.name] = str(at(run, "run", "info", "artifact_uri"));
  }
  const runA = runIds["run-a"];
  await rec.api(
    "runs/log-batch run-a (100 metrics, params, tags)",
    "POST",
    "runs/log-batch",
    {
      run_id: runA,
      metrics: Array.from({ length: 100 }, (_, step) => ({
        key: "loss",
        value: 1 / (step + 1) + 0.24,
        timestamp: BASE_TIME + step,
        step,
      })),
      params: [
        { key: "lr", value: "0.01" },
        { key: "epochs", value: "100" },
      ],
      tags: [{ key: "stage", value: "train" }],
    },
    { needs: { "run-a": runA } },
  );
  for (const r of runSpecs.slice(1)) {
    const id = runIds[r.name];
    await rec.api(
      `runs/log-parameter ${r.name}`,
      "POST",
      "runs/log-parameter",
      { run_id: id, key: "lr", value: r.lr },
      {
        needs: { [r.name]: id },
      },
    );
    await rec.api(
      `runs/log-metric ${r.name}`,
      "POST",
      "runs/log-metric",
      { run_id: id, key: "loss", value: r.loss, timestamp: BASE_TIME, step: 0 },
      { needs: { [r.name]: id } },
    );
  }
  await rec.api(
    "runs/set-tag run-b",
    "POST",
    "runs/set-tag",
    { run_id: runIds["run-b"], key: "note", value: "x" },
    {
      needs: { "run-b": runIds["run-b"] },
    },
  );
  await rec.api(
    "runs/delete-tag run-b",
    "POST",
    "runs/delete-tag",
    { run_id: runIds["run-b"], key: "note" },
    {
      needs: { "run-b": runIds["run-b"] },
    },
  );
  for (const [i, r] of runSpecs.slice(0, 2).entries())
    await rec.api(
      `runs/update ${r.name} FINISHED`,
      "POST",
      "runs/update",
      { run_id: runIds[r.name], status: "FINISHED", end_time: BASE_TIME + 60_000 + i },
      { needs: { [r.name]: runIds[r.name] } },
    );
  await rec.api("runs/get run-a", "GET", "runs/get", { run_id: runA ?? "" }, { needs: { "run-a": runA } });
  await rec.api(
    "metrics/get-history run-a loss",
    "GET",
    "metrics/get-history",
    { run_id: runA ?? "", metric_key: "loss" },
    { needs: { "run-a": runA } },
  );

  // --- artifacts through the proxy ----------------------------------------------
  const uriA = artifactUris["run-a"];
  const base = uriA ? client.artifactPath(uriA, "") : undefined;
  for (const size of sizes) {
    await rec.observe(`artifacts: PUT sizes/${size}.bin`, { "run-a's artifact URI": uriA }, async () => {
      const r = await client.request("PUT", `/api/2.0/mlflow-artifacts/artifacts/${base}sizes/${size}.bin`, {
        body: artifactBytes(size),
      });
      return { status: r.status };
    });
  }
  await rec.observe("artifacts: PUT notes/readme.txt", { "run-a's artifact URI": uriA }, async () => {
    const r = await client.request("PUT", `/api/2.0/mlflow-artifacts/artifacts/${base}notes/readme.txt`, {
      body: new TextEncoder().encode("parity: the same bytes on both sides\n"),
    });
    return { status: r.status };
  });
  for (const dir of ["", "sizes"]) {
    await rec.observe(`artifacts: list ${dir || "(root)"}`, { "run-a's artifact URI": uriA }, async () => {
      const r = await client.request("GET", "/api/2.0/mlflow-artifacts/artifacts", {
        query: { path: `${base}${dir}`.replace(/\/$/, "") },
      });
      return { status: r.status, value: r.json };
    });
  }
  await rec.api(
    "artifacts/list run-a (tracking API)",
    "GET",
    "artifacts/list",
    { run_id: runA ?? "", path: "sizes" },
    { needs: { "run-a": runA } },
  );
  for (const size of sizes) {
    await rec.observe(`artifacts: GET sizes/${size}.bin`, { "run-a's artifact URI": uriA }, async () => {
      const r = await client.requestBytes(`/api/2.0/mlflow-artifacts/artifacts/${base}sizes/${size}.bin`);
      const expected = sha256(artifactBytes(size));
      const got = sha256(r.bytes);
      return { status: r.status, value: { bytes: r.bytes.length, sameAsUploaded: got === expected } };
    });
  }

  // --- a registered model with an alias ------------------------------------------
  const modelName = `${token}-model`;
  const model = await rec.api("registered-models/create", "POST", "registered-models/create", {
    name: modelName,
    description: "live parity",
    tags: [{ key: "owner", value: "ml-platform" }],
  });
  const modelOk = model ? modelName : undefined;
  const versions: (string | undefined)[] = [];
  for (const run of ["run-a", "run-b"]) {
    const mv = await rec.api(
      `model-versions/create from ${run}`,
      "POST",
      "model-versions/create",
      { name: modelName, source: `${artifactUris[run]}/model`, run_id: runIds[run] },
      { needs: { "the registered model": modelOk, [run]: runIds[run] } },
    );
    versions.push(str(at(mv, "model_version", "version")));
  }
  await rec.api(
    "registered-models/alias set champion",
    "POST",
    "registered-models/alias",
    { name: modelName, alias: "champion", version: versions[0] },
    { needs: { "model version 1": versions[0] } },
  );
  await rec.api(
    "registered-models/alias get champion",
    "GET",
    "registered-models/alias",
    { name: modelName, alias: "champion" },
    { needs: { "model version 1": versions[0] } },
  );
  await rec.api(
    "registered-models/get",
    "GET",
    "registered-models/get",
    { name: modelName },
    {
      needs: { "the registered model": modelOk },
    },
  );
  await rec.api(
    "model-versions/search by name",
    "GET",
    "model-versions/search",
    { filter: `name='${modelName}'`, order_by: ["version_number ASC"] },
    { needs: { "the registered model": modelOk } },
  );
  await rec.api("registered-models/search by prefix", "GET", "registered-models/search", {
    filter: `name LIKE '${token}-%'`,
    order_by: ["name ASC"],
  });

  // --- searches with filters and ordering ---------------------------------------
  const exps = { "the main experiment": expId };
  await rec.api(
    "runs/search metrics and params filter, ordered by metric",
    "POST",
    "runs/search",
    { experiment_ids: [expId], filter: "metrics.loss < 1 and params.lr = '0.01'", order_by: ["metrics.loss ASC"] },
    { needs: exps },
  );
  await rec.api(
    "runs/search metric range, ordered by metric desc",
    "POST",
    "runs/search",
    { experiment_ids: [expId], filter: "metrics.loss >= 0.25", order_by: ["metrics.loss DESC"] },
    { needs: exps },
  );
  await rec.api(
    "runs/search status and tag filter, ordered by start time",
    "POST",
    "runs/search",
    {
      experiment_ids: [expId],
      filter: "attributes.status = 'FINISHED' and tags.team = 'ml'",
      order_by: ["attributes.start_time DESC"],
    },
    { needs: exps },
  );
  await rec.api(
    "runs/search run name LIKE, ordered by param",
    "POST",
    "runs/search",
    { experiment_ids: [expId], filter: "attributes.run_name LIKE 'run-%'", order_by: ["params.lr DESC"] },
    { needs: exps },
  );
  const page1 = await rec.api(
    "runs/search page 1 of 2",
    "POST",
    "runs/search",
    { experiment_ids: [expId], max_results: 2, order_by: ["attributes.start_time ASC"] },
    { needs: exps },
  );
  await rec.api(
    "runs/search page 2 of 2",
    "POST",
    "runs/search",
    {
      experiment_ids: [expId],
      max_results: 2,
      order_by: ["attributes.start_time ASC"],
      page_token: str(page1?.next_page_token),
    },
    { needs: { ...exps, "a next_page_token from page 1": str(page1?.next_page_token) } },
  );
  await rec.api(
    "runs/search across experiments, deleted view excluded",
    "POST",
    "runs/search",
    { experiment_ids: [expId, otherId], run_view_type: "ACTIVE_ONLY", order_by: ["attributes.run_name ASC"] },
    { needs: { ...exps, "the other experiment": otherId } },
  );

  // --- error behaviour: status codes and error codes ----------------------------
  const err = { errorOnly: true } as const;
  await rec.api("error: experiments/get unknown id", "GET", "experiments/get", { experiment_id: "987654321" }, err);
  await rec.api("error: experiments/create duplicate name", "POST", "experiments/create", { name: mainName }, err);
  await rec.api("error: experiments/create without name", "POST", "experiments/create", {}, err);
  await rec.api("error: runs/get unknown id", "GET", "runs/get", { run_id: "0123456789abcdef0123456789abcdef" }, err);
  await rec.api("error: runs/create unknown experiment", "POST", "runs/create", { experiment_id: "987654321" }, err);
  await rec.api(
    "error: runs/log-parameter changes a logged value",
    "POST",
    "runs/log-parameter",
    { run_id: runA, key: "lr", value: "0.99" },
    { ...err, needs: { "run-a": runA } },
  );
  await rec.api(
    "error: runs/log-metric non-numeric value",
    "POST",
    "runs/log-metric",
    { run_id: runA, key: "loss", value: "not-a-number", timestamp: BASE_TIME, step: 0 },
    { ...err, needs: { "run-a": runA } },
  );
  await rec.api(
    "error: runs/log-batch over the metric limit",
    "POST",
    "runs/log-batch",
    {
      run_id: runA,
      metrics: Array.from({ length: 1001 }, (_, step) => ({ key: "m", value: step, timestamp: BASE_TIME, step })),
    },
    { ...err, needs: { "run-a": runA } },
  );
  await rec.api(
    "error: runs/search malformed filter",
    "POST",
    "runs/search",
    { experiment_ids: [expId], filter: "metrics.loss <<< 1" },
    { ...err, needs: exps },
  );
  await rec.api(
    "error: runs/search unknown order_by",
    "POST",
    "runs/search",
    { experiment_ids: [expId], order_by: ["nonsense.key ASC"] },
    { ...err, needs: exps },
  );
  await rec.api(
    "error: runs/update unknown run",
    "POST",
    "runs/update",
    { run_id: "0123456789abcdef0123456789abcdef", status: "FINISHED" },
    err,
  );
  await rec.api(
    "error: registered-models/get unknown",
    "GET",
    "registered-models/get",
    { name: `${token}-missing` },
    err,
  );
  await rec.api(
    "error: registered-models/create duplicate",
    "POST",
    "registered-models/create",
    { name: modelName },
    { ...err, needs: { "the registered model": modelOk } },
  );
  await rec.api(
    "error: registered-models/alias unknown alias",
    "GET",
    "registered-models/alias",
    { name: modelName, alias: "no-such-alias" },
    { ...err, needs: { "the registered model": modelOk } },
  );
  await rec.api(
    "error: model-versions/create for an unknown model",
    "POST",
    "model-versions/create",
    { name: `${token}-missing`, source: `${uriA}/model`, run_id: runA },
    { ...err, needs: { "run-a": runA } },
  );
  await rec.observe("error: artifacts GET a missing file", { "run-a's artifact URI": uriA }, async () => {
    const r = await client.requestBytes(`/api/2.0/mlflow-artifacts/artifacts/${base}no/such/file.bin`);
    return { status: r.status };
  });
  await rec.observe("error: an unknown API endpoint", {}, async () => {
    const r = await client.request("GET", "/api/2.0/mlflow/no-such-endpoint");
    return { status: r.status };
  });

  // --- clean-up (recorded too: delete behaviour is behaviour) ---------------------
  await rec.api(
    "registered-models/delete",
    "DELETE",
    "registered-models/delete",
    { name: modelName },
    {
      needs: { "the registered model": modelOk },
    },
  );
  await rec.api("experiments/delete main", "POST", "experiments/delete", { experiment_id: expId }, { needs: exps });
  await rec.api(
    "experiments/delete other",
    "POST",
    "experiments/delete",
    { experiment_id: otherId },
    {
      needs: { "the other experiment": otherId },
    },
  );
  await rec.api(
    "experiments/get main after delete",
    "GET",
    "experiments/get",
    { experiment_id: expId ?? "" },
    { needs: exps, keep: (j) => ({ lifecycle_stage: at(j, "experiment", "lifecycle_stage") }) },
  );

  return { format: 1, target: client.baseUrl, token, steps: rec.steps };
}
