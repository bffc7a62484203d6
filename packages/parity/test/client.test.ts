import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MlflowClient, MlflowRestError } from "../src/index.ts";

/** The client against a real HTTP server on loopback that records what it received. */
let server: Server;
let port: number;
const seen: Array<{ method?: string; url?: string; host?: string; auth?: string; body: string }> = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, host: req.headers.host, auth: req.headers.authorization, body });
      if (req.url?.startsWith("/api/2.0/mlflow/experiments/get")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error_code: "RESOURCE_DOES_NOT_EXIST", message: "no" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("MlflowClient", () => {
  it("connectTo sends to another address and keeps the URL's Host header (a load balancer's name)", async () => {
    const client = new MlflowClient("http://mlflow-alb-1.eu-west-1.elb.amazonaws.com", {
      connectTo: { host: "127.0.0.1", port },
    });
    const r = await client.request("POST", "/api/2.0/mlflow/experiments/create", { json: { name: "x" } });
    expect(r.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({
      method: "POST",
      url: "/api/2.0/mlflow/experiments/create",
      host: "mlflow-alb-1.eu-west-1.elb.amazonaws.com",
      body: '{"name":"x"}',
    });
  });

  it("sends basic-auth credentials as a header, never in the URL", async () => {
    const client = new MlflowClient(`http://127.0.0.1:${port}`, { credentials: { username: "admin", password: "pw" } });
    await client.request("GET", "/health");
    expect(seen.at(-1)?.auth).toBe(`Basic ${Buffer.from("admin:pw").toString("base64")}`);
    expect(seen.at(-1)?.url).toBe("/health");
  });

  it("call() throws MlflowRestError with the status and MLflow's error code", async () => {
    const client = new MlflowClient(`http://127.0.0.1:${port}`);
    const e = await client.call("GET", "experiments/get", { experiment_id: "1" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MlflowRestError);
    expect(e).toMatchObject({ status: 404, errorCode: "RESOURCE_DOES_NOT_EXIST" });
  });

  it("a refused connection through connectTo is a transport failure (TypeError, like fetch)", async () => {
    const client = new MlflowClient("http://x.example", { connectTo: { host: "127.0.0.1", port: 1 } });
    const e = await client.request("GET", "/health").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TypeError);
    expect((e as { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");
  });
});
