import { spawn } from "node:child_process";
import { join } from "node:path";
import { MlflowClient } from "@mlflow-dev/mlflow-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runWorkload } from "../src/index.ts";
import { type FakeMlflow, startFakeMlflow } from "./fake-mlflow.ts";
import { ROOT, recording } from "./helpers.ts";

/**
 * The workload against a stand-in MLflow that answers every call, so that no step is skipped:
 * the steps, their order and their requests are the workload's contract with the recordings
 * (the fixtures come from real servers).
 */
let fake: FakeMlflow;

beforeAll(async () => {
  fake = await startFakeMlflow();
});

afterAll(() => fake.close());

const SIZES = [0, 1, 1031, 1_048_579, 12_582_917];

describe("runWorkload", () => {
  it("runs the recorded steps in the recorded order, none skipped against a server that answers", async () => {
    fake.requests.length = 0;
    const seen: string[] = [];
    const results = await runWorkload(new MlflowClient(fake.url), {
      token: "parity-test-token",
      artifactSizes: SIZES,
      onStep: (s) => seen.push(s.step),
    });
    expect(results.steps.map((s) => s.step)).toEqual(recording("local-stack").steps.map((s) => s.step));
    expect(seen).toEqual(results.steps.map((s) => s.step));
    expect(results.steps.filter((s) => s.skipped || s.failure)).toEqual([]);
    expect(results).toMatchObject({ format: 1, target: fake.url, token: "parity-test-token" });
    const downloads = results.steps.filter((s) => /^artifacts: GET sizes/.test(s.step));
    expect(downloads.map((s) => s.value)).toEqual(SIZES.map((bytes) => ({ bytes, sameAsUploaded: true })));
    expect(fake.requests).toHaveLength(results.steps.length);
  });

  it("skips the steps that need what a failed step did not produce", async () => {
    fake.failing.set("/api/2.0/mlflow/experiments/create", 500);
    fake.failing.set("/api/2.0/mlflow/registered-models/create", 500);
    try {
      const results = await runWorkload(new MlflowClient(fake.url), { token: "parity-test-token", artifactSizes: [1] });
      const byName = new Map(results.steps.map((s) => [s.step, s]));
      expect(byName.get("experiments/create main")).toEqual({
        step: "experiments/create main",
        status: 500,
        errorCode: "INTERNAL_ERROR",
      });
      expect(byName.get("experiments/get main")).toEqual({
        step: "experiments/get main",
        skipped: "needs the main experiment, which an earlier step did not produce",
      });
      expect(byName.get("model-versions/create from run-a")?.skipped).toBe(
        "needs the registered model, which an earlier step did not produce",
      );
      expect(byName.get("experiments/get-by-name main")?.status).toBe(200);
    } finally {
      fake.failing.clear();
    }
  });
});

/** `mlflow-dev parity --live` in a child process (the stand-in answers in this one), without credentials. */
async function parityLive(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, "packages/cli/bin/mlflow-dev.js"), "parity", "--live", ...args], {
    env: Object.fromEntries(
      Object.entries({ ...process.env, NO_COLOR: "1" }).filter(([k]) => !/^MLFLOW_(TRACKING|PARITY)_/.test(k)),
    ),
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  return { code, stdout, stderr };
}

describe("mlflow-dev parity --live", () => {
  it("two servers that answer alike: no difference, exit 0; the remote reached through --connect-to", async () => {
    const fake = await startFakeMlflow(); // its own: ids are numbered per Host from the first request
    try {
      const lb = "mlflow-lb-1.eu-west-1.elb.amazonaws.com";
      const r = await parityLive([
        "--local",
        fake.url,
        "--remote",
        `http://${lb}`,
        "--connect-to",
        `${lb}:80:127.0.0.1:${fake.port}`,
      ]);
      expect(r.stderr).toContain("running the workload against both servers");
      expect(r).toMatchObject({ code: 0 });
      expect(fake.requests.length).toBeGreaterThan(2 * 72);
    } finally {
      await fake.close();
    }
  }, 60_000);

  it("a server that refuses the API without credentials: a hint to set them, before anything is created", async () => {
    fake.failing.set("/api/2.0/mlflow/experiments/search", 401);
    fake.requests.length = 0;
    try {
      const r = await parityLive(["--local", fake.url, "--remote", fake.url]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`parity: the local server at ${fake.url} refused the request (HTTP 401)`);
      expect(r.stderr).toContain("MLFLOW_PARITY_LOCAL_USERNAME");
      expect(fake.requests.filter((q) => q.startsWith("POST"))).toEqual([]);
    } finally {
      fake.failing.clear();
    }
  }, 60_000);
});
