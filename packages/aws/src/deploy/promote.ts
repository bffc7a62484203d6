import { poll, WaitMeter, type WaitOptions } from "@mlflow-dev/kernel/wait";
import { type HttpTarget, targetFor } from "@mlflow-dev/mlflow-client";
import { AUTH_ADMIN_USER, describeImageOrigin, type SecretName } from "@mlflow-dev/spec";
import type { AwsModel } from "../render/aws-model.ts";
import { type DeployContext, deployContextFromStack, placeholderContext } from "../render/context.ts";
import { OutputName, ParameterName, stackName } from "../render/names.ts";
import { type RolloutStage, type RolloutStep, rolloutStages, toRolloutPlan } from "../render/rollout-steps.ts";
import { type TaskDefinition, toTaskDefinition } from "../render/task-definition.ts";
import { formatChanges, formatFieldChange, type ResourceChange, taskDefinitionChanges } from "./diff.ts";
import { circuitBreakerThreshold, isSteadyOn, revisionOf } from "./engine/ecs-service.ts";
import type { AwsEngine } from "./engine/engine.ts";
import type { DockerOptions, ImageChoice } from "./engine/image.ts";
import type { MigrationResult } from "./engine/migration-task.ts";
import type { EnsuredSecrets } from "./engine/secrets.ts";
import { databaseSnapshotParameter, stackParameters } from "./engine/stack-info.ts";
import { DeployError } from "./errors.ts";
import { firstRolloutRolledBack } from "./first-rollout.ts";
import { checksRunInVpc, serviceChecksFor } from "./in-vpc-smoke.ts";
import { deployInfrastructure, type Infrastructure } from "./infrastructure.ts";
import { type RunnerOptions, waitOf } from "./options.ts";
import type { SmokeResult, smokeTest, waitForHealth } from "./smoke.ts";
import { checkAllowReplace } from "./stateful.ts";
import { downgradeRefused, serviceVersionChange, snapshotBeforeUpgrade } from "./upgrade.ts";

/** How promote checks the service over HTTP: the health wait and the smoke test (replaceable in tests). */
export interface ServiceChecks {
  waitForHealth: typeof waitForHealth;
  smokeTest: typeof smokeTest;
  /**
   * The smoke test waits for the health path itself (the in-VPC one-off task does): the rollout
   * then starts one task, not a health task and a smoke task.
   */
  smokeWaitsForHealth?: boolean;
}

export interface PromoteOptions extends RunnerOptions, DockerOptions {
  /** Directory of the spec file (build contexts are relative to it). */
  specDir: string;
  /** Default: smoke.ts over HTTP. */
  serviceChecks?: ServiceChecks;
  /**
   * `mlflow-dev restore`: the stack's database becomes a new instance from this RDS snapshot. The
   * caller has stopped every writer (service at zero) and snapshotted the database it replaces.
   */
  restoreFromSnapshot?: string;
  /** With restoreFromSnapshot: the desired count the service gets back once the new revision runs. */
  resumeDesiredCount?: number;
  /** Stateful resources (logical ids) the infrastructure step may replace or remove (`--allow-replace`). */
  allowReplace?: readonly string[];
}

export interface PromoteResult {
  environment: string;
  stack: string;
  /** False when the promote found nothing to change. */
  changed: boolean;
  url: string;
  image: string;
  /** Where the image reference came from (the spec, the default, a build, an override variable). */
  imageOrigin: string;
  taskDefinitionArn: string;
  previousTaskDefinitionArn?: string;
  secretsCreated: string[];
  infrastructureChanges: ResourceChange[];
  migration?: MigrationResult;
  smokeTest?: SmokeResult;
  /** With an MLflow upgrade: the RDS snapshot taken before the migration. */
  upgradeSnapshot?: string;
  /** How long the promote took from its checks on, and how much of it was waiting on AWS (WaitMeter). */
  timings?: { totalMs: number; waitingMs: number };
}

/**
 * The whole rollout of one environment: the checks, then the rollout plan (render/rollout-steps.ts) step
 * by step: secrets, the stack (through a change set), the image, the migration task, the new task
 * definition revision on the service, a steady state, and the smoke test. A failure after the
 * service was touched puts the previous revision back.
 */
export async function promote(model: AwsModel, engine: AwsEngine, options: PromoteOptions): Promise<PromoteResult> {
  checkAllowReplace(options.allowReplace ?? []);
  const plan = toRolloutPlan(model, placeholderContext(model));
  const run = new Rollout(model, engine, options, plan);
  run.step("checks");
  await engine.preflight(model);
  await engine.accountPreflight(model, "promote");
  return engine.withLock(model, "promote", () => apply(run));
}

/** promote's checks and rollout, for a caller that holds the environment's deploy lock (restore). */
export async function promoteHoldingLock(
  model: AwsModel,
  engine: AwsEngine,
  options: PromoteOptions,
): Promise<PromoteResult> {
  const plan = toRolloutPlan(model, placeholderContext(model));
  const run = new Rollout(model, engine, options, plan);
  run.step("checks");
  await engine.preflight(model);
  await engine.accountPreflight(model, "promote");
  return apply(run);
}

/**
 * Executes the plan's steps in order (render/rollout-steps.ts), each a function of what the
 * earlier ones returned; a failure once the service was touched is recovered from.
 */
async function apply(run: Rollout): Promise<PromoteResult> {
  const checked = await readRunningVersion(run);
  const secured = await STEPS.secrets(run, checked);
  const deployed = await STEPS.infrastructure(run, secured);
  const compared = await STEPS.image(run, deployed);
  const migrated = await STEPS.migrate(run, compared);
  const registered = await STEPS.register(run, migrated);
  // From here on a rollout touches the service: a failure puts the previous revision back (recover).
  const touched: Touched = { rolledBackByStack: false };
  try {
    const updated = await STEPS["update-service"](run, registered, touched);
    const steady = await STEPS["wait-steady"](run, updated);
    return finish(run, await STEPS["smoke-test"](run, steady));
  } catch (e) {
    if (isRollout(registered)) throw await recover(run, registered, touched, e);
    throw e;
  }
}

type StepName = RolloutStep["step"];

/** Before the first step: the MLflow upgrade the rollout makes (undefined: none, or a first rollout). */
interface Started {
  upgrade: { from: string; to: string } | undefined;
}

/** After secrets: every secret of the Model exists. */
interface Secured extends Started {
  secrets: EnsuredSecrets;
}

/** After infrastructure: the stack as the change set left it. */
interface Deployed extends Secured {
  infra: Infrastructure;
}

/** After image: the image, and the task definition the plan gives the service against the one it runs. */
interface Compared extends Deployed {
  image: ImageChoice;
  ctx: DeployContext;
  desired: TaskDefinition;
  current: CurrentService;
}

/** After migrate: the migration's result (none when nothing is rolled out) and an upgrade's snapshot. */
interface Migrated extends Compared {
  migration?: MigrationResult;
  upgradeSnapshot?: string;
}

/** After register: the revision to roll out; undefined when the service runs it already. */
interface Registered extends Migrated {
  registered: string | undefined;
}

/** A rollout that changes the service: register gave a revision. */
interface RollingOut extends Registered {
  registered: string;
}

/** After smoke-test: its result (none when nothing was rolled out: health only). */
interface Done extends Registered {
  smokeTest?: SmokeResult;
}

function isRollout(s: Registered): s is RollingOut {
  return s.registered !== undefined;
}

/** What promote learns while the service is touched: CloudFormation rolled the stack back from the revision. */
interface Touched {
  rolledBackByStack: boolean;
}

/**
 * One function per step of the rollout plan (render/rollout-steps.ts), each taking what the
 * earlier steps returned and returning it with its own output; `satisfies` keeps this table and
 * the plan's steps the same set.
 */
const STEPS = {
  secrets: async (run: Rollout, s: Started): Promise<Secured> => {
    run.step("secrets");
    return { ...s, secrets: await run.engine.ensureSecrets(run.model) };
  },

  infrastructure: async (run: Rollout, s: Secured): Promise<Deployed> => {
    run.step("infrastructure", `stack ${run.stackName}`);
    const infra = await deployInfrastructure(run.engine, run.model, s.secrets.arns, {
      ...(run.options.restoreFromSnapshot ? { restoreFromSnapshot: run.options.restoreFromSnapshot } : {}),
      ...(run.options.allowReplace ? { allowReplace: run.options.allowReplace } : {}),
    });
    return { ...s, infra };
  },

  image: async (run: Rollout, s: Deployed): Promise<Compared> => {
    run.step("image");
    const { model, options } = run;
    const image = await run.engine.resolveImage(model, s.infra.stack.outputs, options.specDir, options);
    return compareWithService(run, { ...s, image });
  },

  migrate: async (run: Rollout, s: Compared): Promise<Migrated> => {
    const { current, upgrade } = s;
    if (current.unchanged) {
      run.step("migration", "skipped (the service already runs this image and configuration)");
      return s;
    }
    run.step("migration", upgrade ? `upgrade from MLflow ${upgrade.from} to ${upgrade.to}` : "");
    const upgradeSnapshot = upgrade ? await stopWritersForUpgrade(run, upgrade, current) : undefined;
    const outputs = s.infra.stack.outputs;
    let migration: MigrationResult;
    try {
      migration = await run.engine.runMigrationTask(run.model, s.ctx, {
        subnetIds: (outputs[OutputName.taskSubnetIds] ?? "").split(",").filter(Boolean),
        securityGroupId: outputs[OutputName.taskSecurityGroupId] ?? "",
      });
    } catch (e) {
      if (!upgrade) throw e;
      // The old revision is what the database was made for (unless the schema changed partly).
      await run.engine.setDesiredCount(run.model, current.desiredCount);
      throw new DeployError(
        `${(e as Error).message}\nThe upgrade stopped before the rollout: the service runs MLflow ${upgrade.from} again (desired count ${current.desiredCount}). If the migration changed the schema partly, restore the snapshot ${upgradeSnapshot} (see "Upgrading MLflow" in the README).`,
        { hint: run.fixAndRetry, cause: e },
      );
    }
    run.report.info("the database schema is up to date");
    return { ...s, ...(upgradeSnapshot ? { upgradeSnapshot } : {}), migration };
  },

  register: async (run: Rollout, s: Migrated): Promise<Registered> => {
    const { current } = s;
    if (current.unchanged) {
      run.step("rollout", `the service already runs ${revisionOf(current.arn)}`);
      return { ...s, registered: undefined };
    }
    run.step("rollout");
    const registration =
      current.revision && current.arn && current.changes.length === 0
        ? { arn: current.arn, registered: false }
        : await run.engine.registerTaskDefinition(s.desired);
    for (const c of current.changes) run.report.info(formatFieldChange(c));
    run.report.info(`${registration.registered ? "registered" : "using"} ${revisionOf(registration.arn)}`);
    return { ...s, registered: registration.arn };
  },

  "update-service": async <S extends Registered>(run: Rollout, s: S, touched: Touched): Promise<S> => {
    if (!isRollout(s)) return s;
    const arn = s.registered;
    try {
      await pointServiceAt(run, arn, s.current.desiredCount);
    } catch (e) {
      throw await stackRollbackCause(run, s, touched, e);
    }
    // An upgrade scaled the service to zero, a restore's caller did: it gets its count back.
    const resume = s.upgrade ? s.current.desiredCount : run.options.resumeDesiredCount;
    if (resume !== undefined) await run.engine.setDesiredCount(run.model, resume);
    return s;
  },

  "wait-steady": async <S extends Registered>(run: Rollout, s: S): Promise<S> => {
    if (!isRollout(s)) return s;
    run.report.info(`waiting for ${revisionOf(s.registered)} to run steadily`);
    await run.engine.waitForDeployment(run.model, s.ctx, s.registered);
    return s;
  },

  "smoke-test": async (run: Rollout, s: Registered): Promise<Done> => {
    const { model, checks } = run;
    const url = urlOf(s);
    const target = run.target(s);
    if (!isRollout(s)) {
      run.step("smoke test", "health only (nothing was rolled out)");
      await run.healthy(target);
      run.report.info(`GET ${model.mlflow.healthPath}: 200`);
      return s;
    }
    run.step("smoke test", url);
    try {
      // The wait for the load balancer to answer, apart from the smoke test's own requests (unless
      // the smoke test waits for it itself).
      if (!checks.smokeWaitsForHealth) await run.healthy(target);
      const smokeTest = await checks.smokeTest(target, model, {
        report: run.report,
        ...run.healthWait,
        ...(await smokeAuth(model, run.engine, s.secrets.arns)),
      });
      return { ...s, smokeTest };
    } catch (e) {
      // A task that died under the smoke test (out of memory, say) is the real cause.
      const stopped = await stoppedTaskCause(run, s, s.registered);
      throw stopped ? new DeployError(`${(e as Error).message}${stopped}`, { cause: e }) : e;
    }
  },
} satisfies Record<StepName, (run: Rollout, s: never, touched: Touched) => Promise<unknown>>;

/** What the service runs before the rollout, against what the plan would give it. */
interface CurrentService {
  arn: string | undefined;
  revision: Record<string, unknown> | undefined;
  changes: ReturnType<typeof taskDefinitionChanges>;
  desiredCount: number;
  /** The service already runs exactly this revision, steadily, and the stack points at it: nothing to roll out. */
  unchanged: boolean;
}

/** The service's URL, a stack output. */
function urlOf(s: Deployed): string {
  return s.infra.stack.outputs[OutputName.serviceUrl] ?? "";
}

/** What one promote works with, the same from the first step to the last (the steps' outputs are theirs). */
class Rollout {
  readonly model: AwsModel;
  readonly options: PromoteOptions;
  readonly stackName: string;
  readonly engine: AwsEngine;
  readonly serviceWait: WaitOptions;
  readonly healthWait: { healthTimeoutMs: number; pollMs: number };
  readonly checks: ServiceChecks;
  private readonly stages: ("checks" | RolloutStage)[];
  readonly meter: WaitMeter;
  readonly started: number;

  constructor(model: AwsModel, engine: AwsEngine, options: PromoteOptions, plan: RolloutStep[]) {
    this.model = model;
    // Every wait of the rollout runs on the meter: its time is promote's time waiting on AWS.
    this.meter = new WaitMeter(options.clock ?? engine.clock);
    this.started = this.meter.now();
    this.options = { ...options, clock: this.meter };
    this.stackName = stackName(model);
    this.engine = engine.withClock(this.meter);
    this.serviceWait = waitOf(this.options, "serviceTimeoutMs");
    this.healthWait = { healthTimeoutMs: options.waits.healthTimeoutMs, pollMs: options.waits.pollMs };
    this.checks = options.serviceChecks ?? serviceChecksFor(model, this.engine, this.options);
    this.stages = ["checks", ...rolloutStages(plan)];
  }

  get report() {
    return this.options.report;
  }

  /** Waits (metered) until the server answers its health path through the load balancer. */
  healthy(target: HttpTarget): Promise<void> {
    return this.meter.waiting(() => this.checks.waitForHealth(target, this.model, this.healthWait));
  }

  /** Where the service answers: its URL, through the emulator when the engine talks to one. */
  target(s: Deployed): HttpTarget {
    return targetFor(urlOf(s), this.engine.endpointUrl, s.infra.stack.outputs[OutputName.loadBalancerDns]);
  }

  get fixAndRetry(): string {
    return `Fix the cause, then run mlflow-dev promote --env ${this.model.environment} again.`;
  }

  /** "[n/7] stage: note", numbered by the stage's place in the plan. */
  step(stage: "checks" | RolloutStage, note = ""): void {
    this.report.step(`[${this.stages.indexOf(stage) + 1}/${this.stages.length}] ${stage}${note ? `: ${note}` : ""}`);
  }
}

/** The result from the steps' outputs. */
function finish(run: Rollout, s: Done): PromoteResult {
  const { model, meter } = run;
  const { secrets, infra, image, current } = s;
  const previous = current.arn;
  const result: PromoteResult = {
    environment: model.environment,
    stack: run.stackName,
    changed: true,
    url: urlOf(s),
    image: image.imageUri,
    imageOrigin: describeImageOrigin(model.mlflow.image, model.mlflow.version),
    taskDefinitionArn: s.registered ?? previous ?? "",
    ...(previous && s.registered ? { previousTaskDefinitionArn: previous } : {}),
    secretsCreated: [...secrets.created, ...secrets.restored],
    infrastructureChanges: infra.changes,
    ...(s.upgradeSnapshot ? { upgradeSnapshot: s.upgradeSnapshot } : {}),
    ...(s.migration ? { migration: s.migration } : {}),
    ...(s.smokeTest ? { smokeTest: s.smokeTest } : {}),
    timings: { totalMs: meter.now() - run.started, waitingMs: meter.waitedMs },
  };
  if (!isRollout(s))
    result.changed = secrets.created.length + secrets.restored.length + infra.changes.length > 0 || image.pushed;
  return result;
}

/** The MLflow version the service runs now: a downgrade stops here, before anything changes. */
async function readRunningVersion(run: Rollout): Promise<Started> {
  const running = await run.engine.describeService(run.model);
  const revision = running?.taskDefinition
    ? await run.engine.describeTaskDefinition(running.taskDefinition)
    : undefined;
  const versions = serviceVersionChange(revision, run.model);
  if (versions.kind === "downgrade") throw downgradeRefused(versions, run.model);
  return { upgrade: versions.kind === "upgrade" && running ? versions : undefined };
}

/** After the image: the task definition the plan gives the service, against the one it runs. */
async function compareWithService(run: Rollout, s: Deployed & { image: ImageChoice }): Promise<Compared> {
  const { model, engine } = run;
  const { secrets, infra, image } = s;
  const ctx = deployContextFromStack({
    outputs: infra.stack.outputs,
    imageUri: image.imageUri,
    secretArns: secrets.arns,
  });
  const desired = toTaskDefinition(model, ctx);
  const service = await engine.describeService(model);
  const arn = service?.taskDefinition;
  const revision = arn ? await engine.describeTaskDefinition(arn) : undefined;
  const changes = taskDefinitionChanges(revision, desired);
  const inSync = infra.stack.parameters[ParameterName.taskDefinitionArn] === arn;
  const current: CurrentService = {
    arn,
    revision,
    changes,
    desiredCount: service?.desiredCount ?? model.target.desiredCount,
    // A restore always rolls out: the service was scaled to zero for it.
    unchanged: Boolean(
      !run.options.restoreFromSnapshot && service && arn && changes.length === 0 && inSync && isSteadyOn(service, arn),
    ),
  };
  return { ...s, ctx, desired, current };
}

/** An upgrade migrates with no writer running, after a snapshot of the database; the snapshot. */
async function stopWritersForUpgrade(
  run: Rollout,
  upgrade: { from: string; to: string },
  current: CurrentService,
): Promise<string> {
  const { engine, model, report } = run;
  const snapshot = await snapshotBeforeUpgrade(engine, model, upgrade);
  report.info(`snapshot ${snapshot} of the database taken (MLflow ${upgrade.from}'s schema)`);
  await engine.setDesiredCount(model, 0, { wait: true });
  report.info(`service scaled to zero (from ${current.desiredCount}): no server writes while the schema changes`);
  return snapshot;
}

/**
 * A failure after the service was touched: the previous revision goes back, except after an
 * upgrade's migration, when the previous revision cannot run on the new schema. Returns the error
 * to throw, which says what state the service is in.
 */
async function recover(run: Rollout, s: RollingOut, touched: Touched, e: unknown): Promise<DeployError> {
  const { model, report } = run;
  const { upgrade } = s;
  const stackRolledBack = touched.rolledBackByStack;
  const cause = e instanceof Error ? e.message : String(e);
  const arn = s.registered;
  const previous = s.current.arn;
  const url = urlOf(s);
  const restored = run.options.restoreFromSnapshot;
  // Where the service is when promote does not put the previous revision back itself.
  const stays = stackRolledBack
    ? `CloudFormation rolled the stack back, so the service is on ${revisionOf(previous)} again`
    : `the service stays on ${revisionOf(arn)}`;
  if (restored)
    return new DeployError(
      `${cause}\nThe database was restored from the snapshot ${restored} and the instance it replaced is gone, so the previous revision is not put back: ${stays}.`,
      {
        hint: `Fix the cause, then run mlflow-dev promote --env ${model.environment} (the stack keeps the restored database).`,
        cause: e,
      },
    );
  if (upgrade)
    return new DeployError(
      `${cause}\nThe database has MLflow ${upgrade.to}'s schema now, on which ${upgrade.from} cannot run, so the previous revision is not put back: ${stays}. The database as it was before the upgrade is the snapshot ${s.upgradeSnapshot}.`,
      { hint: run.fixAndRetry, cause: e },
    );
  if (!previous || previous === arn)
    return new DeployError(
      `${cause}\n${stackRolledBack ? firstRolloutRolledBack(model) : `There is no earlier revision to go back to: ${stays}`}`,
      { hint: run.fixAndRetry, cause: e },
    );
  const by = stackRolledBack
    ? " (CloudFormation rolled the stack back: its update ended in UPDATE_ROLLBACK_COMPLETE)"
    : "";
  try {
    if (stackRolledBack) {
      report.step(`CloudFormation rolled the stack back to ${revisionOf(previous)}`);
    } else {
      report.step(`rolling back to ${revisionOf(previous)}`);
      await pointServiceAt(run, previous, s.current.desiredCount);
    }
    await run.engine.waitForDeployment(model, s.ctx, previous);
    await run.healthy(run.target(s));
    report.info(`${revisionOf(previous)} runs again and ${url} answers ${model.mlflow.healthPath}`);
  } catch (rollbackError) {
    return new DeployError(
      `${cause}\nThe rollback to ${revisionOf(previous)}${by} failed too: ${(rollbackError as Error).message}`,
      {
        hint: `Check the service in the ECS console, then run mlflow-dev promote --env ${model.environment} again.`,
        cause: e,
      },
    );
  }
  return new DeployError(
    `${cause}\nRolled back: the service runs ${revisionOf(previous)} again and answers at ${url}${by}`,
    { hint: run.fixAndRetry, cause: e },
  );
}

/**
 * A failed change set that pointed the service at the revision. On AWS, CloudFormation waits until
 * the service's deployment is steady; when ECS's circuit breaker gives up on the revision, the
 * service resource fails and the stack rolls back to the previous TaskDefinitionArn. The stack's
 * events then say only that the circuit breaker was triggered: ECS's stopped tasks say why (out of
 * memory, a failed health check, an exit code, an image that could not be pulled).
 */
async function stackRollbackCause(run: Rollout, s: RollingOut, touched: Touched, e: unknown): Promise<unknown> {
  const arn = s.registered;
  const stack = await run.engine.describeStack(run.stackName).catch(() => undefined);
  if (stack?.status !== "UPDATE_ROLLBACK_COMPLETE" || stack.parameters[ParameterName.taskDefinitionArn] === arn)
    return e;
  touched.rolledBackByStack = true;
  const stopped = await stoppedTaskCause(run, s, arn);
  if (!stopped) return e;
  return new DeployError(
    `a task of ${revisionOf(arn)} stopped before the rollout completed${stopped}\n${e instanceof Error ? e.message : String(e)}`,
    { cause: e },
  );
}

/** The stack's TaskDefinitionArn parameter set to the revision, through a change set. */
async function pointServiceAt(run: Rollout, arn: string, desiredCount: number): Promise<void> {
  const { engine, model, report } = run;
  const cs = await engine.prepareChangeSet(
    {
      stackName: run.stackName,
      type: "UPDATE",
      parameters: stackParameters(
        model,
        {},
        { value: arn },
        databaseSnapshotParameter(await engine.describeStack(run.stackName)),
      ),
      model,
      description: `mlflow-dev promote: service on ${revisionOf(arn)}`,
    },
    "rollout",
  );
  if (cs.empty) {
    report.info(`the stack already points the service at ${revisionOf(arn)}`);
    return;
  }
  for (const line of formatChanges(cs.changes)) report.info(line);
  const failures = circuitBreakerThreshold(desiredCount);
  report.info(
    `CloudFormation waits until ECS runs ${revisionOf(arn)} steadily; after ${failures} failed task launches ECS gives up on it and the stack rolls back`,
  );
  await engine.executeChangeSet(run.stackName, cs);
}

/** Why tasks of the revision stopped, waiting a few polls for ECS to record a task that just died. */
async function stoppedTaskCause(run: Rollout, s: Pick<Compared, "ctx">, arn: string): Promise<string> {
  const details = await poll({
    clock: run.serviceWait.clock,
    intervalMs: run.serviceWait.pollMs,
    timeoutMs: run.serviceWait.timeoutMs,
    maxAttempts: 4,
    check: async () => (await run.engine.stoppedTaskDetails(run.model, s.ctx, arn)) || undefined,
  });
  return details ?? "";
}

async function smokeAuth(
  model: AwsModel,
  engine: AwsEngine,
  arns: Partial<Record<SecretName, string>>,
): Promise<{ auth?: { user: string; password: string } }> {
  // Inside the VPC the smoke test signs in with the task's own secret: nothing is read here.
  if (model.mlflow.auth !== "basic" || checksRunInVpc(model)) return {};
  const arn = arns["auth-admin-password"];
  if (!arn) return {};
  return { auth: { user: AUTH_ADMIN_USER, password: await engine.readSecret(arn) } };
}
