import { existsSync } from "node:fs";
import { join } from "node:path";
import { type AwsClients, createAwsClients, destroyAwsClients } from "@mlflow-dev/aws/deploy";
import {
  cli,
  cliInBackground,
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  leftovers,
  NOTHING_LEFT,
  removeLeftovers,
  requireImagesInCi,
  showRun,
  specFixture,
  stackPorts,
  tempDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Ctrl-C during `mlflow-dev rehearse`: once the twin's stack exists (promote's infrastructure step
 * runs), SIGINT goes to the rehearsal. It passes the signal on to the running promote (which
 * releases its deploy lock), waits for the stack's change set to settle, destroys the stack, takes
 * the local stack down and exits 130: nothing it started is left.
 */
const NAME = `itrehint-${Math.random().toString(36).slice(2, 7)}`;
const PROJECT = `mlflow-dev-${NAME}`;
const STACK = `${PROJECT}-staging`;
const ACCOUNT = "626262626262";
const REGION = "eu-west-1";

const emulatorUp = await emulatorAnswers("test/integration/rehearse-interrupt.test.ts");
let dir: string;
let clients: AwsClients;

/** The stack's status on the twin; undefined when there is none (or it was deleted). */
async function stackStatus(): Promise<string | undefined> {
  const status = await clients.cloudformation
    .describeStacks({ StackName: STACK })
    .then((r) => r.Stacks?.[0]?.StackStatus)
    .catch(() => undefined);
  return status === "DELETE_COMPLETE" ? undefined : status;
}

describe.skipIf(!emulatorUp && !process.env.CI)("rehearse interrupted by Ctrl-C", () => {
  beforeAll(async () => {
    if (!emulatorUp) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    requireImagesInCi();
    removeLeftovers(PROJECT);
    dir = tempDir(`${PROJECT}-`);
    emulatedEnv(specFixture("examples/basic").name(NAME), { account: ACCOUNT })
      .env("local", { ports: stackPorts(import.meta.url) })
      .write(dir);
    clients = await createAwsClients({
      region: REGION,
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
    });
  });

  afterAll(async () => {
    // Whatever a failed run left on the twin.
    if (clients && dir && (await stackStatus()))
      cli(["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], {
        cwd: dir,
        env: { AWS_ENDPOINT_URL: EMULATOR, AWS_ACCESS_KEY_ID: ACCOUNT, AWS_SECRET_ACCESS_KEY: "test" },
        isolate: true,
      });
    removeLeftovers(PROJECT);
    if (clients) destroyAwsClients(clients);
  }, 600_000);

  it("SIGINT once the twin's stack exists: the running promote stops, everything is torn down, exit 130", async () => {
    const run = cliInBackground(["rehearse", "--env", "staging"], {
      cwd: dir,
      env: { MLFLOW_DEV_IMAGES: process.env.MLFLOW_DEV_IMAGES ?? "" },
      isolate: true,
      timeout: 1_200_000,
    });
    let exited = false;
    void run.done.then(() => {
      exited = true;
    });
    const deadline = Date.now() + 900_000;
    while (!(await stackStatus())) {
      if (exited || Date.now() > deadline)
        throw new Error(`the twin's stack never appeared:\n${run.stderr().slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const interruptedAt = Date.now();
    run.child.kill("SIGINT");
    const r = await run.done;
    console.log(`rehearse after SIGINT: torn down and exited in ${((Date.now() - interruptedAt) / 1000).toFixed(1)} s`);
    expect(r.code, showRun(r, 6000)).toBe(130);
    expect(r.stderr).toContain("SIGINT: stopping the running step, then tearing down what the rehearsal started");
    // promote got the signal and released its deploy lock.
    expect(r.stderr).toContain("promote staging interrupted; releasing its deploy lock");
    expect(r.stderr).toContain(`torn down: the twin's stack ${STACK} with its database and bucket`);
    expect(r.stderr).toContain("torn down: the local stack and its volumes (created by the rehearsal)");
    expect(r.stderr).toContain("interrupted by SIGINT: exiting 130");

    // Nothing is left: the stack, the deploy lock, the tasks and database on the twin, the local stack.
    expect(await stackStatus()).toBeUndefined();
    await expect(clients.ssm.getParameter({ Name: `/mlflow-dev/${NAME}/staging/deploy-lock` })).rejects.toThrow(
      /ParameterNotFound|not found/i,
    );
    expect(
      await leftovers({
        project: PROJECT,
        specName: NAME,
        stack: STACK,
        region: REGION,
        account: ACCOUNT,
        endpoint: EMULATOR,
      }),
    ).toEqual(NOTHING_LEFT);
    expect(existsSync(join(dir, ".mlflow-dev-rehearse-staging.yaml"))).toBe(false);
    expect((await fetch(`${EMULATOR}/_ministack/health`)).ok).toBe(true);
  }, 1_200_000);
});
