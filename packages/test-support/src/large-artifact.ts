import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ROOT } from "./root.ts";

/**
 * A large artifact's round trip (upload, download, sha256) through the Python client, or through
 * boto3 straight to the object store: packages/test-support/python/large-artifact.py in the MLflow
 * image, run with `docker run --rm`. The integration test (parity.test.ts) and `pnpm bench
 * --large-artifact` share it. Vitest-free: scripts import it as `@mlflow-dev/test-support/large-artifact`.
 *
 * The file is written in chunks inside the client's container and removed with it: the test's
 * process never holds it.
 */

/** What large-artifact.py measured. */
export interface LargeArtifactRoundTrip {
  uploadSeconds: number;
  downloadSeconds: number;
  /** The file's size, and what came back. */
  bytes: number;
  downloadedBytes: number;
  /** sha256 of the bytes written, and of the file downloaded. */
  uploaded: string;
  downloaded: string;
  sha256Equal: boolean;
  /** MODE=mlflow only: whether the client went through presigned multipart URLs each way. */
  multipartUpload?: boolean;
  multipartDownload?: boolean;
  runId?: string;
}

/** The proxied path: the Python client sends and fetches the bytes through the server. */
export const PROXIED_TRANSFERS: Readonly<Record<string, string>> = {
  MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD: "false",
  MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD: "false",
};

export interface LargeArtifactOptions {
  /** The MLflow image: it has mlflow and boto3. */
  image: string;
  trackingUri: string;
  sizeMiB: number;
  /** mlflow: the Python client through the server; store: boto3 to S3_ENDPOINT/BUCKET (in env). */
  mode: "mlflow" | "store";
  /**
   * A service behind the emulator's load balancer: the client joins the emulator's network, the
   * load balancer's DNS name resolves to the container itself and port 80 there is forwarded to
   * the emulator (python/behind-load-balancer.py), so it dials `http://<DNS name>` as on AWS.
   * Without it the client shares the host's network.
   */
  behindEmulator?: { network: string; emulator: string };
  env?: Record<string, string>;
  /** Give up (and remove the container) after this long; default 20 minutes. */
  timeoutMs?: number;
}

/** Runs one round trip in a container of its own; rejects with the script's output when it did not finish. */
export async function largeArtifactRoundTrip(options: LargeArtifactOptions): Promise<LargeArtifactRoundTrip> {
  const lb = options.behindEmulator;
  const name = `mlflow-dev-large-artifact-${randomBytes(4).toString("hex")}`;
  const env = {
    MLFLOW_TRACKING_URI: options.trackingUri,
    SIZE_MIB: String(options.sizeMiB),
    MODE: options.mode,
    ...options.env,
  };
  const python = join(ROOT, "packages/test-support/python");
  const args = [
    "run",
    "--rm",
    "--name",
    name,
    "--user",
    "root",
    "-v",
    `${join(python, "large-artifact.py")}:/large-artifact/script.py:ro`,
    "-v",
    `${join(python, "behind-load-balancer.py")}:/large-artifact/behind-load-balancer.py:ro`,
    ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
    "--entrypoint",
    "python",
    ...(lb
      ? ["--network", lb.network, "--add-host", `${new URL(options.trackingUri).hostname}:127.0.0.1`]
      : ["--network", "host"]),
    options.image,
    ...(lb
      ? ["/large-artifact/behind-load-balancer.py", lb.emulator, "/large-artifact/script.py"]
      : ["/large-artifact/script.py"]),
  ];
  const timeoutMs = options.timeoutMs ?? 20 * 60_000;
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const keep = (d: Buffer) => {
      out = (out + d.toString()).slice(-64_000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => {
      spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
      reject(
        new Error(
          `large-artifact.py (${options.mode}, ${options.trackingUri}) did not finish within ${timeoutMs / 1000} s:\n${out.slice(-4000)}`,
        ),
      );
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
  const line = output.split("\n").find((l) => l.includes("large-artifact="));
  if (!line)
    throw new Error(
      `large-artifact.py (${options.mode}, ${options.trackingUri}) did not finish:\n${output.slice(-4000)}`,
    );
  return JSON.parse(line.slice(line.indexOf("large-artifact=") + "large-artifact=".length)) as LargeArtifactRoundTrip;
}

/** MiB/s of a round trip's upload and download. */
export function transferRates(r: LargeArtifactRoundTrip): { upMiBs: number; downMiBs: number } {
  const mib = r.bytes / 2 ** 20;
  return { upMiBs: mib / r.uploadSeconds, downMiBs: mib / r.downloadSeconds };
}
