import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkoutProject } from "@mlflow-dev/compose/runtime";
import {
  type Contexts,
  condition,
  EMULATOR,
  emulatorAnswers,
  installedProject,
  leftovers,
  matrixOf,
  NOTHING_LEFT,
  type NodeRuntime,
  nodeRuntimes,
  npx,
  packCli,
  ROOT,
  readWorkflow,
  removeLeftovers,
  requireImagesInCi,
  runScript,
  type StepResult,
  specFixture,
  stackPorts,
  stepLabel,
  substitute,
  substituted,
  tempDir,
  userEnv,
  type WorkflowJob,
  type WorkflowStep,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The workflow users copy, examples/github-actions/mlflow-dev.yml, run on this machine in a user's
 * project: the published tarball installed with npm into a fresh project (`npm install
 * --save-dev mlflow-dev`), `npx mlflow-dev init`, and the starter's commented `staging:` filled in
 * as the README tells a user (uncommented, the account and the bucket set). The YAML is parsed;
 * for a pull request and for a push to the default branch, every job's `if:` is evaluated by
 * GitHub's expression library against the contexts below, and every `run:` step of the jobs that
 * run is executed in order, as the runner would (`bash -e`, the step's `env:`, `${{ ... }}`
 * substituted), in a workspace of its own per job (a fresh copy of the project's files, as a
 * checkout is). The `uses:` steps are GitHub's actions: STAND_INS says what the test does in their
 * place and why.
 *
 * What a runner does that this machine does differently: the twin is the emulator already running
 * here (reused and never stopped; on a runner rehearse builds and starts it), and the local stack
 * and the rehearsed service run the images CI built (MLFLOW_DEV_IMAGES; on a runner they are built
 * from the package registries). The spec's local port is this file's own (the starter's 5050 would
 * meet other stacks on a shared machine). Nothing else is given to the steps: no AWS credentials,
 * no ~/.aws, no repository variables, no secrets.
 *
 * The steps that need a real AWS account are not faked. `plan` is skipped by its job's condition
 * (no AWS_PLAN_ROLE_ARN), and its command, run anyway without credentials, refuses (exit 2, no
 * usable AWS credentials). `promote` on a push stops at the workflow's own check of
 * AWS_DEPLOY_ROLE_ARN (exit 1, the variable named), so the OIDC exchange and the promote are
 * skipped; the promote command, run anyway without credentials, refuses the same way as plan.
 */
const WORKFLOW_FILE = "examples/github-actions/mlflow-dev.yml";
const NAME = "itworkflow";
/** Every checkout of the spec has a compose project that starts so; the twin's stack too. */
const STACKS = `mlflow-dev-${NAME}`;
const ACCOUNT = "777700004444";
const REGION = "eu-west-1";
const PORTS = stackPorts(import.meta.url);

const workflow = readWorkflow(join(ROOT, WORKFLOW_FILE));

const pinned: NodeRuntime = (() => {
  const version = `v${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).devDependencies.node}`;
  const node = nodeRuntimes().find((n) => n.version === version);
  if (!node) throw new Error(`the pinned Node ${version} is not installed (pnpm install)`);
  return node;
})();

/** The GitHub contexts of the two events the workflow acts on. No repository variables or secrets are set. */
const REPOSITORY = { default_branch: "main", full_name: "example/ml-project" };
const EVENTS = {
  pull_request: {
    event_name: "pull_request",
    ref: "refs/pull/1/merge",
    event: { repository: REPOSITORY, pull_request: { number: 1 } },
  },
  push: { event_name: "push", ref: "refs/heads/main", event: { repository: REPOSITORY } },
} as const;
type EventName = keyof typeof EVENTS;
const VARS: Record<string, string> = {};
const SECRETS: Record<string, string> = {};

/** A job's run: its workspace and what each step did. */
interface JobRun {
  id: string;
  matrix: Record<string, unknown>;
  workspace: string;
  /** The runner's own directory: the job summary, RUNNER_TEMP, the step scripts. */
  runner: string;
  summary: string;
  status: "success" | "failure";
  steps: { label: string; ran: boolean; uses?: string; result?: StepResult; standIn?: string }[];
}

/** The repository, as committed: what a checkout gives a job (no node_modules, no .mlflow-dev state). */
let repository: string;
const COMMITTED = (name: string) => name !== "node_modules" && name !== ".mlflow-dev";

/** What the test does for each action a `uses:` step names (GitHub runs them on its runners), and why. */
const STAND_INS: Record<string, { why: string; run: (step: WorkflowStep, job: JobRun, contexts: Contexts) => string }> =
  {
    "actions/checkout": {
      why: "clones the repository on the runner: here the project's committed files are copied into the job's empty workspace",
      run: (_, job) => {
        for (const name of readdirSync(repository).filter(COMMITTED))
          cpSync(join(repository, name), join(job.workspace, name), { recursive: true });
        return `copied ${readdirSync(job.workspace).join(", ")}`;
      },
    },
    "actions/setup-node": {
      why: "downloads Node onto the runner: here the repository's pinned Node, of the major the step asks for, is first on PATH",
      run: (step, _, contexts) => {
        const wanted = substituted(step.with, contexts)["node-version"];
        expect(pinned.version.startsWith(`v${wanted}.`), `node-version ${wanted} vs pinned ${pinned.version}`).toBe(
          true,
        );
        return `Node ${pinned.version}`;
      },
    },
    "actions/upload-artifact": {
      why: "uploads files to GitHub: here the paths it names are looked up in the workspace",
      run: (step, job, contexts) => {
        const w = substituted(step.with, contexts);
        const paths = (w.path ?? "")
          .split("\n")
          .map((p) => p.trim())
          .filter(Boolean);
        const missing = paths.filter((p) => !existsSync(join(job.workspace, p)));
        if (missing.length > 0 && w["if-no-files-found"] !== "ignore")
          throw new Error(`upload-artifact ${w.name}: no ${missing.join(", ")}`);
        return `artifact ${w.name}: ${paths.map((p) => `${p}${missing.includes(p) ? " (absent)" : ""}`).join(", ")}`;
      },
    },
    "aws-actions/configure-aws-credentials": {
      why: "exchanges the job's OIDC token for a role's short-lived credentials, which needs GitHub and a real AWS account; with no role variable set the workflow never reaches it",
      run: (step, _, contexts) => {
        throw new Error(
          `configure-aws-credentials (role ${JSON.stringify(substituted(step.with, contexts)["role-to-assume"])}) needs a real AWS account: the test sets no role variable, so this step must not be reached`,
        );
      },
    },
  };

function standInFor(uses: string) {
  const action = uses.split("@")[0] ?? uses;
  const standIn = STAND_INS[action];
  if (!standIn)
    throw new Error(`${WORKFLOW_FILE} uses ${uses}: the test has no stand-in for it (add one to STAND_INS)`);
  return standIn;
}

/** The environment a runner gives a step: its own variables, and no AWS credentials or configuration. */
function runnerEnv(event: EventName, job: JobRun, step: Record<string, string>): NodeJS.ProcessEnv {
  const env = userEnv(pinned, {
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: EVENTS[event].event_name,
    GITHUB_REF: EVENTS[event].ref,
    GITHUB_WORKSPACE: job.workspace,
    GITHUB_STEP_SUMMARY: job.summary,
    RUNNER_TEMP: join(job.runner, "temp"),
    // This machine's images (a runner builds them from the package registries).
    MLFLOW_DEV_IMAGES: process.env.MLFLOW_DEV_IMAGES ?? "",
    ...step,
  });
  for (const k of Object.keys(env)) if (/^AWS_/.test(k) && k !== "AWS_CA_BUNDLE") delete env[k];
  // A fresh runner has no ~/.aws.
  env.AWS_CONFIG_FILE = join(job.runner, "no-aws-config");
  env.AWS_SHARED_CREDENTIALS_FILE = env.AWS_CONFIG_FILE;
  return env;
}

/** Runs a job's steps for one matrix combination, as the runner would. */
function runJob(event: EventName, id: string, job: WorkflowJob, matrix: Record<string, unknown>): JobRun {
  const contexts: Contexts = { github: EVENTS[event], vars: VARS, secrets: SECRETS, matrix, env: {} };
  const runner = tempDir(`${NAME}-runner-`);
  const run: JobRun = {
    id,
    matrix,
    workspace: tempDir(`${NAME}-${id}-`),
    runner,
    summary: join(runner, "step-summary.md"),
    status: "success",
    steps: [],
  };
  writeFileSync(run.summary, "");
  mkdirSync(join(runner, "temp"));
  for (const step of job.steps) {
    const label = stepLabel(step, contexts);
    if (!condition(step.if, contexts, run.status)) {
      run.steps.push({ label, ran: false, ...(step.uses ? { uses: step.uses } : {}) });
      continue;
    }
    if (step.uses) {
      const standIn = standInFor(step.uses);
      run.steps.push({ label, ran: true, uses: step.uses, standIn: standIn.run(step, run, contexts) });
      continue;
    }
    if (!step.run) throw new Error(`${id}: step ${label} has neither run nor uses`);
    expect(step.shell, `${label}: the default shell (bash -e) is what the test runs`).toBeUndefined();
    expect(step["working-directory"], `${label}: runs in the workspace`).toBeUndefined();
    const env = runnerEnv(event, run, {
      ...substituted(workflow.env, contexts),
      ...substituted(job.env, contexts),
      ...substituted(step.env, contexts),
    });
    const result = runScript(substitute(step.run, contexts), {
      cwd: run.workspace,
      env,
      scriptDir: runner,
      timeout: 1_500_000,
    });
    console.log(`${event} ${id} ${label}: exit ${result.code} in ${(result.ms / 1000).toFixed(1)} s`);
    run.steps.push({ label, ran: true, result });
    if (result.code !== 0) run.status = "failure";
  }
  return run;
}

type Outcome = "success" | "failure" | "skipped";

/** The whole workflow for one event: jobs in order (each after the jobs it needs), every matrix combination. */
function runWorkflow(event: EventName): { outcome: Record<string, Outcome>; runs: Record<string, JobRun[]> } {
  const outcome: Record<string, Outcome> = {};
  const runs: Record<string, JobRun[]> = {};
  const contexts: Contexts = { github: EVENTS[event], vars: VARS, secrets: SECRETS };
  for (const [id, job] of Object.entries(workflow.jobs)) {
    const needs = typeof job.needs === "string" ? [job.needs] : (job.needs ?? []);
    for (const n of needs) expect(outcome[n], `${id} needs ${n}, a job before it`).toBeDefined();
    const needsMet = needs.every((n) => outcome[n] === "success");
    if (!condition(job.if, contexts, needsMet ? "success" : "failure")) {
      outcome[id] = "skipped";
      continue;
    }
    const jobRuns = matrixOf(job).map((m) => runJob(event, id, job, m));
    runs[id] = jobRuns;
    outcome[id] = jobRuns.every((r) => r.status === "success") ? "success" : "failure";
  }
  return { outcome, runs };
}

/** A step of a job's run by its label, with its result. */
function stepOf(run: JobRun | undefined, label: string) {
  const step = run?.steps.find((s) => s.label === label);
  if (!step) throw new Error(`no step "${label}" in ${run?.id}: ${run?.steps.map((s) => s.label).join(", ")}`);
  return step;
}

function show(result: StepResult | undefined): string {
  return result ? `exit ${result.code}\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-4000)}` : "did not run";
}

/** The `run:` of a job's step by name, expressions substituted for a matrix combination. */
function scriptOf(event: EventName, jobId: string, name: string, matrix: Record<string, unknown>): string {
  const step = workflow.jobs[jobId]?.steps.find((s) => s.name === name);
  if (!step?.run) throw new Error(`${WORKFLOW_FILE}: no run step "${name}" in job ${jobId}`);
  return substitute(step.run, { github: EVENTS[event], vars: VARS, secrets: SECRETS, matrix, env: {} });
}

/** A run step of staging's job run anyway, in the workspace and runner of a job that ran (its condition skipped it). */
function runStepAnyway(event: EventName, jobId: string, name: string, job: JobRun | undefined) {
  return runScript(scriptOf(event, jobId, name, { environment: "staging" }), {
    cwd: job?.workspace ?? "",
    env: runnerEnv(event, job as JobRun, {}),
    scriptDir: job?.runner ?? "",
  });
}

const emulatorUp = await emulatorAnswers("test/integration/github-workflow.test.ts");

describe.skipIf(!emulatorUp && !process.env.CI)(`${WORKFLOW_FILE} in a user's project`, () => {
  beforeAll(() => {
    if (!emulatorUp) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    requireImagesInCi();
    removeLeftovers(STACKS);
    repository = installedProject(packCli(), pinned, NAME);
    const init = npx(pinned, ["init", "--name", NAME], repository);
    expect(init.code, init.stderr).toBe(0);
    // The README's step: uncomment the starter's staging and fill in the account (and with it the bucket).
    specFixture
      .file(join(repository, "mlflow-dev.yaml"))
      .uncommentEnv("staging")
      .env("staging", { account: ACCOUNT, bucket: `${NAME}-staging-artifacts-${ACCOUNT}` })
      .env("local", { ports: { ...PORTS } })
      .write(repository);
    expect(existsSync(join(repository, "package-lock.json"))).toBe(true);
  }, 900_000);

  afterAll(() => {
    if (repository) rmSync(repository, { recursive: true, force: true });
    removeLeftovers(STACKS);
  });

  it("the stand-ins cover every action the workflow uses", () => {
    const uses = Object.values(workflow.jobs).flatMap((j) => j.steps.flatMap((s) => (s.uses ? [s.uses] : [])));
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(standInFor(u).why.length).toBeGreaterThan(20);
  });

  it("a pull request: check and rehearse run every step and pass (live parity without difference, nothing left running); plan and promote are skipped", async () => {
    const { outcome, runs } = runWorkflow("pull_request");
    const check = runs.check?.[0];
    const rehearse = runs.rehearse?.[0];
    for (const run of [...(runs.check ?? []), ...(runs.rehearse ?? [])])
      for (const s of run.steps.filter((x) => x.result))
        expect(s.result?.code, `${run.id} ${s.label}: ${show(s.result)}`).toBe(0);
    expect(outcome).toEqual({ check: "success", rehearse: "success", plan: "skipped", promote: "skipped" });
    // Every step ran, in order: the actions by their stand-ins, the commands for real.
    expect(check?.steps.map((s) => [s.label, s.ran])).toEqual([
      ["uses actions/checkout@v4", true],
      ["uses actions/setup-node@v4", true],
      ["run npm ci", true],
      ["Validate the spec", true],
      ["Static parity (local vs staging)", true],
    ]);
    expect(stepOf(check, "Validate the spec").result?.stdout).toContain(
      "mlflow-dev.yaml is valid (environments: local, staging)",
    );
    expect(stepOf(check, "Static parity (local vs staging)").result?.stdout).toMatch(
      /settings compared: .*, 0 drift\n/,
    );
    expect(rehearse?.steps.map((s) => [s.label, s.ran])).toEqual([
      ["uses actions/checkout@v4", true],
      ["uses actions/setup-node@v4", true],
      ["run npm ci", true],
      ["Rehearse the rollout and check live parity", true],
      ["Rehearsal summary", true],
      ["uses actions/upload-artifact@v4", true],
    ]);

    // The rehearsal's report, the job summary and the artifact's files.
    const workspace = rehearse?.workspace ?? "";
    const result = JSON.parse(readFileSync(join(workspace, "rehearsal.json"), "utf8"));
    expect(result).toMatchObject({
      environment: "staging",
      verdict: "passed",
      twin: { endpoint: "http://127.0.0.1:4566", started: false },
      staticParity: { drift: 0 },
      rollout: { ok: true, url: expect.stringMatching(/^http:\/\/\S+\.elb\.amazonaws\.com$/) },
      liveParity: { ok: true, differences: 0, incomplete: 0 },
      kept: false,
    });
    expect(result.rollout.stack).toMatch(new RegExp(`^${STACKS}(-[0-9a-f]{8})?-staging$`));
    const rehearseLog = stepOf(rehearse, "Rehearse the rollout and check live parity").result;
    expect(rehearseLog?.stderr).toContain("reused the running twin");
    expect(rehearseLog?.stderr).toContain("smoke test");
    expect(
      JSON.parse(readFileSync(join(workspace, ".mlflow-dev/rehearse/staging/live-parity.json"), "utf8")).differences,
    ).toEqual([]);
    const summary = readFileSync(rehearse?.summary ?? "", "utf8");
    expect(summary).toContain("### Rehearsal of staging\n");
    expect(summary).toContain("verdict: passed\n");
    expect(summary).toContain("rollout: true");
    expect(summary).toContain("live parity differences: 0\n");
    expect(summary).toMatch(/the twin does not enforce \(check these on AWS\):\n {2}- \S/);
    expect(stepOf(rehearse, "uses actions/upload-artifact@v4").standIn).toBe(
      "artifact rehearsal-staging: rehearsal.json, .mlflow-dev/rehearse/",
    );

    // Nothing the rehearsal started is left: the local stack, its volumes, the twin's stack, tasks and database.
    expect(
      await leftovers({
        project: checkoutProject(NAME, workspace),
        specName: NAME,
        stack: result.rollout.stack,
        region: REGION,
        account: ACCOUNT,
        endpoint: EMULATOR,
      }),
    ).toEqual(NOTHING_LEFT);
    expect((await fetch(`${EMULATOR}/_ministack/health`)).ok).toBe(true);

    // plan needs the real account: skipped above (no AWS_PLAN_ROLE_ARN); its step, run anyway
    // without credentials, refuses and says why.
    const plan = runStepAnyway("pull_request", "plan", "Plan", check);
    expect(plan.code, show(plan)).toBe(2);
    expect(plan.stderr).toContain("error: plan staging: no usable AWS credentials");
  }, 1_800_000);

  it("a push to the default branch: check passes, promote stops at its deploy-role check, and the promote command refuses without credentials", () => {
    const { outcome, runs } = runWorkflow("push");
    expect(outcome).toEqual({ check: "success", rehearse: "skipped", plan: "skipped", promote: "failure" });
    const promote = runs.promote?.[0];
    expect(promote?.steps.map((s) => [s.label, s.ran])).toEqual([
      ["uses actions/checkout@v4", true],
      ["uses actions/setup-node@v4", true],
      ["run npm ci", true],
      ["Check that the deploy role is set", true],
      ["uses aws-actions/configure-aws-credentials@v4", false],
      ["Promote", false],
      ["uses actions/upload-artifact@v4", true],
    ]);
    const guard = stepOf(promote, "Check that the deploy role is set").result;
    expect(guard?.code, show(guard)).toBe(1);
    expect(guard?.stdout).toContain("::error::the repository variable AWS_DEPLOY_ROLE_ARN is not set");
    expect(stepOf(promote, "uses actions/upload-artifact@v4").standIn).toBe(
      "artifact promote-staging: promote.json (absent)",
    );

    // The Promote step, run anyway without credentials: refused before anything is created.
    const r = runStepAnyway("push", "promote", "Promote", promote);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain("error: promote staging: no usable AWS credentials");
    expect(readFileSync(join(promote?.workspace ?? "", "promote.json"), "utf8")).toBe("");
  }, 900_000);
});
