import { randomBytes } from "node:crypto";
import type { AwsModel } from "../aws-model.ts";
import { DeployError } from "./errors.ts";
import { type HttpResponse, type HttpTarget, send } from "./http.ts";
import { type Reporter, sleep } from "./report.ts";

/**
 * The smoke test of a rollout, against the service endpoint: /health, then a tracking round trip
 * through the REST API (experiment, run, metric) and an artifact uploaded through the server's
 * artifact proxy and read back.
 */

export const SMOKE_EXPERIMENT = "mlflow-dev-smoke-test";

export interface SmokeResult {
  url: string;
  experimentId: string;
  runId: string;
  /** The artifact as the proxy serves it, relative to /api/2.0/mlflow-artifacts/artifacts/. */
  artifactPath?: string;
  /** The object the artifact became in the bucket: s3://bucket/prefix/<experiment>/<run>/artifacts/<file>. */
  artifactObject?: string;
}

export interface SmokeOptions {
  report: Reporter;
  /** How long /health may take to answer 200 (the load balancer registers the task first). */
  healthTimeoutMs: number;
  pollMs: number;
  /** Basic-auth credentials when the server runs MLflow's basic-auth app. */
  auth?: { user: string; password: string };
}

class SmokeFailure extends Error {}

/** How long a server may answer the health check with a definite non-200 before it counts as failed. */
const DEFINITIVE_MS = 30_000;

/** A response body in one short line: text without markup, at most 120 characters. */
function summarizeBody(body: Buffer): string {
  const text = body
    .toString("utf8")
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return text ? `: ${text.length > 120 ? `${text.slice(0, 119)}…` : text}` : "";
}

/** A load balancer answers 502-504 while a target restarts a worker: those, and dropped connections, are retried. */
const TRANSIENT = new Set([502, 503, 504]);

async function sendRetrying(
  target: HttpTarget,
  method: string,
  path: string,
  options: Parameters<typeof send>[3],
  retryForMs: number,
  pollMs: number,
): Promise<HttpResponse> {
  const deadline = Date.now() + retryForMs;
  for (;;) {
    try {
      const r = await send(target, method, path, options);
      if (!TRANSIENT.has(r.status) || Date.now() > deadline) return r;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await sleep(pollMs);
  }
}

/** Waits for GET <healthPath> to answer 200. */
export async function waitForHealth(
  target: HttpTarget,
  model: AwsModel,
  options: Pick<SmokeOptions, "healthTimeoutMs" | "pollMs">,
): Promise<void> {
  const t0 = Date.now();
  const deadline = t0 + options.healthTimeoutMs;
  let last = "";
  // The server answering something else than 200 (not a load balancer's 502-504) is an answer:
  // give it DEFINITIVE_MS to change its mind, not the whole timeout.
  let answeringSince: number | undefined;
  for (;;) {
    try {
      const r = await send(target, "GET", model.mlflow.healthPath, { timeoutMs: 10_000 });
      if (r.status === 200) return;
      last = `HTTP ${r.status}${summarizeBody(r.body)}`;
      if (TRANSIENT.has(r.status)) answeringSince = undefined;
      else answeringSince ??= Date.now();
    } catch (e) {
      last = (e as Error).message;
      answeringSince = undefined;
    }
    const now = Date.now();
    if (now > deadline || (answeringSince !== undefined && now - answeringSince > DEFINITIVE_MS))
      throw new DeployError(
        `GET ${target.url}${model.mlflow.healthPath} did not answer 200 within ${Math.round((now - t0) / 1000)}s (last: ${last})`,
      );
    await sleep(options.pollMs);
  }
}

/** How long one call of the round trip may keep getting 502-504 or a dropped connection. */
const RETRY_MS = 60_000;

export async function smokeTest(target: HttpTarget, model: AwsModel, options: SmokeOptions): Promise<SmokeResult> {
  const { report } = options;
  await waitForHealth(target, model, options);
  report.info(`GET ${model.mlflow.healthPath}: 200`);
  const headers: Record<string, string> = options.auth
    ? { authorization: `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString("base64")}` }
    : {};
  const api = async (method: "GET" | "POST", path: string, body?: unknown): Promise<Record<string, unknown>> => {
    let r: HttpResponse;
    let url = `/api/2.0/mlflow/${path}`;
    if (method === "GET" && body) url += `?${new URLSearchParams(body as Record<string, string>)}`;
    try {
      r = await sendRetrying(
        target,
        method,
        url,
        {
          headers: { ...headers, ...(method === "POST" ? { "content-type": "application/json" } : {}) },
          ...(method === "POST" ? { body: JSON.stringify(body ?? {}) } : {}),
        },
        RETRY_MS,
        options.pollMs,
      );
    } catch (e) {
      throw new SmokeFailure(`${method} ${url}: ${(e as Error).message}`);
    }
    const text = r.body.toString("utf8");
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = { raw: text.slice(0, 200) };
    }
    if (r.status !== 200)
      throw Object.assign(new SmokeFailure(`${method} ${url}: HTTP ${r.status} ${text.slice(0, 300)}`), {
        errorCode: json.error_code,
      });
    return json;
  };

  try {
    const experimentId = await smokeExperiment(api);
    const started = Date.now();
    const created = (await api("POST", "runs/create", {
      experiment_id: experimentId,
      run_name: `promote-${new Date(started).toISOString()}`,
      start_time: started,
      tags: [{ key: "mlflow-dev.smoke-test", value: model.environment }],
    })) as { run?: { info?: { run_id?: string; artifact_uri?: string } } };
    const runId = created.run?.info?.run_id ?? "";
    const artifactUri = created.run?.info?.artifact_uri ?? "";
    if (!runId) throw new SmokeFailure("runs/create returned no run id");
    await api("POST", "runs/log-metric", { run_id: runId, key: "smoke_check", value: 1, timestamp: started, step: 0 });
    const got = (await api("GET", "runs/get", { run_id: runId })) as {
      run?: { data?: { metrics?: { key: string; value: number }[] } };
    };
    if (!got.run?.data?.metrics?.some((m) => m.key === "smoke_check" && m.value === 1))
      throw new SmokeFailure(`runs/get does not return the metric smoke_check=1 just logged to run ${runId}`);
    report.info(`tracking: experiment ${experimentId}, run ${runId}, metric smoke_check=1 logged and read back`);

    const result: SmokeResult = { url: target.url, experimentId, runId };
    if (artifactUri.startsWith("mlflow-artifacts:")) {
      const path = `${artifactUri.replace(/^mlflow-artifacts:\/*/, "")}/mlflow-dev-smoke.txt`;
      const content = Buffer.from(`mlflow-dev smoke test ${randomBytes(8).toString("hex")}\n`);
      const artifactUrl = `/api/2.0/mlflow-artifacts/artifacts/${path.split("/").map(encodeURIComponent).join("/")}`;
      const put = await sendRetrying(
        target,
        "PUT",
        artifactUrl,
        { headers: { ...headers, "content-type": "application/octet-stream" }, body: content },
        RETRY_MS,
        options.pollMs,
      );
      if (put.status !== 200)
        throw new SmokeFailure(`PUT artifact ${path}: HTTP ${put.status} ${put.body.toString("utf8").slice(0, 300)}`);
      const back = await sendRetrying(target, "GET", artifactUrl, { headers }, RETRY_MS, options.pollMs);
      if (back.status !== 200 || !back.body.equals(content))
        throw new SmokeFailure(
          `GET artifact ${path}: HTTP ${back.status}, ${back.body.length} bytes; not what was uploaded`,
        );
      result.artifactPath = path;
      result.artifactObject = `${model.artifacts.destination}/${path}`;
      report.info(`artifact: uploaded through the server and read back (${result.artifactObject})`);
    } else {
      report.info(`artifact: skipped (proxyArtifacts is false: clients write to ${artifactUri} directly)`);
    }
    await api("POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
    return result;
  } catch (e) {
    if (e instanceof SmokeFailure) throw new DeployError(`the smoke test failed: ${e.message}`);
    throw e;
  }
}

type Api = (method: "GET" | "POST", path: string, body?: unknown) => Promise<Record<string, unknown>>;

/** The smoke-test experiment: found by name (restored if deleted), else created. */
async function smokeExperiment(api: Api): Promise<string> {
  try {
    const r = (await api("GET", "experiments/get-by-name", { experiment_name: SMOKE_EXPERIMENT })) as {
      experiment?: { experiment_id?: string; lifecycle_stage?: string };
    };
    const id = r.experiment?.experiment_id ?? "";
    if (r.experiment?.lifecycle_stage === "deleted") await api("POST", "experiments/restore", { experiment_id: id });
    if (id) return id;
  } catch (e) {
    if ((e as { errorCode?: unknown }).errorCode !== "RESOURCE_DOES_NOT_EXIST") throw e;
  }
  const created = (await api("POST", "experiments/create", { name: SMOKE_EXPERIMENT })) as { experiment_id?: string };
  return created.experiment_id ?? "";
}
