import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAwsClients, destroyAwsClients } from "@mlflow-dev/aws/deploy";
import { checkoutProject } from "@mlflow-dev/compose/runtime";
import {
  BROKEN_SERVER_LINE,
  buildBrokenServerImage,
  EMULATOR,
  emulatorAnswers,
  imageOverride,
  installedProject,
  leftovers,
  NOTHING_LEFT,
  type NodeRuntime,
  nodeRuntimes,
  npx,
  packCli,
  ROOT,
  removeLeftovers,
  requireImagesInCi,
  stackPorts,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * `mlflow-dev rehearse --env staging` as a user runs it: the published tarball installed with npm
 * into a fresh project, examples/basic as its spec, one command. The twin is the emulator already
 * running on this machine (reused, never stopped); the local stack runs the images CI built
 * (MLFLOW_DEV_IMAGES), and so does the rehearsed service. Afterwards nothing the rehearsal started
 * is left: no local containers or volumes, no stack, task or database on the twin.
 */
const NAME = "itrehearse";
/** Every checkout of the spec has a project that starts so. */
const STACKS = `mlflow-dev-${NAME}`;
/** The AWS stack of its staging environment on the twin (named by the spec, whatever the checkout). */
const STACK = `${STACKS}-staging`;
/** The compose project of this run's checkout. */
let PROJECT = STACKS;
const ACCOUNT = "777700003333";
const REGION = "eu-west-1";
const PORTS = stackPorts(import.meta.url);

const pinned: NodeRuntime = (() => {
  const version = `v${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).devDependencies.node}`;
  const node = nodeRuntimes().find((n) => n.version === version);
  if (!node) throw new Error(`the pinned Node ${version} is not installed (pnpm install)`);
  return node;
})();

const emulatorUp = await emulatorAnswers("test/integration/rehearse.test.ts");
let project: string;

describe.skipIf(!emulatorUp && !process.env.CI)("rehearse from the installed package", () => {
  beforeAll(() => {
    if (!emulatorUp) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    requireImagesInCi();
    removeLeftovers(STACKS);
    project = installedProject(packCli(), pinned, NAME);
    PROJECT = checkoutProject(NAME, project);
    const spec = readFileSync(join(ROOT, "examples/basic/mlflow-dev.yaml"), "utf8")
      .replace(/^name: .*$/m, `name: ${NAME}`)
      .replace(
        /^ {2}local:\n {4}ports:\n {6}mlflow: \d+\n/m,
        `  local:\n    ports:\n${Object.entries(PORTS)
          .map(([k, v]) => `      ${k}: ${v}\n`)
          .join("")}`,
      )
      .replaceAll("123456789012", ACCOUNT)
      .replace(/^( {4}bucket: ).*$/m, `$1${NAME}-${Date.now().toString(36)}-artifacts`)
      .replace("../../packages/spec/schema.json", "./mlflow-dev.schema.json");
    writeFileSync(join(project, "mlflow-dev.yaml"), spec);
    expect(npx(pinned, ["validate"], project).code).toBe(0);
  }, 900_000);

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
    removeLeftovers(STACKS);
  });

  /** Nothing the rehearsal started is left: local containers and volumes, the twin's stack, its tasks and database. */
  async function nothingLeft(): Promise<void> {
    expect(
      await leftovers({
        project: PROJECT,
        specName: NAME,
        stack: `${STACKS}-staging`,
        region: REGION,
        account: ACCOUNT,
        endpoint: EMULATOR,
      }),
    ).toEqual(NOTHING_LEFT);
    // The twin was running before: it still is.
    expect((await fetch(`${EMULATOR}/_ministack/health`)).ok).toBe(true);
  }

  it("rehearse --env staging: the rollout on the twin passes, live parity finds no difference, nothing is left running", async () => {
    const r = npx(pinned, ["rehearse", "--env", "staging", "--json"], project, {
      timeout: 1_500_000,
      env: { MLFLOW_DEV_IMAGES: process.env.MLFLOW_DEV_IMAGES ?? "" },
    });
    expect(r.code, `rehearse failed:\n${r.stderr.slice(-4000)}\n${r.stdout}`).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      environment: "staging",
      verdict: "passed",
      twin: { endpoint: "http://127.0.0.1:4566", started: false },
      staticParity: { drift: 0 },
      rollout: {
        ok: true,
        stack: `${STACKS}-staging`,
        url: expect.stringMatching(/^http:\/\/\S+\.elb\.amazonaws\.com$/),
      },
      liveParity: { ok: true, differences: 0, incomplete: 0 },
      kept: false,
    });
    expect(result.changes).toEqual([expect.stringContaining("deletionProtection: false on the twin")]);
    expect(result.enforced.map((b: { note: string }) => b.note)).toContain("patch 11");
    expect(result.notEnforced.length).toBeGreaterThan(0);
    // The recordings stay for the user; the rehearsal's copy of the spec does not.
    const recordings = JSON.parse(
      readFileSync(join(project, ".mlflow-dev/rehearse/staging/live-recordings.json"), "utf8"),
    );
    expect(recordings.local.steps.length).toBe(recordings.remote.steps.length);
    expect(
      JSON.parse(readFileSync(join(project, ".mlflow-dev/rehearse/staging/live-parity.json"), "utf8")).differences,
    ).toEqual([]);
    expect(existsSync(join(project, ".mlflow-dev-rehearse-staging.yaml"))).toBe(false);
    expect(r.stderr).toContain("reused the running twin");
    expect(r.stderr).toContain("smoke test");
    expect(result.teardown).toEqual([
      expect.stringContaining(`the twin's stack ${STACKS}-staging`),
      expect.stringContaining("the local stack and its volumes (created by the rehearsal)"),
    ]);

    await nothingLeft();
  }, 1_500_000);

  it("a revision whose server cannot start: rehearse exits 1 naming its cause, the twin rolled the stack back, nothing is left", async () => {
    const image = buildBrokenServerImage(imageOverride("mlflow") ?? `localhost/mlflow-dev-local/mlflow:${pins.mlflow}`);
    const started = Date.now();
    // The local stack runs the good image (MLFLOW_DEV_IMAGES); the twin the broken one.
    const r = npx(pinned, ["rehearse", "--env", "staging", "--json"], project, {
      timeout: 1_500_000,
      env: { MLFLOW_DEV_IMAGES: process.env.MLFLOW_DEV_IMAGES ?? "", MLFLOW_DEV_DEPLOY_IMAGE: image },
    });
    console.log(`failed rehearsal (a server that exits 3): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(r.code, `rehearse:\n${r.stderr.slice(-4000)}\n${r.stdout}`).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      verdict: "failed",
      rollout: { ok: false, stack: STACK },
      kept: false,
    });
    expect(result.liveParity).toBeUndefined();
    // The cause, from the twin's stopped tasks, and CloudFormation's rollback.
    const cause: string = result.rollout.cause;
    expect(cause).toMatch(/stopped before the rollout completed/);
    expect(cause).toMatch(/the newest: Essential container exited, exit code 3\n/);
    expect(cause).toContain(BROKEN_SERVER_LINE);
    expect(cause).toContain("ECS Deployment Circuit Breaker was triggered");
    expect(cause).toContain(`the stack ${STACK} ended in UPDATE_ROLLBACK_COMPLETE`);
    expect(cause).toContain("CloudFormation rolled the stack back and removed the service it had created");
    expect(r.stderr).toContain(`the twin runs ${image} (MLFLOW_DEV_DEPLOY_IMAGE)`);
    expect(result.teardown).toEqual([
      expect.stringContaining(`the twin's stack ${STACK}`),
      expect.stringContaining("the local stack and its volumes (created by the rehearsal)"),
    ]);

    // The twin's own record of the rollback: the deleted stack's events, by its unique id as on AWS.
    const clients = await createAwsClients({
      region: REGION,
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
    });
    try {
      const summaries = (await clients.cloudformation.listStacks({})).StackSummaries ?? [];
      const id = summaries
        .filter((s) => s.StackName === STACK)
        .sort((a, b) => (b.CreationTime?.getTime() ?? 0) - (a.CreationTime?.getTime() ?? 0))[0]?.StackId;
      // The deleted stack's unique id, as CloudFormation gives it: arn:...:stack/<name>/<uuid>.
      expect(id).toMatch(new RegExp(`^arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${STACK}/[0-9a-f-]+$`));
      const events: { id?: string; status?: string; reason?: string }[] = [];
      let token: string | undefined;
      do {
        const page = await clients.cloudformation.describeStackEvents({ StackName: id, NextToken: token });
        for (const e of page.StackEvents ?? [])
          events.push({ id: e.LogicalResourceId, status: e.ResourceStatus, reason: e.ResourceStatusReason });
        token = page.NextToken;
      } while (token);
      const at = (logicalId: string, status: RegExp) =>
        events.findIndex((e) => e.id === logicalId && status.test(e.status ?? ""));
      // Newest first: deleted by the teardown, after the rollback, after the service failed.
      expect(at(STACK, /^DELETE_COMPLETE$/)).toBeGreaterThanOrEqual(0);
      expect(at(STACK, /^UPDATE_ROLLBACK_COMPLETE$/)).toBeGreaterThan(at(STACK, /^DELETE_COMPLETE$/));
      const failed = events[at("Service", /^(CREATE|UPDATE)_FAILED$/)];
      expect(failed?.reason).toContain("ECS Deployment Circuit Breaker was triggered");
      expect(at("Service", /_FAILED$/)).toBeGreaterThan(at(STACK, /^UPDATE_ROLLBACK_COMPLETE$/));
    } finally {
      destroyAwsClients(clients);
    }
    await nothingLeft();
  }, 1_500_000);
});
