import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pins from "../../../pins.json" with { type: "json" };

/**
 * A stand-in MLflow on loopback for the workload's unit tests: it answers every tracking call
 * with plausible ids (numbered per Host header, so two clients see the same ids), keeps uploaded
 * artifacts and serves them back, and records the requests it got.
 */
export interface FakeMlflow {
  url: string;
  port: number;
  /** `METHOD /path?query` of every request, in order. */
  requests: string[];
  /** Paths answered with this status (and an MLflow error body) instead. */
  failing: Map<string, number>;
  close(): Promise<void>;
}

export async function startFakeMlflow(): Promise<FakeMlflow> {
  const counters = new Map<string, number>();
  const artifacts = new Map<string, Buffer>();
  const requests: string[] = [];
  const failing = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push(`${req.method} ${req.url}`);
      const host = req.headers.host ?? "";
      const n = (counters.get(host) ?? 0) + 1;
      counters.set(host, n);
      const path = (req.url ?? "").split("?")[0] ?? "";
      const key = `${host}${path}`;
      const status = failing.get(path);
      if (status !== undefined) {
        res.writeHead(status, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error_code: "INTERNAL_ERROR", message: "failing on purpose" }));
      }
      if (path === "/health") return res.end("OK");
      if (path === "/version") return res.end(pins.mlflow);
      if (req.method === "PUT") artifacts.set(key, Buffer.concat(chunks));
      if (req.method === "GET" && artifacts.has(key)) return res.end(artifacts.get(key));
      const id = String(n);
      const answers: Record<string, unknown> = {
        "/api/2.0/mlflow/experiments/create": { experiment_id: id },
        "/api/2.0/mlflow/runs/create": {
          run: { info: { run_id: `r${id}`, artifact_uri: `mlflow-artifacts:/1/r${id}/artifacts` } },
        },
        "/api/2.0/mlflow/model-versions/create": { model_version: { version: id } },
        "/api/2.0/mlflow/registered-models/create": { registered_model: { name: "m" } },
        "/api/2.0/mlflow/runs/search": { runs: [], next_page_token: "page-2" },
      };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answers[path] ?? {}));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    failing,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
