import { MlflowRestError } from "./errors.ts";
import { DEFAULT_RETRY, isIdempotent, type RetryPolicy, withRetry } from "./retry.ts";
import { downloadToFile, type StreamedFile, uploadFromFile } from "./stream.ts";
import { type HttpResponse, type HttpTarget, send } from "./transport.ts";

/**
 * The MLflow REST client (no SDK: the REST API is the contract). The smoke test of a rollout,
 * live parity, the CLI's checks and the integration tests all talk to MLflow through it.
 */

/** Basic-auth credentials (MLflow's basic-auth app). Sent as a header, never put in a URL. */
export interface Credentials {
  username: string;
  password: string;
}

export interface ClientOptions {
  credentials?: Credentials;
  /** Dial this address instead of the URL's host (see HttpTarget.via); given as a target's `via` too. */
  via?: string;
  /** Per-request timeout in milliseconds (default 120 s). */
  timeoutMs?: number;
  /** How idempotent requests (GET, HEAD, PUT, OPTIONS) are retried (default DEFAULT_RETRY; false: never). */
  retry?: RetryPolicy | false;
}

export type Query = Record<string, string | number | readonly (string | number)[]>;

export interface RequestOptions {
  query?: Query;
  /** A JSON body (content-type application/json). */
  json?: unknown;
  /** Raw bytes (content-type application/octet-stream). */
  body?: Uint8Array;
  headers?: Record<string, string>;
  /** This request's retries (default: the client's for an idempotent method, none for others). */
  retry?: RetryPolicy | false;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A response as received: status, raw text and the parsed JSON body (undefined when not JSON). */
export interface RawResponse {
  status: number;
  text: string;
  json: unknown;
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
type Json = Record<string, unknown>;

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const ok = (status: number) => status >= 200 && status < 300;

/** An artifact's path below the proxied artifact API, from a run's `mlflow-artifacts:/` URI. */
export function artifactPath(artifactUri: string, file: string): string {
  const base = artifactUri.replace(/^mlflow-artifacts:\/?/, "").replace(/^\/+/, "");
  return `${base}/${file}`;
}

const artifactUrl = (path: string) =>
  `/api/2.0/mlflow-artifacts/artifacts/${path.split("/").map(encodeURIComponent).join("/")}`;

export class MlflowClient {
  /** The server's base URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly target: HttpTarget;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy | false;

  constructor(target: string | HttpTarget, options: ClientOptions = {}) {
    const t = typeof target === "string" ? { url: target } : target;
    const via = options.via ?? t.via;
    this.baseUrl = t.url.replace(/\/+$/, "");
    this.target = { url: this.baseUrl, ...(via ? { via } : {}) };
    const c = options.credentials;
    this.#headers = c
      ? { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}` }
      : {};
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#retry = options.retry ?? DEFAULT_RETRY;
  }

  /** Any request, relative to the base URL (e.g. `/health`); resolves with any status. */
  async exchange(method: Method, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {}))
      for (const item of Array.isArray(v) ? v : [v]) search.append(k, String(item));
    const headers: Record<string, string> = { ...this.#headers };
    let body: string | Uint8Array | undefined;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/octet-stream";
      body = options.body;
    }
    Object.assign(headers, options.headers);
    const query = search.size > 0 ? `?${search}` : "";
    const retry = options.retry ?? (isIdempotent(method) ? this.#retry : false);
    return withRetry(
      retry || undefined,
      () =>
        send(this.target, method, `${path}${query}`, {
          headers,
          ...(body !== undefined ? { body } : {}),
          timeoutMs: options.timeoutMs ?? this.#timeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      (r) => r.status,
      options.signal,
    );
  }

  /** Any request, relative to the base URL, its body decoded as text and JSON. Never throws on a status. */
  async request(method: Method, path: string, options: RequestOptions = {}): Promise<RawResponse> {
    const r = await this.exchange(method, path, options);
    const text = r.body.toString("utf8");
    return { status: r.status, text, json: parseJson(text) };
  }

  /** A GET whose body is kept as bytes (artifact downloads). Never throws on a status. */
  async requestBytes(path: string, options: RequestOptions = {}): Promise<{ status: number; bytes: Uint8Array }> {
    const r = await this.exchange("GET", path, options);
    return { status: r.status, bytes: new Uint8Array(r.body) };
  }

  /**
   * A call of the tracking API (`/api/2.0/mlflow/<path>`): a GET sends `body` as the query, other
   * methods as JSON. Throws MlflowRestError on a status outside 2xx.
   */
  async call<T = Json>(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    options: Pick<RequestOptions, "retry" | "timeoutMs" | "signal"> = {},
  ): Promise<T> {
    const r =
      method === "GET"
        ? await this.request("GET", `/api/2.0/mlflow/${path}`, { ...options, query: (body ?? {}) as Query })
        : await this.request(method, `/api/2.0/mlflow/${path}`, { ...options, json: body ?? {} });
    if (!ok(r.status))
      throw new MlflowRestError(
        r.status,
        (r.json as { error_code?: string } | undefined)?.error_code,
        `${method} ${path}: HTTP ${r.status} ${r.text.slice(0, 300)}`,
        `${this.baseUrl}/api/2.0/mlflow/${path}`,
      );
    return (r.json ?? {}) as T;
  }

  // --- the calls the smoke test, live parity and the tests share -------------------

  async createExperiment(name: string): Promise<string> {
    return (await this.call<{ experiment_id: string }>("POST", "experiments/create", { name })).experiment_id;
  }

  /** The experiment of that name, or undefined when there is none. */
  async getExperimentByName(
    name: string,
  ): Promise<{ experimentId: string; lifecycleStage: string | undefined } | undefined> {
    try {
      const r = await this.call<{ experiment?: { experiment_id?: string; lifecycle_stage?: string } }>(
        "GET",
        "experiments/get-by-name",
        { experiment_name: name },
      );
      const id = r.experiment?.experiment_id;
      return id ? { experimentId: id, lifecycleStage: r.experiment?.lifecycle_stage } : undefined;
    } catch (e) {
      if (e instanceof MlflowRestError && e.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw e;
    }
  }

  async restoreExperiment(experimentId: string): Promise<void> {
    await this.call("POST", "experiments/restore", { experiment_id: experimentId });
  }

  async createRun(
    experimentId: string,
    runName: string,
    options: { startTime?: number; tags?: Record<string, string> } = {},
  ): Promise<{ runId: string; artifactUri: string }> {
    const r = await this.call<{ run?: { info?: { run_id?: string; artifact_uri?: string } } }>("POST", "runs/create", {
      experiment_id: experimentId,
      run_name: runName,
      start_time: options.startTime ?? Date.now(),
      ...(options.tags ? { tags: Object.entries(options.tags).map(([key, value]) => ({ key, value })) } : {}),
    });
    return { runId: r.run?.info?.run_id ?? "", artifactUri: r.run?.info?.artifact_uri ?? "" };
  }

  async logMetric(runId: string, key: string, value: number, options: { timestamp?: number; step?: number } = {}) {
    await this.call("POST", "runs/log-metric", {
      run_id: runId,
      key,
      value,
      timestamp: options.timestamp ?? Date.now(),
      step: options.step ?? 0,
    });
  }

  /** The run's latest metrics, params and tags. */
  async getRun(runId: string): Promise<{
    info?: Json;
    data?: { metrics?: { key: string; value: number }[]; params?: { key: string; value: string }[] };
  }> {
    return (await this.call<{ run?: Json }>("GET", "runs/get", { run_id: runId })).run ?? {};
  }

  async updateRun(runId: string, status: "RUNNING" | "FINISHED" | "FAILED" | "KILLED", endTime = Date.now()) {
    await this.call("POST", "runs/update", { run_id: runId, status, end_time: endTime });
  }

  /** Path of a run artifact in the proxied artifact API, from its mlflow-artifacts:/ URI. */
  artifactPath(artifactUri: string, file: string): string {
    return artifactPath(artifactUri, file);
  }

  /** Uploads through the server's artifact proxy (PUT, so retried like a read). */
  async uploadArtifact(artifactUri: string, file: string, data: Uint8Array): Promise<void> {
    const r = await this.request("PUT", artifactUrl(artifactPath(artifactUri, file)), { body: data });
    if (!ok(r.status))
      throw new MlflowRestError(r.status, undefined, `PUT artifact ${file}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  }

  async downloadArtifact(artifactUri: string, file: string): Promise<Uint8Array> {
    const r = await this.requestBytes(artifactUrl(artifactPath(artifactUri, file)));
    if (!ok(r.status)) throw new MlflowRestError(r.status, undefined, `GET artifact ${file}: HTTP ${r.status}`);
    return r.bytes;
  }

  /**
   * Streams the artifact at `path` (below the proxied artifact API, as `artifactPath` gives it) into
   * `file`: its size and sha256. Connection failures are retried under the client's policy.
   */
  async downloadArtifactToFile(path: string, file: string): Promise<StreamedFile> {
    const r = await withRetry(
      this.#retry || undefined,
      () => downloadToFile(this.target, artifactUrl(path), file, this.#headers, this.#timeoutMs),
      (x) => ("status" in x ? x.status : 200),
    );
    if ("status" in r)
      throw new MlflowRestError(r.status, undefined, `GET artifact ${path}: HTTP ${r.status} ${r.text}`);
    return r;
  }

  /** Streams `file` to the artifact at `path` through the proxy (PUT): the size and sha256 sent. */
  async uploadArtifactFromFile(path: string, file: string): Promise<StreamedFile> {
    const r = await withRetry(
      this.#retry || undefined,
      () => uploadFromFile(this.target, artifactUrl(path), file, this.#headers, this.#timeoutMs),
      (x) => x.status,
    );
    if (!ok(r.status))
      throw new MlflowRestError(r.status, undefined, `PUT artifact ${path}: HTTP ${r.status} ${r.text}`);
    return r.sent;
  }

  async listArtifacts(artifactUri: string): Promise<Array<{ path: string; is_dir?: boolean; file_size?: number }>> {
    const path = artifactUri.replace(/^mlflow-artifacts:\/?/, "").replace(/^\/+/, "");
    const r = await this.request("GET", "/api/2.0/mlflow-artifacts/artifacts", { query: { path } });
    if (r.status !== 200) throw new MlflowRestError(r.status, undefined, `list artifacts: HTTP ${r.status}`);
    return (r.json as { files?: Array<{ path: string; is_dir?: boolean; file_size?: number }> }).files ?? [];
  }
}
