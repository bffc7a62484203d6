import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promote } from "@mlflow-dev/aws/deploy";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import pins from "../../../pins.json" with { type: "json" };
import { FakeAws } from "../../aws/test/fake-aws.ts";
import { modelFromYaml, promoteOptions } from "../../aws/test/helpers.ts";
import { withEngine } from "../../aws/test/in-memory-engine.ts";
import { browserOpener } from "../src/commands/open.ts";
import { main } from "../src/main.ts";

/**
 * `status --env` and `open` at the CLI, against the in-memory AWS of fake-aws.ts: the command
 * builds its clients as usual and gets the fake's (stubbed) ones instead.
 */

const world: { aws?: FakeAws } = {};

vi.mock("@mlflow-dev/aws/deploy", async (original) => {
  const real = await original<typeof import("@mlflow-dev/aws/deploy")>();
  return {
    ...real,
    createAwsClients: async () => {
      if (!world.aws) throw new Error("test: no fake AWS started");
      return world.aws.clients;
    },
    destroyAwsClients: () => {},
  };
});

/** stderr holding nothing but the spec's one warning about its published image. */
const ONLY_IMAGE_WARNING = /^[^\n]* warning: images\.mlflow: [^\n]*VOLUME \/tmp[^\n]*\n$/;

const EXAMPLE = fileURLToPath(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url));

/** The basic example (auth as given) in a directory of its own. */
function specFile(auth: "none" | "basic" = "none"): { file: string; yaml: string } {
  const yaml = readFileSync(EXAMPLE, "utf8")
    .replace(/^# yaml-language-server.*\n/, "")
    .replace("auth: none", `auth: ${auth}`)
    // A published image (the default is built and pushed to ECR, which the fake does not model); its
    // one warning (whether it declares the scratch VOLUME) is the only line on stderr.
    .replace(/^backend:/m, `images:\n  mlflow: ghcr.io/mlflow/mlflow:v${pins.mlflow}-full\nbackend:`);
  const file = join(tempDir("mlflow-dev-status-"), "mlflow-dev.yaml");
  writeFileSync(file, yaml);
  return { file, yaml };
}

async function fakeAws(yaml: string, file: string): Promise<FakeAws> {
  world.aws = await FakeAws.start({ model: modelFromYaml(yaml, "staging", file) });
  return world.aws;
}

/** promote through the fake, as an earlier `mlflow-dev promote --env staging` would have. */
async function promoted(yaml: string, file: string): Promise<FakeAws> {
  const aws = await fakeAws(yaml, file);
  await promote(aws.model, ...withEngine(aws.clients, promoteOptions().opts));
  return aws;
}

let stdout = "";
let stderr = "";
beforeEach(() => {
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  world.aws?.restore();
  world.aws = undefined;
});

async function run(argv: string[]) {
  stdout = "";
  stderr = "";
  const code = await main(argv);
  return { code, stdout, stderr };
}

describe("status --env", () => {
  it("a healthy environment: exit 0, every field in --json", async () => {
    const { file, yaml } = specFile();
    const aws = await promoted(yaml, file);
    const primary = aws.service!.deployments![0]!;
    primary.createdAt = new Date("2026-01-01T10:00:00Z");
    primary.updatedAt = new Date("2026-01-01T10:05:00Z");
    const r = await run(["status", "--env", "staging", "--json", "-f", file]);
    expect(r.stderr).toMatch(ONLY_IMAGE_WARNING);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      environment: "staging",
      stack: { name: "mlflow-dev-tracking-staging", status: "UPDATE_COMPLETE" },
      service: {
        name: "tracking-mlflow",
        status: "ACTIVE",
        taskDefinition: "mlflow-dev-tracking-staging-mlflow:1",
        rolloutState: "COMPLETED",
        desired: 1,
        running: 1,
      },
      tasks: [{ id: "server", lastStatus: "RUNNING", health: "HEALTHY" }],
      url: "http://tracking.example.test",
      image: `ghcr.io/mlflow/mlflow:v${pins.mlflow}-full`,
      imageOrigin: "pull",
      mlflowVersion: pins.mlflow,
      mlflowVersionFrom: "task-definition",
      lastRollout: { createdAt: "2026-01-01T10:00:00.000Z", updatedAt: "2026-01-01T10:05:00.000Z" },
      healthy: true,
      problems: [],
    });
  });

  it("a healthy environment as text: the stack, rollout, tasks, URL, image and version", async () => {
    const { file, yaml } = specFile();
    await promoted(yaml, file);
    const r = await run(["status", "--env", "staging", "-f", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("mlflow-dev-tracking-staging UPDATE_COMPLETE");
    expect(r.stdout).toContain("rollout COMPLETED");
    expect(r.stdout).toContain("1/1 running");
    expect(r.stdout).toContain("server  RUNNING  HEALTHY");
    expect(r.stdout).toContain(`${pins.mlflow} (from the running task definition)`);
    expect(r.stdout).toContain("last rollout: (not reported)");
    expect(r.stdout).toContain("healthy: http://tracking.example.test");
  });

  it("a failing environment: exit 1, the rollout and the missing tasks named", async () => {
    const { file, yaml } = specFile();
    const aws = await promoted(yaml, file);
    const svc = aws.service!;
    svc.runningCount = 0;
    svc.deployments![0]!.rolloutState = "IN_PROGRESS";
    svc.deployments![0]!.rolloutStateReason = "ECS deployment circuit breaker: tasks failed to start.";
    aws.stack!.status = "UPDATE_ROLLBACK_COMPLETE";
    aws.stack!.finalStatus = "UPDATE_ROLLBACK_COMPLETE";
    const json = await run(["status", "--env", "staging", "--json", "-f", file]);
    expect(json.code).toBe(1);
    const s = JSON.parse(json.stdout);
    expect(s).toMatchObject({
      healthy: false,
      stack: { status: "UPDATE_ROLLBACK_COMPLETE" },
      service: { rolloutState: "IN_PROGRESS", running: 0, desired: 1 },
    });
    expect(s.problems).toEqual([
      "the stack mlflow-dev-tracking-staging is UPDATE_ROLLBACK_COMPLETE",
      "the rollout of mlflow-dev-tracking-staging-mlflow:1 is IN_PROGRESS (ECS deployment circuit breaker: tasks failed to start.)",
      "0 of 1 task(s) running",
    ]);
    const text = await run(["status", "--env", "staging", "-f", file]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(
      "not healthy:\n  - the stack mlflow-dev-tracking-staging is UPDATE_ROLLBACK_COMPLETE",
    );
    expect(text.stdout).toContain("in the CloudWatch log group /mlflow-dev/tracking/staging");
  });

  it("no stack: exit 1, nothing deployed, run promote", async () => {
    const { file, yaml } = specFile();
    await fakeAws(yaml, file);
    const r = await run(["status", "--env", "staging", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("nothing deployed for staging: run `mlflow-dev promote --env staging -f");
    expect(r.stderr).toContain("There is no stack mlflow-dev-tracking-staging in eu-west-1");
  });

  it("local status refuses the AWS flags without --env", async () => {
    const { file } = specFile();
    const r = await run(["status", "--profile", "p", "-f", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("status: --profile is for an AWS environment and needs --env <name>");
  });
});

describe("open", () => {
  it("local: the spec's port on the loopback address, no login with auth: none", async () => {
    const { file } = specFile();
    const r = await run(["open", "--no-browser", "-f", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("http://127.0.0.1:5050\n  no login (auth: none)\n");
  });

  it("local with auth: basic: the .env variable that holds the password, never the password", async () => {
    const { file } = specFile("basic");
    const r = await run(["open", "--json", "-f", file]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      environment: "local",
      url: "http://127.0.0.1:5050",
      auth: "basic",
      credentials: {
        kind: "env-file",
        file: ".mlflow-dev/.env",
        variable: "MLFLOW_DEV_AUTH_ADMIN_PASSWORD",
        username: "admin",
      },
    });
  });

  it("AWS: the stack's URL and the Secrets Manager secret of the login", async () => {
    const { file, yaml } = specFile("basic");
    await promoted(yaml, file);
    const r = await run(["open", "--env", "staging", "--no-browser", "-f", file]);
    expect(r.stderr).toMatch(ONLY_IMAGE_WARNING);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "http://tracking.example.test\n  user admin, password in the Secrets Manager secret mlflow-dev/tracking/staging/auth-admin-password (eu-west-1)\n",
    );
  });

  it("AWS without a stack: exit 1, nothing deployed", async () => {
    const { file, yaml } = specFile();
    await fakeAws(yaml, file);
    const r = await run(["open", "--env", "staging", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("open: nothing deployed for staging");
  });

  it("finds no opener on an empty PATH (and open then only prints)", () => {
    expect(browserOpener("linux", "")).toBeUndefined();
    expect(browserOpener("win32", "/usr/bin")).toBeUndefined();
  });
});
