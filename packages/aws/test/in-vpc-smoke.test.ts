import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AwsClients } from "../src/deploy/engine/clients.ts";
import { type AwsEngine, createAwsEngine } from "../src/deploy/engine/engine.ts";
import { DeployError } from "../src/deploy/errors.ts";
import { toOneOffRunTask } from "../src/deploy/exec.ts";
import { checksRunInVpc, serviceChecksFor } from "../src/deploy/in-vpc-smoke.ts";
import {
  IN_VPC_RESULT_MARKER,
  IN_VPC_SMOKE_LOADER,
  IN_VPC_SMOKE_PROGRAM,
  inVpcFailure,
  inVpcSmokeArgv,
  parseInVpcResult,
} from "../src/deploy/in-vpc-smoke-program.ts";
import { smokeTest, waitForHealth } from "../src/deploy/smoke.ts";
import { fakeClock } from "./fake-clock.ts";
import { exampleModel, modelFromYaml } from "./helpers.ts";

/**
 * The smoke test inside the VPC: its Python program run here (python3) against a stand-in MLflow
 * reached as the internal load balancer's name, and the one-off task around it (fake ECS and logs).
 */

const LB = "internal-mlflow-lb-1.eu-west-1.elb.amazonaws.com";
let server: Server;
let standIn: string;
let health: number[];
let hosts: Set<string | undefined>;
let auth: Set<string | undefined>;
let createRunStatus: number;
let calls: string[];

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
      calls.push(`${req.method} ${path}`);
      if (path === "/health") {
        const status = health.shift() ?? 200;
        res.writeHead(status);
        return res.end(status === 200 ? "OK" : "Bad Gateway");
      }
      if (path.startsWith("/api/2.0/mlflow-artifacts/artifacts/")) {
        if (req.method === "PUT") artifacts.set(path, body);
        return artifacts.has(path) ? res.end(artifacts.get(path)) : json(res, 404, {});
      }
      const api = path.replace("/api/2.0/mlflow/", "");
      const sent = body.length ? (JSON.parse(body.toString()) as Record<string, unknown>) : {};
      if (api === "experiments/get-by-name") return json(res, 404, { error_code: "RESOURCE_DOES_NOT_EXIST" });
      if (api === "experiments/create") return json(res, 200, { experiment_id: "7" });
      if (api === "runs/create")
        return createRunStatus === 200
          ? json(res, 200, { run: { info: { run_id: "abc", artifact_uri: "mlflow-artifacts:/7/abc/artifacts" } } })
          : json(res, createRunStatus, { error_code: "INTERNAL_ERROR", message: "the store refused the run" });
      if (api === "runs/log-metric") metrics.push({ key: String(sent.key), value: Number(sent.value) });
      if (api === "runs/get") return json(res, 200, { run: { data: { metrics } } });
      json(res, 200, {});
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  standIn = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  health = [];
  hosts = new Set();
  auth = new Set();
  createRunStatus = 200;
  calls = [];
});

/** Runs the program as the task would (`python -c <program> <words>`), here with python3. */
function runProgram(argv: string[], env: Record<string, string> = {}) {
  expect(argv.slice(0, 3)).toEqual(["python", "-c", IN_VPC_SMOKE_LOADER]);
  return new Promise<{ code: number; lines: string[] }>((resolve) => {
    execFile(
      "python3",
      ["-c", IN_VPC_SMOKE_LOADER, ...argv.slice(3)],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (error, stdout) => {
        const code = error ? (typeof error.code === "number" ? error.code : 99) : 0;
        resolve({ code, lines: stdout.split("\n").filter(Boolean) });
      },
    );
  });
}

const model = exampleModel("basic", "staging");
const args = (over: Partial<Parameters<typeof inVpcSmokeArgv>[0]> = {}) =>
  inVpcSmokeArgv({
    mode: "smoke",
    target: { url: `http://${LB}`, via: standIn },
    emulated: false,
    healthPath: "/health",
    timeoutMs: 10_000,
    pollMs: 100,
    environment: "staging",
    experiment: "mlflow-dev-smoke-test",
    ...over,
  });

describe("the in-VPC smoke program", () => {
  it("waits out the load balancer's 502s, then round-trips a run, a metric and an artifact, signed in with the task's secret", async () => {
    health = [502, 502];
    const r = await runProgram(args({ user: "admin" }), { MLFLOW_AUTH_ADMIN_PASSWORD: "task-secret-pw" });
    expect(r.code, r.lines.join("\n")).toBe(0);
    expect(r.lines.filter((l) => !l.startsWith(IN_VPC_RESULT_MARKER))).toEqual([
      `in-VPC smoke test: GET /health: 200 through ${LB}`,
      "in-VPC smoke test: tracking: experiment 7, run abc, metric smoke_check=1 logged and read back",
      "in-VPC smoke test: artifact: uploaded through the server and read back (7/abc/artifacts/mlflow-dev-smoke.txt)",
    ]);
    expect(parseInVpcResult(r.lines.at(-1) ?? "")).toEqual({
      url: `http://${LB}`,
      experimentId: "7",
      runId: "abc",
      artifactPath: "7/abc/artifacts/mlflow-dev-smoke.txt",
    });
    // Every request carried the load balancer's name as Host, and the admin's credentials.
    expect([...hosts]).toEqual([LB]);
    expect(auth).toContain(`Basic ${Buffer.from("admin:task-secret-pw").toString("base64")}`);
    expect(calls).toContain("POST /api/2.0/mlflow/runs/update");
  }, 40_000);

  it("on the emulator it dials the address the task's AWS_ENDPOINT_URL names", async () => {
    const r = await runProgram(args({ mode: "health", target: { url: `http://${LB}` }, emulated: true }), {
      AWS_ENDPOINT_URL: standIn,
    });
    expect(r.code, r.lines.join("\n")).toBe(0);
    expect([...hosts]).toEqual([LB]);
    expect(calls).toEqual(["GET /health"]);
    expect(parseInVpcResult(r.lines.at(-1) ?? "")).toEqual({ url: `http://${LB}` });
  }, 40_000);

  it("a tracking API that fails: exit 1, and the line says which call and what it answered", async () => {
    createRunStatus = 500;
    const r = await runProgram(args());
    expect(r.code).toBe(1);
    expect(inVpcFailure(r.lines)).toMatch(/^POST runs\/create: HTTP 500 .*the store refused the run/);
    expect(r.lines.some((l) => parseInVpcResult(l))).toBe(false);
  }, 40_000);

  it("a health path that never answers 200 within the timeout fails, naming the last answer", async () => {
    health = Array(100).fill(500);
    const r = await runProgram(args({ mode: "health", timeoutMs: 1_000 }));
    expect(r.code).toBe(1);
    expect(inVpcFailure(r.lines)).toMatch(/^GET \/health did not answer 200 within [12]s \(last: 500\)$/);
  }, 40_000);

  it("basic auth without the secret in the task's environment fails before any request", async () => {
    const r = await runProgram(args({ user: "admin" }));
    expect(r.code).toBe(1);
    expect(inVpcFailure(r.lines)).toMatch(/the task has no MLFLOW_AUTH_ADMIN_PASSWORD/);
    expect(calls).toEqual([]);
  }, 40_000);

  it("its words hold no secret, and the task's overrides fit ECS's 8192 characters", () => {
    const yaml = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");
    const basicAuth = modelFromYaml(yaml.replace("auth: none", "auth: basic"), "staging");
    expect(basicAuth.mlflow.auth).toBe("basic");
    const argv = inVpcSmokeArgv({
      mode: "smoke",
      target: { url: "https://mlflow.example.com", via: `https://${LB}` },
      emulated: false,
      healthPath: "/health",
      timeoutMs: 300_000,
      pollMs: 5_000,
      environment: "staging",
      experiment: "mlflow-dev-smoke-test",
      user: "admin",
    });
    expect(argv.slice(3)).toEqual([
      "smoke",
      "--url",
      "https://mlflow.example.com",
      "--dial",
      `https://${LB}`,
      "--health-path",
      "/health",
      "--timeout",
      "300",
      "--poll",
      "5",
      "--environment",
      "staging",
      "--experiment",
      "mlflow-dev-smoke-test",
      "--user",
      "admin",
    ]);
    const input = toOneOffRunTask(
      basicAuth,
      { taskDefinition: "td:1", networkConfiguration: { awsvpcConfiguration: { subnets: ["s"] } } },
      "mlflow",
      argv,
    );
    // With room for a long domain name (twice: the URL and the load balancer to dial).
    expect(JSON.stringify(input.overrides).length).toBeLessThan(8192 - 2 * 253);
    // The loader carries exactly the program.
    const encoded = /b64decode\("([^"]+)"\)/.exec(IN_VPC_SMOKE_LOADER)?.[1] ?? "";
    expect(inflateSync(Buffer.from(encoded, "base64")).toString()).toBe(IN_VPC_SMOKE_PROGRAM);
  });
});

describe("promote's checks for an environment", () => {
  it("an internal load balancer is checked from inside the VPC; an internet-facing one over HTTP from here", () => {
    expect(checksRunInVpc(model)).toBe(true);
    const open = exampleModel("existing-vpc", "prod");
    expect(open.target.access.loadBalancer).toBe("internet-facing");
    expect(checksRunInVpc(open)).toBe(false);
    const checks = serviceChecksFor(open, {} as AwsEngine, {
      report: { step: () => undefined, info: () => undefined, warn: () => undefined },
      waits: { pollMs: 1, stackTimeoutMs: 1, serviceTimeoutMs: 1, taskTimeoutMs: 1, healthTimeoutMs: 1 },
    });
    expect(checks).toEqual({ waitForHealth, smokeTest });
  });

  /** ECS and CloudWatch Logs that run one task printing `lines`, then stopping with `exitCode`. */
  function fakeAws(lines: string[], exitCode: number) {
    const runTasks: { overrides?: { containerOverrides?: { command?: string[] }[] } }[] = [];
    let looks = 0;
    const ecs = {
      describeServices: async () => ({
        services: [
          {
            status: "ACTIVE",
            taskDefinition: "arn:aws:ecs:eu-west-1:1:task-definition/f:3",
            networkConfiguration: { awsvpcConfiguration: { subnets: ["s"] } },
          },
        ],
      }),
      describeTaskDefinition: async () => ({
        taskDefinition: {
          containerDefinitions: [
            {
              name: "mlflow",
              logConfiguration: {
                logDriver: "awslogs",
                options: { "awslogs-group": "/g", "awslogs-stream-prefix": "server", "awslogs-region": "eu-west-1" },
              },
            },
          ],
        },
      }),
      runTask: async (input: (typeof runTasks)[number]) => {
        runTasks.push(input);
        return { tasks: [{ taskArn: "arn:aws:ecs:eu-west-1:1:task/c/t1" }] };
      },
      describeTasks: async () => {
        looks++;
        return looks < 2
          ? { tasks: [{ lastStatus: "RUNNING" }] }
          : { tasks: [{ lastStatus: "STOPPED", containers: [{ name: "mlflow", exitCode }] }] };
      },
      stopTask: async () => ({}),
    };
    const logs = {
      getLogEvents: async (input: { nextToken?: string }) => ({
        events: input.nextToken ? [] : lines.map((message) => ({ message, timestamp: 1 })),
        nextForwardToken: "end",
      }),
    };
    return { clients: { ecs, logs, endpointUrl: "http://127.0.0.1:4566" } as unknown as AwsClients, runTasks };
  }

  const options = (info: string[]) => ({
    report: { step: () => undefined, info: (l: string) => info.push(l), warn: () => undefined },
    waits: { pollMs: 1000, stackTimeoutMs: 1, serviceTimeoutMs: 1, taskTimeoutMs: 600_000, healthTimeoutMs: 300_000 },
    clock: fakeClock(),
  });

  it("the smoke test runs as a one-off task: its lines streamed, its result returned, the artifact's object named", async () => {
    const aws = fakeAws(
      [
        `in-VPC smoke test: GET /health: 200 through ${LB}`,
        `${IN_VPC_RESULT_MARKER}{"url":"http://${LB}","experimentId":"7","runId":"abc","artifactPath":"7/abc/artifacts/f.txt"}`,
      ],
      0,
    );
    const info: string[] = [];
    const opts = options(info);
    const checks = serviceChecksFor(model, createAwsEngine(aws.clients, opts), opts);
    // The smoke task waits for the health path itself: promote starts no separate health task.
    expect(checks.smokeWaitsForHealth).toBe(true);
    const result = await checks.smokeTest({ url: `http://${LB}`, via: "http://127.0.0.1:4566" }, model, {
      report: options(info).report,
      healthTimeoutMs: 300_000,
      pollMs: 1000,
    });
    expect(result).toEqual({
      url: `http://${LB}`,
      oneOffTask: "arn:aws:ecs:eu-west-1:1:task/c/t1",
      experimentId: "7",
      runId: "abc",
      artifactPath: "7/abc/artifacts/f.txt",
      artifactObject: `${model.artifacts.destination}/7/abc/artifacts/f.txt`,
    });
    expect(info).toContain(`in-VPC smoke test: GET /health: 200 through ${LB}`);
    expect(info.some((l) => l.includes(IN_VPC_RESULT_MARKER))).toBe(false);
    // The emulator's clients: the task dials its AWS_ENDPOINT_URL.
    const command = aws.runTasks[0]?.overrides?.containerOverrides?.[0]?.command ?? [];
    expect(command).toContain("--dial-aws-endpoint");
    expect(command).toContain(IN_VPC_SMOKE_LOADER);
  });

  it("a task that exits 1 fails the smoke test with the program's own reason", async () => {
    const aws = fakeAws(["in-VPC smoke test: failed: POST runs/create: HTTP 500 boom"], 1);
    const opts = options([]);
    const checks = serviceChecksFor(model, createAwsEngine(aws.clients, opts), opts);
    const error = await checks
      .smokeTest({ url: `http://${LB}` }, model, { report: options([]).report, healthTimeoutMs: 1, pollMs: 1 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(DeployError);
    expect((error as Error).message).toBe(
      "the smoke test inside the VPC failed (task t1, exit code 1): POST runs/create: HTTP 500 boom",
    );
  });
});
