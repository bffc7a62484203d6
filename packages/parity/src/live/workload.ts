import { createHash } from "node:crypto";
import { artifactPath, type MlflowClient, type RetryPolicy } from "@mlflow-dev/mlflow-client";
import type { StepResult, WorkloadResults } from "./results.ts";

/**
 * The live parity workload: the same MLflow traffic as the integration tests (experiments, runs,
 * params, metrics through log-batch, artifacts of several sizes through the artifact proxy, a
 * registered model with an alias, searches with filters and ordering), then a set of invalid
 * requests, then clean-up. Every response is recorded; nothing is judged here (see compare.ts).
 *
 * The workload is a table of steps (`workloadSteps`), run in order. A step names what it needs
 * from earlier steps (it is recorded as skipped when one did not produce it), sends one request,
 * records what it observed, and may leave a value for later steps in the shared state.
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

/**
 * Reads and PUTs are retried twice on a transport failure (a server worker restarting drops its
 * connections); other writes are not, since a retried create could apply twice. A timeout is not
 * retried.
 */
const READ_RETRY: RetryPolicy = { attempts: 3, delayMs: 1000 };

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
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const at = (v: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Json)[k] : undefined), v);

/** What the steps leave for later steps. */
export interface WorkloadState {
  readonly token: string;
  experiments: { main?: string; other?: string };
  runs: Record<string, { id?: string; artifactUri?: string }>;
  /** The registered model's name, once created. */
  model?: string;
  /** Model versions by the run they were created from. */
  versions: Record<string, string | undefined>;
  nextPageToken?: string;
}

/** An observation: the status and what to record. */
interface Observation {
  status?: number;
  value?: unknown;
  errorCode?: string;
}

export interface WorkloadStep {
  /** Stable name, the key the comparison matches on. */
  name: string;
  /** Values from earlier steps, by what they are called in a skip message (undefined: not produced). */
  needs?: (s: WorkloadState) => Record<string, unknown>;
  /** Sends the request and returns what to record, and the response body for `produces`. */
  run: (client: MlflowClient, s: WorkloadState) => Promise<Observation & { ok?: boolean; json?: Json }>;
  /** Leaves what later steps need in the state (called with undefined when the step failed). */
  produces?: (s: WorkloadState, json: Json | undefined) => void;
}

interface ApiStep {
  needs?: (s: WorkloadState) => Record<string, unknown>;
  /** What is recorded of a 2xx body (default: the whole body). */
  records?: (json: Json) => unknown;
  /** Record status and error code only: a step that is expected to fail. */
  errorOnly?: boolean;
  produces?: (s: WorkloadState, json: Json | undefined) => void;
}

/**
 * A tracking API call (`/api/2.0/mlflow/<path>`): a GET sends `body` as the query, other methods
 * as JSON. Records status, error code and the body (or what `records` extracts from it).
 */
function api(
  name: string,
  method: Method,
  path: string,
  body: (s: WorkloadState) => unknown,
  options: ApiStep = {},
): WorkloadStep {
  return {
    name,
    ...(options.needs ? { needs: options.needs } : {}),
    ...(options.produces ? { produces: options.produces } : {}),
    run: async (client, s) => {
      const url = `/api/2.0/mlflow/${path}`;
      const r =
        method === "GET"
          ? await client.request("GET", url, { query: (body(s) ?? {}) as Record<string, string>, retry: READ_RETRY })
          : await client.request(method, url, { json: body(s) ?? {}, retry: false });
      const json = (r.json ?? {}) as Json;
      const ok = r.status >= 200 && r.status < 300;
      const errorCode = typeof json.error_code === "string" ? json.error_code : undefined;
      return {
        status: r.status,
        ...(errorCode ? { errorCode } : {}),
        ...(ok && !options.errorOnly ? { value: options.records ? options.records(json) : json } : {}),
        ok,
        json,
      };
    },
  };
}

/** Any other request (reads and idempotent PUTs, retried like reads): `run` returns what to record. */
function observe(
  name: string,
  needs: ((s: WorkloadState) => Record<string, unknown>) | undefined,
  run: (client: MlflowClient, s: WorkloadState) => Promise<Observation>,
): WorkloadStep {
  return { name, ...(needs ? { needs } : {}), run };
}

const main = (s: WorkloadState) => ({ "the main experiment": s.experiments.main });
const run = (name: string) => (s: WorkloadState) => ({ [name]: s.runs[name]?.id });
const runId = (s: WorkloadState, name: string) => s.runs[name]?.id;
const uriA = (s: WorkloadState) => ({ "run-a's artifact URI": s.runs["run-a"]?.artifactUri });
/** run-a's artifact directory below the proxied artifact API, ending in `/`. */
const artifactsA = (s: WorkloadState) => artifactPath(s.runs["run-a"]?.artifactUri ?? "", "");
const model = (s: WorkloadState) => ({ "the registered model": s.model });
const version1 = (s: WorkloadState) => ({ "model version 1": s.versions["run-a"] });
const modelName = (s: WorkloadState) => `${s.token}-model`;
const proxied = (path: string) => `/api/2.0/mlflow-artifacts/artifacts/${path}`;

const RUNS = [
  { name: "run-a", lr: "0.01", loss: 0.25, team: "ml" },
  { name: "run-b", lr: "0.1", loss: 0.75, team: "ml" },
  { name: "run-c", lr: "0.5", loss: 1.5, team: "research" },
];

/** The workload, step by step, in the order it runs. */
export function workloadSteps(sizes: readonly number[] = DEFAULT_ARTIFACT_SIZES): WorkloadStep[] {
  const err = { errorOnly: true } as const;
  return [
    // --- the server --------------------------------------------------------------
    observe("server: GET /health", undefined, async (c) => {
      const r = await c.request("GET", "/health", { retry: READ_RETRY });
      return { status: r.status, value: r.text.trim() };
    }),
    observe("server: GET /version (the MLflow version)", undefined, async (c) => {
      const r = await c.request("GET", "/version", { retry: READ_RETRY });
      return { status: r.status, value: r.text.trim() };
    }),

    // --- experiments -------------------------------------------------------------
    api(
      "experiments/create main",
      "POST",
      "experiments/create",
      (s) => ({
        name: `${s.token}-main`,
        tags: [
          { key: "team", value: "ml-platform" },
          { key: "purpose", value: "parity" },
        ],
      }),
      { produces: (s, json) => (s.experiments.main = str(json?.experiment_id)) },
    ),
    api("experiments/create other", "POST", "experiments/create", (s) => ({ name: `${s.token}-other` }), {
      produces: (s, json) => (s.experiments.other = str(json?.experiment_id)),
    }),
    api("experiments/get main", "GET", "experiments/get", (s) => ({ experiment_id: s.experiments.main ?? "" }), {
      needs: main,
    }),
    api("experiments/get-by-name main", "GET", "experiments/get-by-name", (s) => ({
      experiment_name: `${s.token}-main`,
    })),
    api(
      "experiments/set-experiment-tag",
      "POST",
      "experiments/set-experiment-tag",
      (s) => ({ experiment_id: s.experiments.main, key: "stage", value: "compared" }),
      { needs: main },
    ),
    api("experiments/search by name, ordered", "POST", "experiments/search", (s) => ({
      filter: `name LIKE '${s.token}-%'`,
      order_by: ["name DESC"],
      max_results: 10,
    })),

    // --- runs, params, metrics ---------------------------------------------------
    ...RUNS.map((r, i) =>
      api(
        `runs/create ${r.name}`,
        "POST",
        "runs/create",
        (s) => ({
          experiment_id: s.experiments.main,
          run_name: r.name,
          start_time: BASE_TIME + i * 1000,
          tags: [{ key: "team", value: r.team }],
        }),
        {
          needs: main,
          produces: (s, json) =>
            (s.runs[r.name] = {
              id: str(at(json, "run", "info", "run_id")),
              artifactUri: str(at(json, "run", "info", "artifact_uri")),
            }),
        },
      ),
    ),
    api(
      "runs/log-batch run-a (100 metrics, params, tags)",
      "POST",
      "runs/log-batch",
      (s) => ({
        run_id: runId(s, "run-a"),
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
      }),
      { needs: run("run-a") },
    ),
    ...RUNS.slice(1).flatMap((r) => [
      api(
        `runs/log-parameter ${r.name}`,
        "POST",
        "runs/log-parameter",
        (s) => ({ run_id: runId(s, r.name), key: "lr", value: r.lr }),
        { needs: run(r.name) },
      ),
      api(
        `runs/log-metric ${r.name}`,
        "POST",
        "runs/log-metric",
        (s) => ({ run_id: runId(s, r.name), key: "loss", value: r.loss, timestamp: BASE_TIME, step: 0 }),
        { needs: run(r.name) },
      ),
    ]),
    api("runs/set-tag run-b", "POST", "runs/set-tag", (s) => ({ run_id: runId(s, "run-b"), key: "note", value: "x" }), {
      needs: run("run-b"),
    }),
    api("runs/delete-tag run-b", "POST", "runs/delete-tag", (s) => ({ run_id: runId(s, "run-b"), key: "note" }), {
      needs: run("run-b"),
    }),
    ...RUNS.slice(0, 2).map((r, i) =>
      api(
        `runs/update ${r.name} FINISHED`,
        "POST",
        "runs/update",
        (s) => ({ run_id: runId(s, r.name), status: "FINISHED", end_time: BASE_TIME + 60_000 + i }),
        { needs: run(r.name) },
      ),
    ),
    api("runs/get run-a", "GET", "runs/get", (s) => ({ run_id: runId(s, "run-a") ?? "" }), { needs: run("run-a") }),
    api(
      "metrics/get-history run-a loss",
      "GET",
      "metrics/get-history",
      (s) => ({ run_id: runId(s, "run-a") ?? "", metric_key: "loss" }),
      { needs: run("run-a") },
    ),

    // --- artifacts through the proxy ----------------------------------------------
    ...sizes.map((size) =>
      observe(`artifacts: PUT sizes/${size}.bin`, uriA, async (c, s) => {
        const r = await c.request("PUT", proxied(`${artifactsA(s)}sizes/${size}.bin`), {
          body: artifactBytes(size),
          retry: READ_RETRY,
        });
        return { status: r.status };
      }),
    ),
    observe("artifacts: PUT notes/readme.txt", uriA, async (c, s) => {
      const r = await c.request("PUT", proxied(`${artifactsA(s)}notes/readme.txt`), {
        body: new TextEncoder().encode("parity: the same bytes on both sides\n"),
        retry: READ_RETRY,
      });
      return { status: r.status };
    }),
    ...["", "sizes"].map((dir) =>
      observe(`artifacts: list ${dir || "(root)"}`, uriA, async (c, s) => {
        const r = await c.request("GET", "/api/2.0/mlflow-artifacts/artifacts", {
          query: { path: `${artifactsA(s)}${dir}`.replace(/\/$/, "") },
          retry: READ_RETRY,
        });
        return { status: r.status, value: r.json };
      }),
    ),
    api(
      "artifacts/list run-a (tracking API)",
      "GET",
      "artifacts/list",
      (s) => ({
        run_id: runId(s, "run-a") ?? "",
        path: "sizes",
      }),
      { needs: run("run-a") },
    ),
    ...sizes.map((size) =>
      observe(`artifacts: GET sizes/${size}.bin`, uriA, async (c, s) => {
        const r = await c.requestBytes(proxied(`${artifactsA(s)}sizes/${size}.bin`), { retry: READ_RETRY });
        const sameAsUploaded = sha256(r.bytes) === sha256(artifactBytes(size));
        return { status: r.status, value: { bytes: r.bytes.length, sameAsUploaded } };
      }),
    ),

    // --- a registered model with an alias ------------------------------------------
    api(
      "registered-models/create",
      "POST",
      "registered-models/create",
      (s) => ({ name: modelName(s), description: "live parity", tags: [{ key: "owner", value: "ml-platform" }] }),
      { produces: (s, json) => (s.model = json ? modelName(s) : undefined) },
    ),
    ...["run-a", "run-b"].map((r) =>
      api(
        `model-versions/create from ${r}`,
        "POST",
        "model-versions/create",
        (s) => ({ name: modelName(s), source: `${s.runs[r]?.artifactUri}/model`, run_id: runId(s, r) }),
        {
          needs: (s) => ({ "the registered model": s.model, [r]: runId(s, r) }),
          produces: (s, json) => (s.versions[r] = str(at(json, "model_version", "version"))),
        },
      ),
    ),
    api(
      "registered-models/alias set champion",
      "POST",
      "registered-models/alias",
      (s) => ({ name: modelName(s), alias: "champion", version: s.versions["run-a"] }),
      { needs: version1 },
    ),
    api(
      "registered-models/alias get champion",
      "GET",
      "registered-models/alias",
      (s) => ({ name: modelName(s), alias: "champion" }),
      { needs: version1 },
    ),
    api("registered-models/get", "GET", "registered-models/get", (s) => ({ name: modelName(s) }), { needs: model }),
    api(
      "model-versions/search by name",
      "GET",
      "model-versions/search",
      (s) => ({ filter: `name='${modelName(s)}'`, order_by: ["version_number ASC"] }),
      { needs: model },
    ),
    api("registered-models/search by prefix", "GET", "registered-models/search", (s) => ({
      filter: `name LIKE '${s.token}-%'`,
      order_by: ["name ASC"],
    })),

    // --- searches with filters and ordering ---------------------------------------
    ...(
      [
        ["metrics and params filter, ordered by metric", "metrics.loss < 1 and params.lr = '0.01'", "metrics.loss ASC"],
        ["metric range, ordered by metric desc", "metrics.loss >= 0.25", "metrics.loss DESC"],
        [
          "status and tag filter, ordered by start time",
          "attributes.status = 'FINISHED' and tags.team = 'ml'",
          "attributes.start_time DESC",
        ],
        ["run name LIKE, ordered by param", "attributes.run_name LIKE 'run-%'", "params.lr DESC"],
      ] as const
    ).map(([what, filter, order]) =>
      api(
        `runs/search ${what}`,
        "POST",
        "runs/search",
        (s) => ({ experiment_ids: [s.experiments.main], filter, order_by: [order] }),
        { needs: main },
      ),
    ),
    api(
      "runs/search page 1 of 2",
      "POST",
      "runs/search",
      (s) => ({ experiment_ids: [s.experiments.main], max_results: 2, order_by: ["attributes.start_time ASC"] }),
      { needs: main, produces: (s, json) => (s.nextPageToken = str(json?.next_page_token)) },
    ),
    api(
      "runs/search page 2 of 2",
      "POST",
      "runs/search",
      (s) => ({
        experiment_ids: [s.experiments.main],
        max_results: 2,
        order_by: ["attributes.start_time ASC"],
        page_token: s.nextPageToken,
      }),
      { needs: (s) => ({ ...main(s), "a next_page_token from page 1": s.nextPageToken }) },
    ),
    api(
      "runs/search across experiments, deleted view excluded",
      "POST",
      "runs/search",
      (s) => ({
        experiment_ids: [s.experiments.main, s.experiments.other],
        run_view_type: "ACTIVE_ONLY",
        order_by: ["attributes.run_name ASC"],
      }),
      { needs: (s) => ({ ...main(s), "the other experiment": s.experiments.other }) },
    ),

    // --- error behaviour: status codes and error codes ----------------------------
    api("error: experiments/get unknown id", "GET", "experiments/get", () => ({ experiment_id: "987654321" }), err),
    api(
      "error: experiments/create duplicate name",
      "POST",
      "experiments/create",
      (s) => ({ name: `${s.token}-main` }),
      err,
    ),
    api("error: experiments/create without name", "POST", "experiments/create", () => ({}), err),
    api("error: runs/get unknown id", "GET", "runs/get", () => ({ run_id: "0123456789abcdef0123456789abcdef" }), err),
    api("error: runs/create unknown experiment", "POST", "runs/create", () => ({ experiment_id: "987654321" }), err),
    api(
      "error: runs/log-parameter changes a logged value",
      "POST",
      "runs/log-parameter",
      (s) => ({ run_id: runId(s, "run-a"), key: "lr", value: "0.99" }),
      { ...err, needs: run("run-a") },
    ),
    api(
      "error: runs/log-metric non-numeric value",
      "POST",
      "runs/log-metric",
      (s) => ({ run_id: runId(s, "run-a"), key: "loss", value: "not-a-number", timestamp: BASE_TIME, step: 0 }),
      { ...err, needs: run("run-a") },
    ),
    api(
      "error: runs/log-batch over the metric limit",
      "POST",
      "runs/log-batch",
      (s) => ({
        run_id: runId(s, "run-a"),
        metrics: Array.from({ length: 1001 }, (_, step) => ({ key: "m", value: step, timestamp: BASE_TIME, step })),
      }),
      { ...err, needs: run("run-a") },
    ),
    api(
      "error: runs/search malformed filter",
      "POST",
      "runs/search",
      (s) => ({ experiment_ids: [s.experiments.main], filter: "metrics.loss <<< 1" }),
      { ...err, needs: main },
    ),
    api(
      "error: runs/search unknown order_by",
      "POST",
      "runs/search",
      (s) => ({ experiment_ids: [s.experiments.main], order_by: ["nonsense.key ASC"] }),
      { ...err, needs: main },
    ),
    api(
      "error: runs/update unknown run",
      "POST",
      "runs/update",
      () => ({ run_id: "0123456789abcdef0123456789abcdef", status: "FINISHED" }),
      err,
    ),
    api(
      "error: registered-models/get unknown",
      "GET",
      "registered-models/get",
      (s) => ({ name: `${s.token}-missing` }),
      err,
    ),
    api(
      "error: registered-models/create duplicate",
      "POST",
      "registered-models/create",
      (s) => ({ name: modelName(s) }),
      {
        ...err,
        needs: model,
      },
    ),
    api(
      "error: registered-models/alias unknown alias",
      "GET",
      "registered-models/alias",
      (s) => ({ name: modelName(s), alias: "no-such-alias" }),
      { ...err, needs: model },
    ),
    api(
      "error: model-versions/create for an unknown model",
      "POST",
      "model-versions/create",
      (s) => ({
        name: `${s.token}-missing`,
        source: `${s.runs["run-a"]?.artifactUri}/model`,
        run_id: runId(s, "run-a"),
      }),
      { ...err, needs: run("run-a") },
    ),
    observe("error: artifacts GET a missing file", uriA, async (c, s) => {
      const r = await c.requestBytes(proxied(`${artifactsA(s)}no/such/file.bin`), { retry: READ_RETRY });
      return { status: r.status };
    }),
    observe("error: an unknown API endpoint", undefined, async (c) => {
      const r = await c.request("GET", "/api/2.0/mlflow/no-such-endpoint", { retry: READ_RETRY });
      return { status: r.status };
    }),

    // --- clean-up (recorded too: delete behaviour is behaviour) ---------------------
    api("registered-models/delete", "DELETE", "registered-models/delete", (s) => ({ name: modelName(s) }), {
      needs: model,
    }),
    api("experiments/delete main", "POST", "experiments/delete", (s) => ({ experiment_id: s.experiments.main }), {
      needs: main,
    }),
    api("experiments/delete other", "POST", "experiments/delete", (s) => ({ experiment_id: s.experiments.other }), {
      needs: (s) => ({ "the other experiment": s.experiments.other }),
    }),
    api(
      "experiments/get main after delete",
      "GET",
      "experiments/get",
      (s) => ({ experiment_id: s.experiments.main ?? "" }),
      { needs: main, records: (j) => ({ lifecycle_stage: at(j, "experiment", "lifecycle_stage") }) },
    ),
  ];
}

function describeFailure(e: unknown): string {
  const err = e as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  const cause = err.code ?? err.cause?.code ?? err.cause?.message;
  return `${err.message ?? String(e)}${cause ? ` (${cause})` : ""}`;
}

/** Runs one step: skipped when it lacks what it needs, a failure when no answer came. */
async function runStep(step: WorkloadStep, client: MlflowClient, state: WorkloadState): Promise<StepResult> {
  const missing = Object.entries(step.needs?.(state) ?? {}).find(([, v]) => v === undefined);
  if (missing) {
    step.produces?.(state, undefined);
    return { step: step.name, skipped: `needs ${missing[0]}, which an earlier step did not produce` };
  }
  try {
    const { ok, json, ...observed } = await step.run(client, state);
    step.produces?.(state, ok ? json : undefined);
    return { step: step.name, ...observed };
  } catch (e) {
    step.produces?.(state, undefined);
    return { step: step.name, failure: describeFailure(e) };
  }
}

/** Runs the workload against one server and returns everything it observed. */
export async function runWorkload(client: MlflowClient, options: WorkloadOptions): Promise<WorkloadResults> {
  const { token } = options;
  if (!/^[a-z0-9-]{4,40}$/.test(token)) throw new Error(`workload token "${token}" must be 4-40 chars of [a-z0-9-]`);
  const state: WorkloadState = { token, experiments: {}, runs: {}, versions: {} };
  const steps: StepResult[] = [];
  for (const step of workloadSteps(options.artifactSizes ?? DEFAULT_ARTIFACT_SIZES)) {
    const result = await runStep(step, client, state);
    steps.push(result);
    options.onStep?.(result);
  }
  return { format: 1, target: client.baseUrl, token, steps };
}
