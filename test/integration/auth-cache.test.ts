import { spawnSync } from "node:child_process";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { checkoutProject } from "@mlflow-dev/compose/runtime";
import {
  cli,
  projectContainers,
  readEnvFile,
  removeLeftovers,
  requireImagesInCi,
  stackPorts,
  testSpecDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The basic-auth credential cache for real, on the local stack at the staging task size (0.5 vCPU,
 * 1 GiB) with 2 workers and a short TTL: the auth config the server runs with, and a password
 * changed through MLflow's API: refused at once by the worker that handled the change, by every
 * worker once the TTL has run out.
 */
const NAME = "itauthttl";
/** Every checkout of the spec has a project that starts so. */
const STACKS = `mlflow-dev-${NAME}`;
/** The compose project of this run's checkout. */
let PROJECT = STACKS;
const PORTS = stackPorts(import.meta.url);
const TTL = 3;
let dir: string;
let env: Record<string, string>;

/** One HTTP connection (kept alive): uvicorn's worker that accepted it answers all its requests. */
function connection() {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (method: string, path: string, auth: [string, string], json?: unknown) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const body = json === undefined ? undefined : JSON.stringify(json);
      const req = request(
        {
          agent,
          host: "127.0.0.1",
          port: PORTS.mlflow,
          method,
          path,
          headers: {
            authorization: `Basic ${Buffer.from(auth.join(":")).toString("base64")}`,
            ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            text += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  return {
    send,
    search: async (auth: [string, string]) =>
      (await send("GET", "/api/2.0/mlflow/experiments/search?max_results=1", auth)).status,
    close: () => agent.destroy(),
  };
}

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(STACKS);
  dir = testSpecDir(NAME, PORTS, (spec) => spec.set("mlflow.auth", "basic").set("mlflow.authCacheTtlSeconds", TTL));
  PROJECT = checkoutProject(NAME, dir);
  const up = cli(["up"], { cwd: dir });
  expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
  env = readEnvFile(join(dir, ".mlflow-dev/.env"));
}, 600_000);

afterAll(() => {
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

describe("the basic-auth credential cache on the local stack", () => {
  it("the server runs with the spec's TTL in its auth config, with 2 workers", () => {
    const server = projectContainers(PROJECT).find((n) => /[-_]mlflow[-_]\d+$/.test(n));
    expect(server, projectContainers(PROJECT).join(", ")).toBeDefined();
    const ini = spawnSync("docker", ["exec", server ?? "", "cat", "/tmp/mlflow-auth.ini"], { encoding: "utf8" });
    expect(ini.status, ini.stderr).toBe(0);
    expect(ini.stdout).toContain(`\nauth_cache_ttl_seconds = ${TTL}\n`);
    const cmd = spawnSync("docker", ["inspect", server ?? "", "--format", "{{json .Config.Cmd}}"], {
      encoding: "utf8",
    });
    expect(cmd.stdout).toContain("--workers 2 ");
  });

  it("a password changed through the API: refused at once by the worker that handled it, by every worker after the TTL", async () => {
    const admin: [string, string] = ["admin", env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD ?? ""];
    const old: [string, string] = ["bob", "Bob-first-password-1"];
    const changed: [string, string] = ["bob", "Bob-second-password-2"];
    const setup = connection();
    const created = await setup.send("POST", "/api/2.0/mlflow/users/create", admin, {
      username: old[0],
      password: old[1],
    });
    expect(created.status, created.text).toBe(200);
    setup.close();

    // Eight connections, spread by the kernel over the 2 workers: each worker verifies bob's
    // password once and caches it (the chance that all eight land on one worker is under 1%).
    const connections = Array.from({ length: 8 }, connection);
    try {
      expect(await Promise.all(connections.map((c) => c.search(old)))).toEqual(Array(8).fill(200));
      expect(await Promise.all(connections.map((c) => c.search(old)))).toEqual(Array(8).fill(200));

      // bob changes his own password on the first connection: that worker drops his cached credential.
      const [first] = connections;
      if (!first) throw new Error("no connection");
      const changedAt = performance.now();
      const update = await first.send("PATCH", "/api/2.0/mlflow/users/update-password", old, {
        username: old[0],
        password: changed[1],
        current_password: old[1],
      });
      expect(update.status, update.text).toBe(200);
      expect(await first.search(old)).toBe(401);
      expect(await first.search(changed)).toBe(200);

      // Once the TTL has run out, no worker accepts the old password. New connections (the warm
      // ones may have reached uvicorn's 5 s keep-alive limit by then), spread over both workers.
      await new Promise((r) => setTimeout(r, Math.max(0, (TTL + 1) * 1000 - (performance.now() - changedAt))));
      const fresh = Array.from({ length: 16 }, connection);
      try {
        for (const c of fresh) {
          expect(await c.search(old)).toBe(401);
          expect(await c.search(changed)).toBe(200);
        }
      } finally {
        for (const c of fresh) c.close();
      }
    } finally {
      for (const c of connections) c.close();
    }
  }, 120_000);
});
