import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fakeClock } from "@mlflow-dev/kernel/fake-clock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  MlflowClient,
  MlflowRestError,
  NotReadyError,
  send,
  TransportError,
  targetFor,
  waitUntilReady,
} from "../src/index.ts";

/**
 * The client against a real HTTP server on loopback. Each test sets `answer`, which sees every
 * request (with its body) and writes the response; `seen` records what arrived.
 */
type Seen = { method?: string; url?: string; host?: string; auth?: string; type?: string; body: string };
let server: Server;
let port: number;
let base: string;
let seen: Seen[];
let answer: (req: IncomingMessage, res: ServerResponse, n: number) => void;

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({
        method: req.method,
        url: req.url,
        host: req.headers.host,
        auth: req.headers.authorization,
        type: req.headers["content-type"],
        body,
      });
      answer(req, res, seen.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  seen = [];
  answer = (_req, res) => json(res, 200, { ok: true });
});

/** A port nothing listens on: a server opened and closed again. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe("transport", () => {
  it("through a load balancer: dials `via`, keeps the service's Host header", async () => {
    const client = new MlflowClient("http://mlflow-alb-1.eu-west-1.elb.amazonaws.com", { via: base });
    const r = await client.request("POST", "/api/2.0/mlflow/experiments/create", { json: { name: "x" } });
    expect(r.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({
      method: "POST",
      url: "/api/2.0/mlflow/experiments/create",
      host: "mlflow-alb-1.eu-west-1.elb.amazonaws.com",
      type: "application/json",
      body: '{"name":"x"}',
    });
  });

  it("an https:// service over the emulator's plain HTTP has its Host with :443", async () => {
    await send(targetFor("https://mlflow.example.com", base), "GET", "/health");
    await send(targetFor("http://lb-1.elb.amazonaws.com", base), "GET", "/health");
    expect(seen.map((s) => s.host)).toEqual(["mlflow.example.com:443", "lb-1.elb.amazonaws.com"]);
  });

  it("targetFor: the emulator when there is one, else the load balancer for a domain not yet in DNS", () => {
    expect(targetFor("http://lb.elb.amazonaws.com", undefined)).toEqual({ url: "http://lb.elb.amazonaws.com" });
    expect(targetFor("https://mlflow.example.com", undefined, "lb-1.elb.amazonaws.com")).toEqual({
      url: "https://mlflow.example.com",
      via: "https://lb-1.elb.amazonaws.com",
    });
  });

  it("sends basic-auth credentials as a header, never in the URL", async () => {
    const client = new MlflowClient(base, { credentials: { username: "admin", password: "pw" } });
    await client.request("GET", "/health");
    expect(seen.at(-1)?.auth).toBe(`Basic ${Buffer.from("admin:pw").toString("base64")}`);
    expect(seen.at(-1)?.url).toBe("/health");
  });

  it("retries a load balancer's 503 under a policy that lists it, then succeeds", async () => {
    answer = (_req, res, n) => (n < 3 ? json(res, 503, { error: "no target" }) : json(res, 200, { ok: true }));
    const client = new MlflowClient(base);
    const r = await client.request("GET", "/health", { retry: { attempts: 5, delayMs: 5, statuses: [503] } });
    expect(r.status).toBe(200);
    expect(seen).toHaveLength(3);
  });

  it("retries a failed connection with backoff for an idempotent call", async () => {
    const free = await closedPort();
    const client = new MlflowClient(`http://127.0.0.1:${free}`, { retry: { attempts: 3, delayMs: 20 } });
    const t0 = Date.now();
    const e = await client.request("GET", "/health").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransportError);
    expect(e).toMatchObject({ code: "ECONNREFUSED", method: "GET", url: `http://127.0.0.1:${free}/health` });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55); // 20 ms, then 40 ms
  });

  it("never retries a 4xx, nor a POST by default", async () => {
    answer = (_req, res) => json(res, 404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: "no" });
    const client = new MlflowClient(base, { retry: { attempts: 5, delayMs: 1, statuses: [503] } });
    const e = await client.call("GET", "experiments/get", { experiment_id: "1" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MlflowRestError);
    expect(e).toMatchObject({ status: 404, errorCode: "RESOURCE_DOES_NOT_EXIST" });
    expect((e as Error).message).toContain("experiments/get: HTTP 404");
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe("/api/2.0/mlflow/experiments/get?experiment_id=1");

    answer = (_req, res) => json(res, 503, {});
    expect((await client.request("POST", "/api/2.0/mlflow/runs/create", { json: {} })).status).toBe(503);
    expect(seen).toHaveLength(2);
  });

  it("times out a request that gets no answer, naming it", async () => {
    answer = () => undefined; // never answers
    const client = new MlflowClient(base, { timeoutMs: 100 });
    const e = await client.request("GET", "/slow").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransportError);
    expect(e).toMatchObject({ timedOut: true, code: "ETIMEDOUT" });
    expect((e as Error).message).toBe(`GET ${base}/slow: no answer within 0.1s`);
    expect(seen).toHaveLength(1); // a timeout is not retried by default: the server may still be working on it
  });

  it("uploads and downloads artifacts through the proxy, bytes intact", async () => {
    const stored = new Map<string, string>();
    answer = (req, res) => {
      if (req.method === "PUT") stored.set(req.url ?? "", seen.at(-1)?.body ?? "");
      res.end(stored.get(req.url ?? "") ?? "");
    };
    const client = new MlflowClient(base);
    await client.uploadArtifact("mlflow-artifacts:/1/abc/artifacts", "notes/a b.txt", new TextEncoder().encode("hi"));
    expect(seen.at(-1)).toMatchObject({
      url: "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/notes/a%20b.txt",
      type: "application/octet-stream",
    });
    const back = await client.downloadArtifact("mlflow-artifacts:/1/abc/artifacts", "notes/a b.txt");
    expect(new TextDecoder().decode(back)).toBe("hi");
  });
});

describe("waitUntilReady", () => {
  it("returns once /health answers 200", async () => {
    answer = (_req, res, n) => (n < 3 ? json(res, 502, {}) : res.end("OK"));
    const attempts: boolean[] = [];
    const ready = await waitUntilReady(new MlflowClient(base), {
      timeoutMs: 5_000,
      intervalMs: 10,
      onAttempt: (a) => attempts.push(a.ready),
    });
    expect(ready.attempts).toBe(3);
    expect(attempts).toEqual([false, false, true]);
    expect(seen.every((s) => s.url === "/health")).toBe(true);
  });

  it("times out with the last reason", async () => {
    answer = (_req, res) => {
      res.writeHead(503);
      res.end("<html><body>Service Unavailable</body></html>");
    };
    const e = await waitUntilReady(new MlflowClient(base), { timeoutMs: 100, intervalMs: 20 }).catch((x) => x);
    expect(e).toBeInstanceOf(NotReadyError);
    expect((e as NotReadyError).last).toBe("HTTP 503: Service Unavailable");
    expect((e as NotReadyError).attempts).toBeGreaterThan(1);
  });

  it("waits on the clock it is given: a minute of a fake clock passes at once", async () => {
    answer = (_req, res) => json(res, 502, {});
    const clock = fakeClock();
    const e = await waitUntilReady(new MlflowClient(base), { timeoutMs: 60_000, intervalMs: 10_000, clock }).catch(
      (x) => x,
    );
    expect(e).toBeInstanceOf(NotReadyError);
    expect((e as NotReadyError).attempts).toBe(7);
    expect(clock.slept).toEqual([10_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
  });

  it("stops early when the server itself keeps answering something else than 200 for settleMs", async () => {
    answer = (_req, res) => json(res, 500, {});
    const e = await waitUntilReady(new MlflowClient(base), { timeoutMs: 10_000, intervalMs: 10, settleMs: 50 }).catch(
      (x) => x,
    );
    expect(e).toBeInstanceOf(NotReadyError);
    expect((e as NotReadyError).elapsedMs).toBeLessThan(1_000);
  });

  it("composes checks, needs passes in a row, and stops at once when a check throws", async () => {
    answer = (req, res, n) => (req.url === "/health" || n > 4 ? res.end("OK") : json(res, 500, {}));
    const api = async (c: MlflowClient) => {
      const r = await c.request("GET", "/api/2.0/mlflow/experiments/search");
      return r.status === 200 ? ({ ready: true } as const) : { ready: false as const, reason: `HTTP ${r.status}` };
    };
    const ready = await waitUntilReady(new MlflowClient(base), {
      timeoutMs: 5_000,
      intervalMs: 5,
      checks: [api],
      consecutive: 3,
    });
    expect(ready.attempts).toBe(7); // requests 1-4 fail (500), 5-7 pass back to back
    const refused = new Error("wrong password");
    await expect(
      waitUntilReady(new MlflowClient(base), {
        timeoutMs: 5_000,
        intervalMs: 5,
        checks: [
          async () => {
            throw refused;
          },
        ],
      }),
    ).rejects.toBe(refused);
  });

  it("a refused connection is a reason to wait, not an error", async () => {
    const free = await closedPort();
    const e = await waitUntilReady(new MlflowClient(`http://127.0.0.1:${free}`), {
      timeoutMs: 60,
      intervalMs: 10,
    }).catch((x) => x);
    expect(e).toBeInstanceOf(NotReadyError);
    expect((e as NotReadyError).last).toContain("ECONNREFUSED");
  });
});
