import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { checkoutProject } from "@mlflow-dev/compose/runtime";
import {
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  emulatorEnv,
  imageOverride,
  installedProject,
  type NodeRuntime,
  nodeRuntimes,
  npx,
  OFFLINE_PYTHON_BASE,
  packCli,
  projectContainers,
  ROOT,
  removeLeftovers,
  requireImagesInCi,
  specFixture,
  stackPorts,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The local stack from the published package, as a user runs it: the tarball of `pnpm pack:cli`
 * installed with npm into a fresh project outside the repository, then `npx mlflow-dev init`, `up`,
 * `status`, `logs mlflow` and `down` from that project's directory (no -f). The MLflow server is
 * the user's default: the image built from the package's own images/mlflow (Dockerfile and hashed
 * lock), on the offline Python base CI built (`mlflow-base=`) where the user's is python:3.x-slim;
 * PostgreSQL and the object store as in every integration test (MLFLOW_DEV_IMAGES).
 */
const NAME = "itpackage";
/** Every checkout of the spec has a project that starts so. */
const STACKS = `mlflow-dev-${NAME}`;
/** The compose project of this run's checkout. */
let PROJECT = STACKS;
const PORTS = stackPorts(import.meta.url);
const url = `http://127.0.0.1:${PORTS.mlflow}`;
/** MLFLOW_DEV_IMAGES without its prebuilt MLflow image: the default build, on the offline base. */
const USER_PATH_IMAGES = {
  MLFLOW_DEV_IMAGES: [
    ...(process.env.MLFLOW_DEV_IMAGES ?? "").split(",").filter((p) => p.trim() && !p.trim().startsWith("mlflow=")),
    ...(imageOverride("mlflow") ? [`mlflow-base=${OFFLINE_PYTHON_BASE}`] : []),
  ].join(","),
};
const LONG = { timeout: 900_000, env: USER_PATH_IMAGES };

const pinned: NodeRuntime = (() => {
  const version = `v${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).devDependencies.node}`;
  const node = nodeRuntimes().find((n) => n.version === version);
  if (!node) throw new Error(`the pinned Node ${version} is not installed (pnpm install)`);
  return node;
})();

let project: string;
const emulatorUp = await emulatorAnswers("test/integration/installed-package.test.ts");

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(STACKS);
  project = installedProject(packCli(), pinned, NAME);
  PROJECT = checkoutProject(NAME, project);
  const init = npx(pinned, ["init", "--name", NAME], project);
  expect(init.code, init.stderr).toBe(0);
  // Ports of its own, so it never meets another test stack or a developer's.
  specFixture
    .file(join(project, "mlflow-dev.yaml"))
    .env("local", { ports: { ...PORTS } })
    .write(project);
  expect(npx(pinned, ["validate"], project).code).toBe(0);
});

afterAll(() => {
  if (project) {
    npx(pinned, ["down", "--volumes", "--yes"], project, LONG);
    rmSync(project, { recursive: true, force: true });
  }
  removeLeftovers(STACKS);
});

describe("the installed package runs the local stack from the user's project", () => {
  it("up starts the stack and keeps its state beside the spec", async () => {
    const up = npx(pinned, ["up"], project, LONG);
    expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
    expect(up.stdout).toContain(`MLflow is up: ${url}`);
    // The default image: built from the package's images/mlflow, copied beside the spec.
    expect(up.stderr).toMatch(
      /building localhost\/mlflow-dev-local\/itpackage-mlflow:[\d.]+ \(the default: built from mlflow-dev's images\/mlflow/,
    );
    expect(readFileSync(join(project, ".mlflow-dev/images/mlflow/requirements.txt"), "utf8")).toBe(
      readFileSync(join(ROOT, "images/mlflow/requirements.txt"), "utf8"),
    );
    const compose = readFileSync(join(project, ".mlflow-dev/compose.yaml"), "utf8");
    expect(compose).toContain("context: ../.mlflow-dev/images/mlflow");
    expect(up.stdout).toContain(join(".mlflow-dev", ".env"));
    expect(existsSync(join(project, ".mlflow-dev/compose.yaml"))).toBe(true);
    expect(statSync(join(project, ".mlflow-dev/.env")).mode & 0o777).toBe(0o600);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
  });

  it("status reports every long-running service healthy, from the project and from a subdirectory", () => {
    const status = npx(pinned, ["status"], project, LONG);
    expect(status.code, status.stderr).toBe(0);
    for (const service of ["mlflow", "postgres", "versitygw"])
      expect(status.stdout).toMatch(new RegExp(`^${service} `, "m"));
    expect(status.stdout).toContain(`healthy: ${url}`);
    mkdirSync(join(project, "notebooks"), { recursive: true });
    const fromSub = npx(pinned, ["status", "--json"], join(project, "notebooks"), LONG);
    expect(fromSub.code, fromSub.stderr).toBe(0);
    expect(JSON.parse(fromSub.stdout)).toMatchObject({ project: PROJECT, url, healthy: true });
  });

  it("logs mlflow prints the server's log", () => {
    const logs = npx(pinned, ["logs", "mlflow", "--tail", "50"], project, LONG);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain("mlflow");
    expect(logs.stdout.trim().length).toBeGreaterThan(0);
  });

  it("down stops the stack and keeps the data volumes", () => {
    const down = npx(pinned, ["down"], project, LONG);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/^stopped \d+ container\(s\); data volumes kept/);
    expect(projectContainers(PROJECT)).toEqual([]);
    const status = npx(pinned, ["status"], project, LONG);
    expect(status.stdout).toContain("the local stack is not running (start it with `mlflow-dev up`)");
  });
});

/**
 * The same installed package promotes init's AWS environment (uncommented, as a user would) to
 * the emulator and destroys it again.
 */
describe.skipIf(!emulatorUp && !process.env.CI)("the installed package promotes to the emulator", () => {
  const account = "999900001111";
  const env = () => ({ ...emulatorEnv(account), MLFLOW_DEV_IMAGES: process.env.MLFLOW_DEV_IMAGES ?? "" });
  let awsProject: string;

  beforeAll(() => {
    if (!emulatorUp) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    awsProject = installedProject(packCli(), pinned, `${NAME}-aws`);
    expect(npx(pinned, ["init", "--name", `${NAME}-aws`], awsProject).code).toBe(0);
    // Its account, its bucket, and deletion protection off (the default is on): this test destroys it.
    emulatedEnv(specFixture.file(join(awsProject, "mlflow-dev.yaml")).uncommentEnv("staging"), { account }).write(
      awsProject,
    );
  });

  afterAll(() => {
    if (awsProject) {
      npx(pinned, ["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], awsProject, {
        ...LONG,
        env: env(),
      });
      rmSync(awsProject, { recursive: true, force: true });
    }
  });

  it("promote --env staging deploys and smoke-tests it; destroy removes it", () => {
    const promote = npx(pinned, ["promote", "--env", "staging"], awsProject, { ...LONG, env: env() });
    expect(promote.code, promote.stderr).toBe(0);
    expect(promote.stdout).toMatch(/^MLflow is up: http:\/\/\S+\.elb\.amazonaws\.com$/m);
    expect(promote.stderr).toContain("smoke test");
    const destroy = npx(
      pinned,
      ["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"],
      awsProject,
      { ...LONG, env: env() },
    );
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(destroy.stdout).toBe(`destroyed mlflow-dev-${NAME}-aws-staging\n`);
  });
});
