import { join } from "node:path";
import { ROOT } from "./root.ts";

/** What examples/python-client/train.py printed: the run it logged and the model's accuracy. */
export interface PythonClientRun {
  runId: string;
  accuracy: number;
  logs: string;
}

/**
 * Runs examples/python-client/train.py, unchanged, in the MLflow image (which has mlflow and
 * scikit-learn), with MLFLOW_TRACKING_URI set to `trackingUri`. By default the container shares the
 * host's network. With `behindEmulator`, it joins the emulator's Docker network instead, the load
 * balancer's DNS name resolves to the container itself, and port 80 there is forwarded to the
 * emulator: the script dials `http://<load balancer DNS name>` exactly as it would on AWS.
 */
export async function runPythonClient(options: {
  image: string;
  trackingUri: string;
  experiment: string;
  modelName: string;
  behindEmulator?: { network: string; emulator: string };
  /** More environment for the script, e.g. MLFLOW_TRACKING_USERNAME/PASSWORD for basic auth. */
  env?: Record<string, string>;
}): Promise<PythonClientRun> {
  const logs = await runPythonScript({ ...options, script: "examples/python-client/train.py" });
  const m = /run_id=([0-9a-f]{32}) accuracy=([0-9.]+)/.exec(logs);
  if (!m?.[1] || !m[2]) throw new Error(`examples/python-client/train.py did not report a run:\n${logs.slice(-4000)}`);
  return { runId: m[1], accuracy: Number(m[2]), logs };
}

/**
 * What packages/test-support/python/read-back.py read through the Python client: a run (info, params,
 * metrics and their history, tags), its registered model's versions, the files of version 1
 * (size, sha256) and the loaded model's predictions, as one JSON value.
 */
export async function readBackWithPythonClient(options: {
  image: string;
  trackingUri: string;
  runId: string;
  modelName: string;
}): Promise<Record<string, unknown>> {
  const logs = await runPythonScript({
    image: options.image,
    trackingUri: options.trackingUri,
    script: "packages/test-support/python/read-back.py",
    modelName: options.modelName,
    env: { RUN_ID: options.runId },
  });
  const line = logs.split("\n").find((l) => l.includes("read-back="));
  if (!line) throw new Error(`read-back.py did not finish:\n${logs.slice(-4000)}`);
  return JSON.parse(line.slice(line.indexOf("read-back=") + "read-back=".length)) as Record<string, unknown>;
}

/** What packages/test-support/python/artifact-round-trip.py observed. */
export interface ArtifactRoundTrip {
  runId: string;
  multipartUploads: boolean;
  multipartDownloads: boolean;
  uploaded: string;
  downloaded: string;
}

/** The Python client's log_artifact + download_artifacts of a 12 MiB file, multipart from 5 MiB. */
export async function runArtifactRoundTrip(options: {
  image: string;
  trackingUri: string;
  behindEmulator?: { network: string; emulator: string };
  env?: Record<string, string>;
}): Promise<ArtifactRoundTrip> {
  const logs = await runPythonScript({
    ...options,
    script: "packages/test-support/python/artifact-round-trip.py",
    env: {
      MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: String(5 * 2 ** 20),
      MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: String(5 * 2 ** 20),
      MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE: String(5 * 2 ** 20),
      ...options.env,
    },
  });
  const m =
    /run_id=([0-9a-f]{32}) multipart_uploads=(\w+) multipart_downloads=(\w+) uploaded=([0-9a-f]{64}) downloaded=([0-9a-f]{64})/.exec(
      logs,
    );
  if (!m) throw new Error(`artifact-round-trip.py did not finish:\n${logs.slice(-4000)}`);
  return {
    runId: m[1] ?? "",
    multipartUploads: m[2] === "True",
    multipartDownloads: m[3] === "True",
    uploaded: m[4] ?? "",
    downloaded: m[5] ?? "",
  };
}

/** What packages/test-support/python/train-for-promote.py logged and registered. */
export interface TrainedForPromote {
  run_id: string;
  version: string;
  model_id: string;
  predictions: number[];
}

/** Logs and registers a model with a metric history, a dataset input and (optionally) a large artifact. */
export async function trainForPromote(options: {
  image: string;
  trackingUri: string;
  experiment: string;
  modelName: string;
  env?: Record<string, string>;
}): Promise<TrainedForPromote> {
  const logs = await runPythonScript({ ...options, script: "packages/test-support/python/train-for-promote.py" });
  const line = logs.split("\n").find((l) => l.includes("trained="));
  if (!line) throw new Error(`train-for-promote.py did not finish:\n${logs.slice(-4000)}`);
  return JSON.parse(line.slice(line.indexOf("trained=") + "trained=".length)) as TrainedForPromote;
}

/** The files (size, sha256) and predictions of a model URI, through the Python client. */
export async function modelFiles(options: {
  image: string;
  trackingUri: string;
  modelUri: string;
  env?: Record<string, string>;
  /** A service behind the emulator's load balancer (its network and its address there). */
  behindEmulator?: { network: string; emulator: string };
}): Promise<{ files: Record<string, { bytes: number; sha256: string }>; predictions: number[] }> {
  const logs = await runPythonScript({
    image: options.image,
    trackingUri: options.trackingUri,
    script: "packages/test-support/python/model-files.py",
    env: { MODEL_URI: options.modelUri, ...options.env },
    ...(options.behindEmulator ? { behindEmulator: options.behindEmulator } : {}),
  });
  const line = logs.split("\n").find((l) => l.includes("model-files="));
  if (!line) throw new Error(`model-files.py did not finish:\n${logs.slice(-4000)}`);
  return JSON.parse(line.slice(line.indexOf("model-files=") + "model-files=".length));
}

/**
 * Runs a Python script of this repository (path from the root) in the MLflow image, with
 * MLFLOW_TRACKING_URI set; returns everything it printed.
 */
async function runPythonScript(options: {
  image: string;
  trackingUri: string;
  script: string;
  experiment?: string;
  modelName?: string;
  behindEmulator?: { network: string; emulator: string };
  env?: Record<string, string>;
}): Promise<string> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "localhost";
  const { GenericContainer, Wait } = await import("testcontainers");
  const lb = options.behindEmulator;
  let container = new GenericContainer(options.image)
    .withUser("root")
    .withCopyFilesToContainer([
      { source: join(ROOT, options.script), target: "/example/script.py" },
      {
        source: join(ROOT, "packages/test-support/python/behind-load-balancer.py"),
        target: "/example/behind-load-balancer.py",
      },
    ])
    .withEnvironment({
      MLFLOW_TRACKING_URI: options.trackingUri,
      ...(options.experiment ? { MLFLOW_EXPERIMENT: options.experiment } : {}),
      ...(options.modelName ? { MLFLOW_MODEL_NAME: options.modelName } : {}),
      ...options.env,
    })
    .withWaitStrategy(Wait.forOneShotStartup())
    .withStartupTimeout(300_000);
  container = lb
    ? container
        .withNetworkMode(lb.network)
        .withExtraHosts([{ host: new URL(options.trackingUri).hostname, ipAddress: "127.0.0.1" }])
        .withEntrypoint(["python", "/example/behind-load-balancer.py", lb.emulator, "/example/script.py"])
    : container.withNetworkMode("host").withEntrypoint(["python", "/example/script.py"]);
  const started = await container.start();
  const logs = await new Promise<string>((resolve) => {
    let out = "";
    started.logs().then((stream) => {
      stream.on("data", (d: Buffer) => (out += d.toString()));
      stream.on("end", () => resolve(out));
    });
  });
  await started.stop().catch(() => undefined);
  return logs;
}
