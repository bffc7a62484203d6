import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { stackName } from "@mlflow-dev/aws";
import { runCaptured } from "@mlflow-dev/kernel/process";
import { AUTH_ADMIN_USER, environmentNames } from "@mlflow-dev/spec";
import { parseCommandArgs, requireString } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { loadSpec, resolveAwsEnv } from "../load-spec.ts";
import { Interrupt, RehearsalInterrupted } from "../rehearse/interrupt.ts";
import { FIDELITY, formatRehearsal, type RehearsalResult, rehearsalVerdict, rolloutCause } from "../rehearse/report.ts";
import { rehearsalDeployImage, rehearsalSpec, standInsNeeded, twinAwsEnv } from "../rehearse/spec.ts";
import { settledStackStatus } from "../rehearse/stack-settle.ts";
import { type CreatedStandIns, createStandIns } from "../rehearse/stand-ins.ts";
import { ensureTwin, stopTwin, type Twin } from "../twin/start.ts";

/**
 * `rehearse --env <name>`: the environment's Fargate rollout on the AWS twin (MiniStack with
 * mlflow-dev's patches, started or reused), live parity between the local stack and the rehearsed
 * service, then everything it started torn down (--keep leaves it). Each step is the command a user
 * would run (up, promote, parity --live, destroy, down), so the rehearsal runs promote's own code.
 */

interface Child {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * This CLI as a child process: its stderr streamed to ours (progress), its stdout captured. With
 * `interrupt`, in a process group of its own: Ctrl-C reaches the rehearsal, which passes it on.
 */
async function self(args: string[], env: NodeJS.ProcessEnv = process.env, interrupt?: Interrupt): Promise<Child> {
  try {
    return await runCaptured(process.execPath, [...process.execArgv, process.argv[1] ?? "", ...args], {
      env,
      echo: "stderr",
      ...(interrupt ? { detached: true, onSpawn: (child) => interrupt.track(child) } : {}),
    });
  } finally {
    interrupt?.untrack();
  }
}

/** What the rehearsal may have to remove afterwards, in the order it is removed. */
const CLEANUP_ORDER = ["stack", "stand-ins", "spec copy", "local", "twin"] as const;
type Cleanup = (typeof CLEANUP_ORDER)[number];
const KEPT: Record<Cleanup, string> = {
  stack:
    "the twin's stack, with the rehearsal's copy of the spec beside the spec (.mlflow-dev-rehearse-<name>.yaml); a later rehearse updates the stack and keeps it, stopping the twin removes it",
  "stand-ins": "the stand-ins on the twin",
  "spec copy": "the rehearsal's copy of the spec",
  local: "the local stack (mlflow-dev down)",
  twin: "the twin (docker rm -f -v mlflow-dev-ministack)",
};

const say = (line: string) => process.stderr.write(`[rehearse] ${line}\n`);

export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("rehearse", argv);
  const keep = values.keep === true;
  // Ctrl-C or SIGTERM: the running step ends, what the rehearsal started is torn down (unless --keep).
  const pending: Cleanup[] = [];
  const interrupt = new Interrupt(() =>
    pending.filter((what) => what !== "spec copy").map((what) => KEPT[what]),
  ).install();
  try {
    return await rehearse(values, global, keep, interrupt, pending);
  } catch (e) {
    if (!(e instanceof RehearsalInterrupted)) throw e;
    say(`interrupted by ${e.signal}: exiting ${e.exitCode}`);
    return e.exitCode;
  } finally {
    interrupt.dispose();
  }
}

async function rehearse(
  values: ReturnType<typeof parseCommandArgs>["values"],
  global: ReturnType<typeof parseCommandArgs>["global"],
  keep: boolean,
  interrupt: Interrupt,
  pending: Cleanup[],
): Promise<number> {
  /** A step of the rehearsal: refused once a signal arrived, and interrupted by one. */
  const step = async (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Child> => {
    interrupt.check();
    const r = await self(args, env, interrupt);
    interrupt.check();
    return r;
  };
  const envName = requireString(values, "env", "rehearse");
  const loaded = loadSpec(global.file);
  const names = environmentNames(loaded.spec);
  if (envName === "local" || !names.includes(envName))
    throw new UserError(`rehearse: ${JSON.stringify(envName)} is not an AWS environment of ${loaded.shown}`, {
      exitCode: EXIT.invalidInput,
      hint: `Pass --env with one of: ${names.filter((n) => n !== "local").join(", ") || "(none: add one under environments:)"}.`,
    });
  if (!names.includes("local"))
    throw new UserError(`rehearse: ${loaded.shown} has no local environment to compare the rehearsal with`, {
      exitCode: EXIT.invalidInput,
      hint: "Add `local: {}` under environments:.",
    });
  const model = resolveAwsEnv(loaded, envName);
  const specText = readFileSync(loaded.path, "utf8");
  const workDir = join(loaded.dir, ".mlflow-dev", "rehearse", envName);
  mkdirSync(workDir, { recursive: true });
  const shownPath = (p: string) => relative(process.cwd(), p) || p;
  const teardown: string[] = [];
  const cleanups: { what: Cleanup; run: () => Promise<string | undefined> }[] = [];
  const cleanup = (what: Cleanup, run: () => Promise<string | undefined>) => {
    cleanups.push({ what, run });
    pending.push(what);
  };
  const local = ["-f", loaded.path];

  // 1. Static parity: pure, before anything starts.
  const staticRun = await step(["parity", "--env", envName, "--json", ...local]);
  if (staticRun.code === EXIT.invalidInput) return EXIT.invalidInput;
  const drift = staticRun.code === 0 ? 0 : ((JSON.parse(staticRun.stdout || "{}").drift as unknown[]) ?? [1]).length;
  writeFileSync(join(workDir, "static-parity.json"), staticRun.stdout);
  say(`static parity: ${drift === 0 ? "no drift" : `${drift} drift(s)`}`);

  // 2. The twin.
  say("starting the AWS twin (or reusing a running one)");
  const twin: Twin = await ensureTwin({ postgresMajors: [model.database.majorVersion] });
  if (twin.started)
    cleanup("twin", async () => {
      await stopTwin(twin);
      return `the twin ${twin.image}`;
    });
  const awsEnv = twinAwsEnv(process.env, twin, { account: model.target.account, region: model.target.region });
  const image = rehearsalDeployImage(process.env);
  if (image.image) {
    awsEnv.MLFLOW_DEV_DEPLOY_IMAGE = image.image;
    say(`the twin runs ${image.image} (${image.from})`);
  }

  let result: RehearsalResult | undefined;
  const deploy = await import("@mlflow-dev/aws/deploy");
  const { openAwsEngine } = await import("./aws-common.ts");
  // The clients serve the twin's stand-ins (twin/stand-ins.ts); everything else asks the engine.
  const { clients, engine } = await openAwsEngine(deploy, {
    region: model.target.region,
    endpointUrl: twin.endpoint,
    credentials: { accessKeyId: model.target.account, secretAccessKey: "test" },
  });
  try {
    // 3. Stand-ins for the account's own resources, and the rehearsal's copy of the spec.
    let created: CreatedStandIns | undefined;
    const needed = standInsNeeded(specText, envName);
    if (needed.network || needed.certificate) {
      say("creating stand-ins on the twin for the account's own resources the spec names");
      created = await createStandIns(clients, needed);
      const c = created;
      cleanup("stand-ins", async () => {
        await c.remove();
        return "the stand-ins on the twin";
      });
      interrupt.check();
    }
    const rehearsal = rehearsalSpec(specText, envName, created?.standIns);
    // Beside the spec, so its relative paths (a build context) and its state directory stay the same.
    const rehearsalFile = join(loaded.dir, `.mlflow-dev-rehearse-${envName}.yaml`);
    writeFileSync(rehearsalFile, rehearsal.text);
    cleanup("spec copy", async () => {
      rmSync(rehearsalFile, { force: true });
      return undefined;
    });
    const twinSpec = ["-f", rehearsalFile];
    for (const c of rehearsal.changes) say(c);

    const stack = stackName(model);
    const existed = await engine
      .describeStack(stack)
      .then((s) => s !== undefined && s.status !== "DELETE_COMPLETE")
      .catch(() => false);

    // 4. The local stack.
    const status = await step(["status", "--json", ...local]);
    const before = status.stdout
      ? (JSON.parse(status.stdout) as { project: string; services: unknown[]; url: string })
      : undefined;
    const localRunning = (before?.services.length ?? 0) > 0;
    let localUrl = before?.url ?? "";
    if (!localRunning) {
      const project = before?.project ?? `mlflow-dev-${model.name}`;
      const volumesBefore = await dockerLines([
        "volume",
        "ls",
        "-q",
        "--filter",
        `label=com.docker.compose.project=${project}`,
      ]);
      say("starting the local stack");
      const withVolumes = volumesBefore.length === 0;
      // Registered first: an interrupted `up` leaves containers to take down too.
      cleanup("local", async () => {
        const down = await self(
          ["down", ...(withVolumes ? ["--volumes", "--yes"] : []), ...local],
          process.env,
          interrupt,
        );
        return down.code === 0
          ? `the local stack${withVolumes ? " and its volumes (created by the rehearsal)" : " (its data volumes, older than the rehearsal, kept)"}`
          : `the local stack: mlflow-dev down failed (exit ${down.code})`;
      });
      const up = await step(["up", ...local]);
      if (up.code !== 0)
        throw new UserError(`rehearse: the local stack did not start (mlflow-dev up exited ${up.code})`);
      localUrl = /MLflow is up: (\S+)/.exec(up.stdout)?.[1] ?? localUrl;
    } else say(`the local stack is running already (${localUrl}): used as it is`);

    // 5. Promote to the twin: promote's own code path (change sets, migration, rollout, smoke test, rollback).
    say(`promoting ${envName} to the twin`);
    // Registered first: an interrupted promote leaves a stack (its change set runs on) to destroy.
    if (!existed)
      cleanup("stack", async () => {
        // destroy refuses a stack another operation runs on: an interrupted promote's change set.
        await settledStackStatus(engine, stack, deploy.stackPhase);
        const d = await self(
          ["destroy", "--env", envName, "--yes", "--delete-data", "--skip-final-snapshot", ...twinSpec],
          awsEnv,
          interrupt,
        );
        if (d.code === 0) {
          // The twin keeps a stopped task's container until its reaper runs (ECS forgets it at once):
          // the migration's one-off tasks of this stack's cluster.
          const cluster = `arn:aws:ecs:${model.target.region}:${model.target.account}:cluster/${stack}`;
          const stopped = await dockerLines([
            ...["ps", "-aq", "--filter", "status=exited"],
            ...["--filter", `label=com.amazonaws.ecs.cluster=${cluster}`],
          ]);
          if (stopped.length > 0) await dockerLines(["rm", "-v", ...stopped]);
        }
        return d.code === 0
          ? `the twin's stack ${stack} with its database and bucket`
          : `the twin's stack ${stack}: destroy failed (exit ${d.code})`;
      });
    else say(`the twin held ${stack} before this rehearsal: it is updated and kept`);
    const promote = await step(["promote", "--env", envName, "--json", ...twinSpec], awsEnv);
    if (promote.code === EXIT.invalidInput)
      throw new UserError("rehearse: promote refused the environment (above)", { exitCode: EXIT.invalidInput });
    const promoted = promote.code === 0 ? (JSON.parse(promote.stdout) as { url: string; stack: string }) : undefined;
    const rollout = promoted
      ? { ok: true, stack: promoted.stack, url: promoted.url }
      : { ok: false, stack, cause: rolloutCause(promote.stderr) };

    // 6. Live parity between the local stack and the rehearsed service, through the twin's load balancer.
    let liveParity: RehearsalResult["liveParity"];
    if (promoted) {
      const remote = new URL(promoted.url);
      const remotePort = remote.protocol === "https:" ? 443 : 80;
      // The twin's load balancers answer plain HTTP; the Host header's port picks the listener.
      const remoteUrl = remote.protocol === "https:" ? `http://${remote.hostname}:443` : promoted.url;
      const reportFile = join(workDir, "live-parity.json");
      const recordings = join(workDir, "live-recordings.json");
      const credentials = await parityCredentials(loaded.dir, model, engine);
      const live = await step(
        [
          ...["parity", "--live", "--local", localUrl, "--remote", remoteUrl],
          ...["--connect-to", `${remote.hostname}:${remotePort}:127.0.0.1:${twin.settings.port}`],
          ...["--json", "--save", recordings, ...local],
        ],
        { ...process.env, ...credentials },
      );
      writeFileSync(reportFile, live.stdout);
      const report = live.stdout
        ? (JSON.parse(live.stdout) as {
            differences: unknown[];
            local: { incomplete: unknown[] };
            remote: { incomplete: unknown[] };
          })
        : undefined;
      liveParity = {
        ok: live.code === 0,
        differences: report?.differences.length ?? 0,
        incomplete: (report?.local.incomplete.length ?? 0) + (report?.remote.incomplete.length ?? 0),
        report: shownPath(reportFile),
        recordings: shownPath(recordings),
      };
    }
    result = {
      environment: envName,
      verdict: "failed",
      twin: { endpoint: twin.endpoint, image: twin.image, started: twin.started },
      changes: rehearsal.changes,
      staticParity: { drift },
      rollout,
      ...(liveParity ? { liveParity } : {}),
      teardown,
      kept: keep,
      ...FIDELITY,
    };
    result.verdict = rehearsalVerdict(result);
  } finally {
    // 7. Tear down what the rehearsal started (unless --keep): the stack before its stand-ins, the twin last.
    interrupt.tearingDown();
    for (const c of cleanups.sort((a, b) => CLEANUP_ORDER.indexOf(a.what) - CLEANUP_ORDER.indexOf(b.what))) {
      if (keep) {
        if (c.what !== "spec copy") teardown.push(KEPT[c.what]);
        continue;
      }
      const done = await c.run().catch((e: Error) => `${c.what}: ${e.message}`);
      if (done) teardown.push(done);
      pending.splice(pending.indexOf(c.what), 1);
    }
    deploy.destroyAwsClients(clients);
    if (interrupt.received) for (const line of teardown) say(`${keep ? "kept" : "torn down"}: ${line}`);
  }
  interrupt.check();
  if (global.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(formatRehearsal(result));
  return result.verdict === "passed" ? EXIT.ok : EXIT.failed;
}

async function dockerLines(args: string[]): Promise<string[]> {
  const { docker } = await import("../twin/docker.ts");
  return (await docker(args)).stdout.split("\n").filter(Boolean);
}

/** Basic auth: the local admin's password from the stack's .env, the twin's from its Secrets Manager. */
async function parityCredentials(
  specDir: string,
  model: ReturnType<typeof resolveAwsEnv>,
  engine: import("@mlflow-dev/aws/deploy").AwsEngine,
): Promise<Record<string, string>> {
  if (model.mlflow.auth !== "basic") return {};
  const { LOCAL_SECRET_VARS } = await import("@mlflow-dev/compose/runtime");
  const { secretName } = await import("@mlflow-dev/aws");
  const envFile = join(specDir, ".mlflow-dev", ".env");
  const variable = LOCAL_SECRET_VARS["auth-admin-password"];
  const line = existsSync(envFile)
    ? readFileSync(envFile, "utf8")
        .split("\n")
        .find((l) => l.startsWith(`${variable}=`))
    : undefined;
  const remote = await engine.readSecret(secretName(model, "auth-admin-password"));
  return {
    MLFLOW_PARITY_LOCAL_USERNAME: AUTH_ADMIN_USER,
    MLFLOW_PARITY_LOCAL_PASSWORD: line?.slice(variable.length + 1) ?? "",
    MLFLOW_PARITY_REMOTE_USERNAME: AUTH_ADMIN_USER,
    MLFLOW_PARITY_REMOTE_PASSWORD: remote,
  };
}
