import { join } from "node:path";
import { ROOT } from "./stack.ts";

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
}): Promise<PythonClientRun> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "localhost";
  const { GenericContainer, Wait } = await import("testcontainers");
  const lb = options.behindEmulator;
  let container = new GenericContainer(options.image)
    .withUser("root")
    .withCopyFilesToContainer([
      { source: join(ROOT, "examples/python-client/train.py"), target: "/example/train.py" },
      { source: join(ROOT, "test/support/python/behind-load-balancer.py"), target: "/example/behind-load-balancer.py" },
    ])
    .withEnvironment({
      MLFLOW_TRACKING_URI: options.trackingUri,
      MLFLOW_EXPERIMENT: options.experiment,
      MLFLOW_MODEL_NAME: options.modelName,
    })
    .withWaitStrategy(Wait.forOneShotStartup())
    .withStartupTimeout(300_000);
  container = lb
    ? container
        .withNetworkMode(lb.network)
        .withExtraHosts([{ host: new URL(options.trackingUri).hostname, ipAddress: "127.0.0.1" }])
        .withEntrypoint(["python", "/example/behind-load-balancer.py", lb.emulator, "/example/train.py"])
    : container.withNetworkMode("host").withEntrypoint(["python", "/example/train.py"]);
  const started = await container.start();
  const logs = await new Promise<string>((resolve) => {
    let out = "";
    started.logs().then((stream) => {
      stream.on("data", (d: Buffer) => (out += d.toString()));
      stream.on("end", () => resolve(out));
    });
  });
  await started.stop().catch(() => undefined);
  const m = /run_id=([0-9a-f]{32}) accuracy=([0-9.]+)/.exec(logs);
  if (!m?.[1] || !m[2]) throw new Error(`examples/python-client/train.py did not report a run:\n${logs.slice(-4000)}`);
  return { runId: m[1], accuracy: Number(m[2]), logs };
}
