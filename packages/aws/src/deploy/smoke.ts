import type { Reporter } from "@mlflow-dev/kernel/progress";
import { randomHex } from "@mlflow-dev/kernel/random";
import {
  artifactPath,
  type HttpTarget,
  healthCheck,
  LOAD_BALANCER_STATUSES,
  MlflowClient,
  MlflowRestError,
  NotReadyError,
  type RetryPolicy,
  TransportError,
  waitUntilReady,
} from "@mlflow-dev/mlflow-client";
import type { AwsModel } from "../render/aws-model.ts";
import { DeployError } from "./errors.ts";

/**
 * The smoke test of a rollout, against the service endpoint: /health, then a tracking round trip
 * through the REST API (experiment, run, metric) and an artifact uploaded through the server's
 * artifact proxy and read back.
 */

export const SMOKE_EXPERIMENT = "mlflow-dev-smoke-test";

export interface SmokeResult {
  url: string;
  /** Absent when the round trip was skipped (see skipped). */
  experimentId?: string;
  runId?: string;
  /** Why the tracking and artifact round trip did not run: only /health was checked. */
  skipped?: string;
  /** The artifact as the proxy serves it, relative to /api/2.0/mlflow-artifacts/artifacts/. */
  artifactPath?: string;
  /** The object the artifact became in the bucket: s3://bucket/prefix/<experiment>/<run>/artifacts/<file>. */
  artifactObject?: string;
  /** When the smoke test ran inside the VPC (an internal load balancer, in-vpc-smoke.ts): the one-off task's ARN. */
  oneOffTask?: string;
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

/** How long one call of the round trip may keep getting 502-504 or a dropped connection. */
const RETRY_MS = 60_000;

/** Waits for GET <healthPath> to answer 200. */
export async function waitForHealth(
  target: HttpTarget,
  model: AwsModel,
  options: Pick<SmokeOptions, "healthTimeoutMs" | "pollMs">,
): Promise<void> {
  try {
    // The server answering something else than 200 (not a load balancer's 502-504) is an answer:
    // give it DEFINITIVE_MS to change its mind, not the whole timeout.
    await waitUntilReady(new MlflowClient(target), {
      timeoutMs: options.healthTimeoutMs,
      intervalMs: options.pollMs,
      settleMs: DEFINITIVE_MS,
      checks: [healthCheck({ path: model.mlflow.healthPath, timeoutMs: 10_000 })],
    });
  } catch (e) {
    if (!(e instanceof NotReadyError)) throw e;
    throw new DeployError(
      `GET ${target.url}${model.mlflow.healthPath} did not answer 200 within ${Math.round(e.elapsedMs / 1000)}s (last: ${e.last})`,
    );
  }
}

/**
 * Whether basic-auth credentials may be sent to a target: over TLS to the address dialled, or over
 * plain HTTP to this machine only (the emulator on loopback). Never in clear text across a network.
 */
export function credentialsMayTravel(target: HttpTarget): boolean {
  const dial = new URL(target.via ?? target.url);
  if (dial.protocol === "https:") return true;
  const host = dial.hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export async function smokeTest(target: HttpTarget, model: AwsModel, options: SmokeOptions): Promise<SmokeResult> {
  const { report } = options;
  await waitForHealth(target, model, options);
  report.info(`GET ${model.mlflow.healthPath}: 200`);
  if (options.auth && !credentialsMayTravel(target)) {
    // Only an internal load balancer serves basic auth over plain HTTP (validation): the admin
    // password stays off the network, and the round trip, which needs it, is not run.
    const skipped = `it would send the admin password over plain HTTP to ${new URL(target.via ?? target.url).host}`;
    report.info(
      `tracking and artifact round trip: skipped: ${skipped}. Set environments.${model.environment}.domain and certificateArn (HTTPS) for promote to run it`,
    );
    return { url: target.url, skipped };
  }
  // A load balancer answers 502-504 while a target restarts a worker: those, dropped connections
  // and timeouts are retried, for every call of the round trip (its writes are its own).
  const retry: RetryPolicy = {
    forMs: RETRY_MS,
    delayMs: options.pollMs,
    maxDelayMs: options.pollMs,
    statuses: LOAD_BALANCER_STATUSES,
    timeouts: true,
  };
  const client = new MlflowClient(target, {
    timeoutMs: 30_000,
    retry,
    ...(options.auth ? { credentials: { username: options.auth.user, password: options.auth.password } } : {}),
  });
  const post = (path: string, body: unknown) => client.call("POST", path, body, { retry });

  try {
    const experimentId = await smokeExperiment(client, post);
    const started = Date.now();
    const created = (await post("runs/create", {
      experiment_id: experimentId,
      run_name: `promote-${new Date(started).toISOString()}`,
      start_time: started,
      tags: [{ key: "mlflow-dev.smoke-test", value: model.environment }],
    })) as { run?: { info?: { run_id?: string; artifact_uri?: string } } };
    const runId = created.run?.info?.run_id ?? "";
    const artifactUri = created.run?.info?.artifact_uri ?? "";
    if (!runId) throw new SmokeFailure("runs/create returned no run id");
    await post("runs/log-metric", { run_id: runId, key: "smoke_check", value: 1, timestamp: started, step: 0 });
    const got = await client.getRun(runId);
    if (!got.data?.metrics?.some((m) => m.key === "smoke_check" && m.value === 1))
      throw new SmokeFailure(`runs/get does not return the metric smoke_check=1 just logged to run ${runId}`);
    report.info(`tracking: experiment ${experimentId}, run ${runId}, metric smoke_check=1 logged and read back`);

    const result: SmokeResult = { url: target.url, experimentId, runId };
    if (artifactUri.startsWith("mlflow-artifacts:")) {
      const file = "mlflow-dev-smoke.txt";
      const path = artifactPath(artifactUri, file);
      const content = Buffer.from(`mlflow-dev smoke test ${randomHex(8)}\n`);
      await client.uploadArtifact(artifactUri, file, content);
      const back = await client.downloadArtifact(artifactUri, file);
      if (!content.equals(back))
        throw new SmokeFailure(`GET artifact ${path}: ${back.length} bytes; not what was uploaded`);
      result.artifactPath = path;
      result.artifactObject = `${model.artifacts.destination}/${path}`;
      report.info(`artifact: uploaded through the server and read back (${result.artifactObject})`);
    } else {
      report.info(`artifact: skipped (proxyArtifacts is false: clients write to ${artifactUri} directly)`);
    }
    await post("runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
    return result;
  } catch (e) {
    if (e instanceof SmokeFailure || e instanceof MlflowRestError || e instanceof TransportError)
      throw new DeployError(`the smoke test failed: ${e.message}`);
    throw e;
  }
}

/** The smoke-test experiment: found by name (restored if deleted), else created. */
async function smokeExperiment(client: MlflowClient, post: (path: string, body: unknown) => Promise<unknown>) {
  const found = await client.getExperimentByName(SMOKE_EXPERIMENT);
  if (found?.lifecycleStage === "deleted") await post("experiments/restore", { experiment_id: found.experimentId });
  if (found) return found.experimentId;
  const created = (await post("experiments/create", { name: SMOKE_EXPERIMENT })) as { experiment_id?: string };
  return created.experiment_id ?? "";
}
