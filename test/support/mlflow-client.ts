/** A small MLflow REST client for tests and the live workload (no SDK: the REST API is the contract). */
export class MlflowRestError extends Error {
  readonly status: number;
  readonly errorCode: string | undefined;
  constructor(status: number, errorCode: string | undefined, message: string) {
    super(message);
    this.status = status;
    this.errorCode = errorCode;
  }
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

export class MlflowClient {
  readonly baseUrl: string;
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
  }

  async call<T = Record<string, unknown>>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const url = new URL(`${this.baseUrl}/api/2.0/mlflow/${path}`);
    let init: RequestInit = { method };
    if (method === "GET" && body) for (const [k, v] of Object.entries(body)) url.searchParams.set(k, String(v));
    else if (body !== undefined)
      init = { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
    const r = await fetchRetry(url, init);
    const text = await r.text();
    const json = text ? JSON.parse(text) : {};
    if (!r.ok)
      throw new MlflowRestError(r.status, json.error_code, `${method} ${path}: ${r.status} ${text.slice(0, 300)}`);
    return json as T;
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
    const url = `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${this.artifactPath(artifactUri, file)}`;
    const r = await fetchRetry(url, {
      method: "PUT",
      body: data,
      headers: { "content-type": "application/octet-stream" },
    });
    if (!r.ok) throw new MlflowRestError(r.status, undefined, `PUT artifact ${file}: ${r.status} ${await r.text()}`);
  }

  async downloadArtifact(artifactUri: string, file: string): Promise<Uint8Array> {
    const url = `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${this.artifactPath(artifactUri, file)}`;
    const r = await fetchRetry(url);
    if (!r.ok) throw new MlflowRestError(r.status, undefined, `GET artifact ${file}: ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  }

  async listArtifacts(artifactUri: string): Promise<Array<{ path: string; is_dir?: boolean; file_size?: number }>> {
    const path = artifactUri.replace(/^mlflow-artifacts:\/?/, "").replace(/^\/+/, "");
    const r = await fetchRetry(`${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(path)}`);
    if (!r.ok) throw new MlflowRestError(r.status, undefined, `list artifacts: ${r.status}`);
    return ((await r.json()) as { files?: Array<{ path: string; is_dir?: boolean; file_size?: number }> }).files ?? [];
  }
}
