import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/**
 * A small MLflow REST client (no SDK: the REST API is the contract). Used by the live parity
 * workload and by the integration tests.
 */
export class MlflowRestError extends Error {
  readonly status: number;
  readonly errorCode: string | undefined;
  constructor(status: number, errorCode: string | undefined, message: string) {
    super(message);
    this.name = "MlflowRestError";
    this.status = status;
    this.errorCode = errorCode;
  }
}

/** Basic-auth credentials (MLflow's basic-auth app). Never put them in a URL. */
export interface Credentials {
  username: string;
  password: string;
}

/** An address to connect to instead of the URL's host, like curl's --connect-to. */
export interface ConnectTo {
  host: string;
  port: number;
}

export interface ClientOptions {
  credentials?: Credentials;
  /**
   * Send every request to this address while the URL, and so the Host header and TLS server
   * name, stay as given (a load balancer before its DNS exists, an emulator's load balancer).
   */
  connectTo?: ConnectTo;
  /** Per-request timeout in milliseconds (default 120 s). */
  timeoutMs?: number;
}

/** A response as received: status, raw text and the parsed JSON body (undefined when not JSON). */
export interface RawResponse {
  status: number;
  text: string;
  json: unknown;
}

/** fetch that retries once when a pooled keep-alive socket was closed by a restarted server. */
async function fetchRetry(url: string | URL, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    if (code !== "UND_ERR_SOCKET" && code !== "ECONNRESET") throw e;
    return fetch(url, init);
  }
}

/** One HTTP exchange through node:http(s) to `to`, keeping the URL's Host. Transport errors reject like fetch. */
function sendTo(
  to: ConnectTo,
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: string | Uint8Array | undefined,
  timeoutMs: number,
): Promise<{ status: number; bytes: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(
      {
        host: to.host,
        port: to.port,
        method,
        path: `${url.pathname}${url.search}`,
        servername: url.hostname,
        headers: {
          ...headers,
          host: url.host,
          ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes: new Uint8Array(Buffer.concat(chunks)) }));
        res.on("error", (e) => reject(new TypeError("fetch failed", { cause: e })));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" })));
    req.on("error", (e) => reject(new TypeError("fetch failed", { cause: e })));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class MlflowClient {
  readonly baseUrl: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #connectTo: ConnectTo | undefined;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    const c = options.credentials;
    this.#headers = c
      ? { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}` }
      : {};
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#connectTo = options.connectTo;
  }

  async #send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body?: string | Uint8Array,
  ): Promise<{ status: number; bytes: Uint8Array }> {
    if (this.#connectTo) return sendTo(this.#connectTo, method, url, headers, body, this.#timeoutMs);
    const r = await fetchRetry(url, { method, headers, body, signal: AbortSignal.timeout(this.#timeoutMs) });
    return { status: r.status, bytes: new Uint8Array(await r.arrayBuffer()) };
  }

  /** Any request against the server, relative to its base URL (e.g. `/health`). Never throws on a status. */
  async request(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    options: { query?: Record<string, string | number | string[]>; json?: unknown; body?: Uint8Array } = {},
  ): Promise<RawResponse> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(options.query ?? {}))
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
    const headers: Record<string, string> = { ...this.#headers };
    let body: string | Uint8Array | undefined;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/octet-stream";
      body = options.body;
    }
    const r = await this.#send(method, url, headers, body);
    const text = new TextDecoder().decode(r.bytes);
    return { status: r.status, text, json: parseJson(text) };
  }

  /** A GET whose body is kept as bytes (artifact downloads). Never throws on a status. */
  async requestBytes(path: string): Promise<{ status: number; bytes: Uint8Array }> {
    return this.#send("GET", new URL(`${this.baseUrl}${path}`), { ...this.#headers });
  }

  /** GET/POST on the tracking API (`/api/2.0/mlflow/<path>`); throws MlflowRestError on an error status. */
  async call<T = Record<string, unknown>>(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, body?: unknown) {
    const r =
      method === "GET"
        ? await this.request("GET", `/api/2.0/mlflow/${path}`, {
            query: body ? (body as Record<string, string | number | string[]>) : {},
          })
        : await this.request(method, `/api/2.0/mlflow/${path}`, { json: body ?? {} });
    if (r.status < 200 || r.status >= 300)
      throw new MlflowRestError(
        r.status,
        (r.json as { error_code?: string } | undefined)?.error_code,
        `${method} ${path}: ${r.status} ${r.text.slice(0, 300)}`,
      );
    return (r.json ?? {}) as T;
  }

  async createExperiment(name: string): Promise<string> {
    return (await this.call<{ experiment_id: string }>("POST", "experiments/create", { name })).experiment_id;
  }

  async createRun(experimentId: string, runName: string): Promise<{ runId: string; artifactUri: string }> {
    const r = await this.call<{ run: { info: { run_id: string; artifact_uri: string } } }>("POST", "runs/create", {
      experiment_id: experimentId,
      run_name: runName,
      start_time: Date.now(),
    });
    return { runId: r.run.info.run_id, artifactUri: r.run.info.artifact_uri };
  }

  /** Path of a run artifact in the proxied artifact API, from its mlflow-artifacts:/ URI. */
  artifactPath(artifactUri: string, file: string): string {
    const base = artifactUri.replace(/^mlflow-artifacts:\/?/, "").replace(/^\/+/, "");
    return `${base}/${file}`;
  }

  async uploadArtifact(artifactUri: string, file: string, data: Uint8Array): Promise<void> {
    const r = await this.request("PUT", `/api/2.0/mlflow-artifacts/artifacts/${this.artifactPath(artifactUri, file)}`, {
      body: data,
    });
    if (r.status < 200 || r.status >= 300)
      throw new MlflowRestError(r.status, undefined, `PUT artifact ${file}: ${r.status} ${r.text.slice(0, 300)}`);
  }

  async downloadArtifact(artifactUri: string, file: string): Promise<Uint8Array> {
    const r = await this.requestBytes(`/api/2.0/mlflow-artifacts/artifacts/${this.artifactPath(artifactUri, file)}`);
    if (r.status < 200 || r.status >= 300)
      throw new MlflowRestError(r.status, undefined, `GET artifact ${file}: ${r.status}`);
    return r.bytes;
  }

  async listArtifacts(artifactUri: string): Promise<Array<{ path: string; is_dir?: boolean; file_size?: number }>> {
    const path = artifactUri.replace(/^mlflow-artifacts:\/?/, "").replace(/^\/+/, "");
    const r = await this.request("GET", "/api/2.0/mlflow-artifacts/artifacts", { query: { path } });
    if (r.status !== 200) throw new MlflowRestError(r.status, undefined, `list artifacts: ${r.status}`);
    return (r.json as { files?: Array<{ path: string; is_dir?: boolean; file_size?: number }> }).files ?? [];
  }
}
