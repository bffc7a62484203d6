import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { credentialsMayTravel, DeployError, smokeTest, targetFor, waitForHealth } from "../src/deploy/index.ts";
import { exampleModel } from "./helpers.ts";

/**
 * The smoke test against a stand-in MLflow on loopback, reached as a load balancer's name through
 * `via` (as promote reaches it through the emulator). The stand-in keeps what it is sent: the
 * metric and the artifact come back only if they were written.
 */
let server: Server;
let via: string;
let health: number[];
let hosts: Set<string | undefined>;
let auth: Set<string | undefined>;
let deletedExperiment: boolean;

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

beforeAll(async () => {
  const artifacts = new Map<string, Buffer>();
  const metrics: { key: string; value: number }[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      hosts.add(req.headers.host);
      auth.add(req.headers.authorization);
      const body = Buffer.concat(chunks);
      const path = (req.url ?? "").split("?")[0] ?? "";
      if (path === "/health") {
        const status = health.shift() ?? 200;
        res.writeHead(status);
        return res.end(status === 200 ? "OK" : "<html><body>Bad Gateway</body></html>");
      }
      if (path.startsWith("/api/2.0/mlflow-artifacts/artifacts/")) {
        if (req.method === "PUT") artifacts.set(path, body);
        return artifacts.has(path) ? res.end(artifacts.get(path)) : json(res, 404, {});
      }
      const api = path.replace("/api/2.0/mlflow/", "");
      const sent = body.length ? (JSON.parse(body.toString()) as Record<string, unknown>) : {};
      if (api === "experiments/get-by-name")
        return deletedExperiment
          ? json(res, 200, { experiment: { experiment_id: "7", lifecycle_stage: "deleted" } })
          : json(res, 404, { error_code: "RESOURCE_DOES_NOT_EXIST" });
      if (api === "experiments/restore") deletedExperiment = false;
      if (api === "experiments/create") return json(res, 200, { experiment_id: "7" });
      if (api === "runs/create")
        return json(res, 200, { run: { info: { run_id: "abc", artifact_uri: "mlflow-artifacts:/7/abc/artifacts" } } });
      if (api === "runs/log-metric") metrics.push({ key: String(sent.key), value: Number(sent.value) });
      if (api === "runs/get") return json(res, 200, { run: { data: { metrics } } });
      json(res, 200, {});
    });
  });
  // Every interface: one test dials this machine's network address instead of loopback.
  await new Promise<void>((r) => server.listen(0, "0.0.0.0", () => r()));
  via = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  health = [];
  hosts = new Set();
  auth = new Set();
  deletedExperiment = false;
});

const model = exampleModel("basic", "staging");
const url = "http://mlflow-lb-1.eu-west-1.elb.amazonaws.com";

describe("smokeTest", () => {
  it("waits out a load balancer's 502, then round-trips a run, a metric and an artifact", async () => {
    health = [502, 502];
    const lines: string[] = [];
    const report = { step: () => undefined, info: (l: string) => lines.push(l), warn: () => undefined };
    const result = await smokeTest(targetFor(url, via), model, {
      report,
      healthTimeoutMs: 5_000,
      pollMs: 10,
      auth: { user: "admin", password: "pw" },
    });
    expect(lines).toEqual([
      "GET /health: 200",
      "tracking: experiment 7, run abc, metric smoke_check=1 logged and read back",
      `artifact: uploaded through the server and read back (${model.artifacts.destination}/7/abc/artifacts/mlflow-dev-smoke.txt)`,
    ]);
    expect(result).toEqual({
      url,
      experimentId: "7",
      runId: "abc",
      artifactPath: "7/abc/artifacts/mlflow-dev-smoke.txt",
      artifactObject: `${model.artifacts.destination}/7/abc/artifacts/mlflow-dev-smoke.txt`,
    });
    expect([...hosts]).toEqual(["mlflow-lb-1.eu-west-1.elb.amazonaws.com"]);
    expect(auth).toContain(`Basic ${Buffer.from("admin:pw").toString("base64")}`);
  });

  it("never sends the admin password over plain HTTP beyond loopback: health only, and says why", async () => {
    // The stand-in dialled at this machine's own network address, as an internal load balancer's
    // plain-HTTP address would be: not loopback.
    const address = Object.values(networkInterfaces())
      .flat()
      .find((i) => i?.family === "IPv4" && !i.internal)?.address;
    if (!address) throw new Error("this machine has no IPv4 address besides loopback to dial the stand-in at");
    const lines: string[] = [];
    const report = { step: () => undefined, info: (l: string) => lines.push(l), warn: () => undefined };
    const target = { url: `http://${address}:${new URL(via).port}` };
    const result = await smokeTest(target, model, {
      report,
      healthTimeoutMs: 5_000,
      pollMs: 10,
      auth: { user: "admin", password: "pw" },
    });
    expect([...auth]).toEqual([undefined]);
    expect(result).toEqual({
      url: target.url,
      skipped: `it would send the admin password over plain HTTP to ${address}:${new URL(via).port}`,
    });
    expect(lines).toEqual([
      "GET /health: 200",
      `tracking and artifact round trip: skipped: ${result.skipped}. Set environments.staging.domain and certificateArn (HTTPS) for promote to run it`,
    ]);
  });

  it.each([
    [{ url: "http://127.0.0.1:5000" }, true],
    [{ url: "http://localhost:5000" }, true],
    [{ url: "http://[::1]:5000" }, true],
    [{ url: "https://mlflow.example.com", via: "http://127.0.0.1:4566" }, true],
    [{ url: "https://mlflow.example.com", via: "https://lb-1.eu-west-1.elb.amazonaws.com" }, true],
    [{ url: "https://mlflow.example.com" }, true],
    [{ url: "http://internal-lb-1.eu-west-1.elb.amazonaws.com" }, false],
    [{ url: "http://mlflow.example.com", via: "http://lb-1.eu-west-1.elb.amazonaws.com" }, false],
    [{ url: "http://127.0.0.1.example.com" }, false],
    [{ url: "http://10.0.0.5" }, false],
  ])("credentialsMayTravel(%j) is %s", (target, ok) => {
    expect(credentialsMayTravel(target)).toBe(ok);
  });

  it("restores the smoke-test experiment when it was deleted", async () => {
    deletedExperiment = true;
    const report = { step: () => undefined, info: () => undefined, warn: () => undefined };
    await smokeTest(targetFor(url, via), model, { report, healthTimeoutMs: 5_000, pollMs: 10 });
    expect(deletedExperiment).toBe(false);
  });

  it("a health check that never answers 200 is a DeployError naming the URL and the last answer", async () => {
    health = Array.from({ length: 1000 }, () => 502);
    const e = await waitForHealth(targetFor(url, via), model, { healthTimeoutMs: 100, pollMs: 10 }).catch((x) => x);
    expect(e).toBeInstanceOf(DeployError);
    expect((e as Error).message).toMatch(
      new RegExp(`^GET ${url}/health did not answer 200 within \\d+s \\(last: HTTP 502: Bad Gateway\\)$`),
    );
  });
});
