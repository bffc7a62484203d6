import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MlflowClient } from "@mlflow-dev/mlflow-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runWorkload } from "../src/index.ts";
import { recording } from "./helpers.ts";

/**
 * The workload against a stand-in MLflow on loopback that answers every call with plausible ids,
 * so that no step is skipped: the steps, their order and their requests are the workload's
 * contract with the recordings (the fixtures come from real servers).
 */
let server: Server;
let base: string;
const requests: string[] = [];
const artifacts = new Map<string, Buffer>();

beforeAll(async () => {
  let n = 0;
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const bytes = Buffer.concat(chunks);
      requests.push(`${req.method} ${req.url}`);
      const path = (req.url ?? "").split("?")[0] ?? "";
      if (req.method === "PUT") artifacts.set(path, bytes);
      if (req.method === "GET" && artifacts.has(path)) return res.end(artifacts.get(path));
      const id = String(++n);
      const answers: Record<string, unknown> = {
        "/api/2.0/mlflow/experiments/create": { experiment_id: id },
        "/api/2.0/mlflow/runs/create": {
          run: { info: { run_id: `r${id}`, artifact_uri: `mlflow-artifacts:/1/r${id}/artifacts` } },
        },
        "/api/2.0/mlflow/model-versions/create": { model_version: { version: id } },
        "/api/2.0/mlflow/registered-models/create": { registered_model: { name: "m" } },
        "/api/2.0/mlflow/runs/search": { runs: [], next_page_token: "page-2" },
      };
      if (path === "/health" || path === "/version") return res.end(path === "/health" ? "OK" : "3.17.2");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answers[path] ?? {}));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("runWorkload", () => {
  it("runs the recorded steps in the recorded order, none skipped against a server that answers", async () => {
    const seen: string[] = [];
    requests.length = 0;
    const results = await runWorkload(new MlflowClient(base), {
      token: "parity-test-token",
      artifactSizes: [0, 1, 1031, 1_048_579, 12_582_917],
      onStep: (s) => seen.push(s.step),
    });
    expect(results.steps.map((s) => s.step)).toEqual(recording("local-stack").steps.map((s) => s.step));
    expect(seen).toEqual(results.steps.map((s) => s.step));
    expect(results.steps.filter((s) => s.skipped || s.failure)).toEqual([]);
    expect(results).toMatchObject({ format: 1, target: base, token: "parity-test-token" });
    const downloads = results.steps.filter((s) => /^artifacts: GET sizes/.test(s.step));
    expect(downloads.map((s) => s.value)).toEqual(
      [0, 1, 1031, 1_048_579, 12_582_917].map((bytes) => ({ bytes, sameAsUploaded: true })),
    );
    expect(requests).toHaveLength(results.steps.length);
  });
});
