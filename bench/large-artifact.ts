/**
 * `pnpm bench --large-artifact`: a 1 GiB artifact's round trip (upload, download, sha256) through
 * the Python client on both runtimes, against the object store moved to directly with boto3 from
 * the same place. One stack each: examples/basic locally (`mlflow-dev up`) and its staging
 * environment promoted to the AWS emulator, reached through the emulated load balancer. The client
 * runs in the MLflow image (host network locally; on the emulator's network, the load balancer's
 * name pointed at the emulator). Two client paths: MLflow's default for a file this large
 * (multipart, presigned URLs: the bytes go to the store, the server only signs) and the proxied
 * one (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD/DOWNLOAD=false: the bytes pass the server, which
 * holds them on its disk). MB/s = MiB moved / seconds; ratios against the store directly.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type LargeArtifactOptions,
  type LargeArtifactRoundTrip,
  largeArtifactRoundTrip,
  PROXIED_TRANSFERS,
} from "@mlflow-dev/test-support/large-artifact";
import pins from "../pins.json" with { type: "json" };
import { run } from "./process.ts";

const SIZE_MIB = Number(process.env.MLFLOW_DEV_BENCH_ARTIFACT_MIB ?? 1024);
const EMULATOR_NETWORK = process.env.MLFLOW_DEV_AWS_NETWORK ?? "mlflow-dev-aws";
const EMULATOR_IP = "169.254.170.2";

type RoundTrip = LargeArtifactRoundTrip;

/** One round trip of the SIZE_MIB file (packages/test-support/src/large-artifact.ts). */
function roundTrip(options: Omit<LargeArtifactOptions, "sizeMiB">): Promise<RoundTrip> {
  return largeArtifactRoundTrip({ ...options, sizeMiB: SIZE_MIB });
}

function envFile(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).replace(/^"|"$/g, "")]),
  );
}

export async function largeArtifact(_root: string, node: string, bin: string): Promise<void> {
  const image = `localhost/mlflow-dev-local/mlflow:${pins.mlflow}`;
  const account = "464646464646";
  const name = `benchlarge-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-bench-large-"));
  const mlflowPort = 24680;
  const minioPort = 24681;
  const spec = readFileSync(join(_root, "examples/basic/mlflow-dev.yaml"), "utf8")
    .replace(/^name: .*$/m, `name: ${name}`)
    .replace(/bucket: mlflow-artifacts/, `bucket: ${name}-local`)
    .replace(/ports:\n(\s+)mlflow: 5050/, `ports:\n$1mlflow: ${mlflowPort}\n$1minio: ${minioPort}`)
    .replace(/account: "\d{12}"/, `account: "${account}"`)
    .replace(/bucket: tracking-staging-artifacts-\d{12}/, `bucket: ${name}-staging-${account}`);
  writeFileSync(join(dir, "mlflow-dev.yaml"), spec);
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL ?? "http://127.0.0.1:4566",
    AWS_ACCESS_KEY_ID: account,
    AWS_SECRET_ACCESS_KEY: "test",
    MLFLOW_DEV_IMAGES: process.env.MLFLOW_DEV_IMAGES ?? `mlflow=${image}`,
  };
  const proxied = PROXIED_TRANSFERS;
  const results: Record<string, RoundTrip> = {};
  try {
    run(node, [bin, "up"], { cwd: dir, env });
    const local = `http://127.0.0.1:${mlflowPort}`;
    const secrets = envFile(join(dir, ".mlflow-dev/.env"));
    results["local: MinIO directly (boto3)"] = await roundTrip({
      image,
      trackingUri: local,
      mode: "store",
      env: {
        S3_ENDPOINT: `http://127.0.0.1:${minioPort}`,
        BUCKET: `${name}-local`,
        AWS_ACCESS_KEY_ID: secrets.MLFLOW_DEV_MINIO_ROOT_USER ?? "",
        AWS_SECRET_ACCESS_KEY: secrets.MLFLOW_DEV_MINIO_ROOT_PASSWORD ?? "",
      },
    });
    results["local: MLflow client, multipart (default)"] = await roundTrip({
      image,
      trackingUri: local,
      mode: "mlflow",
    });
    results["local: MLflow client, proxied by the server"] = await roundTrip({
      image,
      trackingUri: local,
      mode: "mlflow",
      env: proxied,
    });

    const remote = JSON.parse(run(node, [bin, "promote", "--env", "staging", "--json"], { cwd: dir, env }))
      .url as string;
    const behindEmulator = { network: EMULATOR_NETWORK, emulator: `${EMULATOR_IP}:4566` };
    results["emulator: its S3 directly (boto3)"] = await roundTrip({
      image,
      trackingUri: remote,
      behindEmulator,
      mode: "store",
      env: {
        S3_ENDPOINT: `http://${EMULATOR_IP}:4566`,
        BUCKET: `${name}-staging-${account}`,
        AWS_ACCESS_KEY_ID: account,
        AWS_SECRET_ACCESS_KEY: "test",
      },
    });
    results["emulator: MLflow client via the load balancer, multipart"] = await roundTrip({
      image,
      trackingUri: remote,
      behindEmulator,
      mode: "mlflow",
    });
    results["emulator: MLflow client via the load balancer, proxied"] = await roundTrip({
      image,
      trackingUri: remote,
      behindEmulator,
      mode: "mlflow",
      env: proxied,
    });
  } finally {
    spawnSync(node, [bin, "down", "--volumes", "--yes"], { cwd: dir, env, stdio: "ignore" });
    spawnSync(node, [bin, "destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], {
      cwd: dir,
      env,
      stdio: "ignore",
    });
    report(results);
  }
}

function report(results: Record<string, RoundTrip>): void {
  const rate = (r: RoundTrip, s: number) => r.bytes / 2 ** 20 / s;
  const base = (key: string) =>
    results[key.startsWith("local") ? "local: MinIO directly (boto3)" : "emulator: its S3 directly (boto3)"];
  console.log(
    `\nA ${SIZE_MIB} MiB artifact's round trip (MiB/s; ratio against the store directly from the same place)`,
  );
  for (const [key, r] of Object.entries(results)) {
    const b = base(key);
    const up = rate(r, r.uploadSeconds);
    const down = rate(r, r.downloadSeconds);
    const ratio = (mine: number, floor: number | undefined) => (floor ? ` ${(mine / floor).toFixed(2)}x` : "");
    console.log(
      `  ${key.padEnd(58)} up ${up.toFixed(1).padStart(7)}${ratio(up, b && rate(b, b.uploadSeconds))}   down ${down.toFixed(1).padStart(7)}${ratio(down, b && rate(b, b.downloadSeconds))}   sha256 ${r.sha256Equal ? "equal" : "DIFFERENT"}`,
    );
  }
}
