import { poll, realClock, WaitMeter, type WaitOptions } from "@mlflow-dev/kernel/wait";
import { type HttpTarget, targetFor } from "@mlflow-dev/mlflow-client";
import { AUTH_ADMIN_USER, describeImageOrigin, type SecretName } from "@mlflow-dev/spec";
import type { AwsModel } from "../render/aws-model.ts";
import { type DeployContext, deployContextFromStack, placeholderContext } from "../render/context.ts";
import { OutputName, ParameterName, stackName } from "../render/names.ts";
import { type RolloutStage, type RolloutStep, rolloutStages, toRolloutPlan } from "../render/rollout-steps.ts";
import { type TaskDefinition, toTaskDefinition } from "../render/task-definition.ts";
import { formatChanges, formatFieldChange, type ResourceChange, taskDefinitionChanges } from "./diff.ts";
import type { AwsClients } from "./engine/clients.ts";
import {
  circuitBreakerThreshold,
  describeService,
  describeTaskDefinition,
  isSteadyOn,
  registerIfChanged,
  revisionOf,
  setDesiredCount,
  stoppedTaskDetails,
} from "./engine/ecs-service.ts";
import { awsDeployEngine, type DeployEngine } from "./engine/engine.ts";
import { type DockerOptions, type ImageChoice, resolveImage } from "./engine/image.ts";
import { withLock } from "./engine/lock.ts";
import type { MigrationResult } from "./engine/migration-task.ts";
import { type EnsuredSecrets, ensureSecrets, readSecretValue } from "./engine/secrets.ts";
import { databaseSnapshotParameter, stackParameters } from "./engine/stack-info.ts";
import { DeployError } from "./errors.ts";
import { firstRolloutRolledBack } from "./first-rollout.ts";
import { deployInfrastructure, type Infrastructure } from "./infrastructure.ts";
import { type RunnerOptions, waitOf } from "./options.ts";
import { preflight } from "./preflight.ts";
import { accountPreflight } from "./preflight-account.ts";
import { type SmokeResult, smokeTest, waitForHealth } from "./smoke.ts";
import { checkAllowReplace } from "./stateful.ts";
import { downgradeRefused, serviceVersionChange, snapshotBeforeUpgrade } from "./upgrade.ts";

/** How promote checks the service over HTTP: the health wait and the smoke test (replaceable in tests). */
export interface ServiceChecks {
  waitForHealth: typeof waitForHealth;
  smokeTest: typeof smokeTest;
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
export async function promote(model: AwsModel, clients: AwsClients, options: PromoteOptions): Promise<PromoteResult> {
  checkAllowReplace(options.allowReplace ?? []);
  const plan = toRolloutPlan(model, placeholderContext(model));
  const run = new Rollout(model, clients, options, plan);
  run.step("checks");
  await preflight(model, clients, options.report);
  await accountPreflight(model, clients, options.report, "promote");
  return withLock(clients.ssm, model, "promote", () => apply(run, plan));
}

/** promote's checks and rollout, for a caller that holds the environment's deploy lock (restore). */
export async function promoteHoldingLock(
  model: AwsModel,
  clients: AwsClients,
  options: PromoteOptions,
): Promise<PromoteResult> {
  const plan = toRolloutPlan(model, placeholderContext(model));
  const run = new Rollout(model, clients, options, plan);
  run.step("checks");
  await preflight(model, clients, options.report);
  await accountPreflight(model, clients, options.report, "promote");
  return apply(run, plan);
}

/** Executes the plan's steps in order; a failure once the service was touched is recovered from. */
async function apply(run: Rollout, plan: RolloutStep[]): Promise<PromoteResult> {
  await readRunningVersion(run);
  for (const step of plan) {
    try {
      await STEPS[step.step](run);
    } catch (e) {
      if (run.touched) throw await recover(run, e);
      throw e;
    }
  }
  return run.finish();
}

type StepName = RolloutStep["step"];

/** One function per step of the rollout plan. */
const STEPS: Record<StepName, (run: Rollout) => Promise<void>> = {
  secrets: async (run) => {
    run.step("secrets");
    run.secrets = await ensureSecrets(run.clients.secretsManager, run.model, run.report);
  },

  infrastructure: async (run) => {
    run.step("infrastructure", `stack ${run.stackName}`);
    run.infra = await deployInfrastructure(run.engine, run.model, run.need("secrets").arns, {
      ...(run.options.restoreFromSnapshot ? { restoreFromSnapshot: run.options.restoreFromSnapshot } : {}),
      ...(run.options.allowReplace ? { allowReplace: run.options.allowReplace } : {}),
    });
  },

  image: async (run) => {
    run.step("image");
    const { model, clients, options } = run;
    run.image = await resolveImage(model, clients, run.outputs, options.specDir, run.report, options);
    await compareWithService(run);
  },

  migrate: async (run) => {
    const current = run.need("current");
    if (current.unchanged) {
      run.step("migration", "skipped (the service already runs this image and configuration)");
      return;
    }
    const { upgrade } = run;
    run.step("migration", upgrade ? `upgrade from MLflow ${upgrade.from} to ${upgrade.to}` : "");
    if (upgrade) await stopWritersForUpgrade(run, upgrade);
    try {
      run.result.migration = await run.engine.runMigrationTask(run.model, run.need("ctx"), {
        subnetIds: (run.outputs[OutputName.taskSubnetIds] ?? "").split(",").filter(Boolean),
        securityGroupId: run.outputs[OutputName.taskSecurityGroupId] ?? "",
      });
    } catch (e) {
      if (!upgrade) throw e;
      // The old revision is what the database was made for (unless the schema changed partly).
      await setDesiredCount(run.clients, run.model, current.desiredCount);
      throw new DeployError(
        `${(e as Error).message}\nThe upgrade stopped before the rollout: the service runs MLflow ${upgrade.from} again (desired count ${current.desiredCount}). If the migration changed the schema partly, restore the snapshot ${run.snapshot} (see "Upgrading MLflow" in the README).`,
        { hint: run.fixAndRetry, cause: e },
      );
    }
    run.report.info("the database schema is up to date");
  },

  register: async (run) => {
    const current = run.need("current");
    if (current.unchanged) {
      run.step("rollout", `the service already runs ${revisionOf(current.arn)}`);
      return;
    }
    run.step("rollout");
    const registration =
      current.revision && current.arn && current.changes.length === 0
        ? { arn: current.arn, registered: false }
        : await registerIfChanged(run.clients.ecs, run.need("desired"));
    for (const c of current.changes) run.report.info(formatFieldChange(c));
    run.report.info(`${registration.registered ? "registered" : "using"} ${revisionOf(registration.arn)}`);
    run.result.taskDefinitionArn = registration.arn;
    run.registered = registration.arn;
  },

  "update-service": async (run) => {
    if (run.need("current").unchanged) return;
    // From here on the service is touched: a failure puts the previous revision back (recover).
    run.touched = true;
    const arn = run.need("registered");
    try {
      await pointServiceAt(run, arn);
    } catch (e) {
      throw await stackRollbackCause(run, arn, e);
    }
    // An upgrade scaled the service to zero, a restore's caller did: it gets its count back.
    const resume = run.upgrade ? run.need("current").desiredCount : run.options.resumeDesiredCount;
    if (resume !== undefined) await setDesiredCount(run.clients, run.model, resume);
  },

  "wait-steady": async (run) => {
    if (run.need("current").unchanged) return;
    const arn = run.need("registered");
    run.report.info(`waiting for ${revisionOf(arn)} to run steadily`);
    await run.engine.waitForDeployment(run.model, run.need("ctx"), arn);
  },

  "smoke-test": async (run) => {
    const { model, checks } = run;
    if (run.need("current").unchanged) {
      run.step("smoke test", "health only (nothing was rolled out)");
      await run.healthy();
      run.report.info(`GET ${model.mlflow.healthPath}: 200`);
      return;
    }
    run.step("smoke test", run.url);
    try {
      // The wait for the load balancer to answer, apart from the smoke test's own requests.
      await run.healthy();
      run.result.smokeTest = await checks.smokeTest(run.target, model, {
        report: run.report,
        ...run.healthWait,
        ...(await smokeAuth(model, run.clients, run.need("secrets").arns)),
      });
    } catch (e) {
      // A task that died under the smoke test (out of memory, say) is the real cause.
      const stopped = await stoppedTaskCause(run, run.need("registered"));
      throw stopped ? new DeployError(`${(e as Error).message}${stopped}`, { cause: e }) : e;
    }
  },
};

/** What the service runs before the rollout, against what the plan would give it. */
interface CurrentService {
  arn: string | undefined;
  revision: Record<string, unknown> | undefined;
  changes: ReturnType<typeof taskDefinitionChanges>;
  desiredCount: number;
  /** The service already runs exactly this revision, steadily, and the stack points at it: nothing to roll out. */
  unchanged: boolean;
}

/** The state of one promote, passed from step to step. */
class Rollout {
  readonly model: AwsModel;
  readonly clients: AwsClients;
  readonly options: PromoteOptions;
  readonly stackName: string;
  readonly engine: DeployEngine;
  readonly serviceWait: WaitOptions;
  readonly healthWait: { healthTimeoutMs: number; pollMs: number };
  readonly checks: ServiceChecks;
  private readonly stages: ("checks" | RolloutStage)[];

  upgrade: { from: string; to: string } | undefined;
  secrets: EnsuredSecrets | undefined;
  infra: Infrastructure | undefined;
  image: ImageChoice | undefined;
  ctx: DeployContext | undefined;
  desired: TaskDefinition | undefined;
  current: CurrentService | undefined;
  registered: string | undefined;
  snapshot: string | undefined;
  /** The service was changed: a failure from here on is recovered from. */
  touched = false;
  /** CloudFormation rolled the stack back from the revision: the service is on the previous one again. */
  stackRolledBack = false;
  readonly meter: WaitMeter;
  readonly started: number;
  result: PromoteResult;

  constructor(model: AwsModel, clients: AwsClients, options: PromoteOptions, plan: RolloutStep[]) {
    this.model = model;
    this.clients = clients;
    // Every wait of the rollout runs on the meter: its time is promote's time waiting on AWS.
    this.meter = new WaitMeter(options.clock ?? realClock);
    this.started = this.meter.now();
    this.options = { ...options, clock: this.meter };
    this.stackName = stackName(model);
    this.engine = awsDeployEngine(clients, this.options);
    this.serviceWait = waitOf(this.options, "serviceTimeoutMs");
    this.healthWait = { healthTimeoutMs: options.waits.healthTimeoutMs, pollMs: options.waits.pollMs };
    this.checks = options.serviceChecks ?? { waitForHealth, smokeTest };
    this.stages = ["checks", ...rolloutStages(plan)];
    this.result = {
      environment: model.environment,
      stack: this.stackName,
      changed: true,
      url: "",
      image: "",
      imageOrigin: describeImageOrigin(model.mlflow.image, model.mlflow.version),
      taskDefinitionArn: "",
      secretsCreated: [],
      infrastructureChanges: [],
    };
  }

  get report() {
    return this.options.report;
  }

  /** Waits (metered) until the server answers its health path through the load balancer. */
  healthy(): Promise<void> {
    return this.meter.waiting(() => this.checks.waitForHealth(this.target, this.model, this.healthWait));
  }

  get outputs(): Record<string, string> {
    return this.need("infra").stack.outputs;
  }

  get url(): string {
    return this.outputs[OutputName.serviceUrl] ?? "";
  }

  get target(): HttpTarget {
    return targetFor(this.url, this.clients.endpointUrl, this.outputs[OutputName.loadBalancerDns]);
  }

  get fixAndRetry(): string {
    return `Fix the cause, then run mlflow-dev promote --env ${this.model.environment} again.`;
  }

  /** "[n/7] stage: note", numbered by the stage's place in the plan. */
  step(stage: "checks" | RolloutStage, note = ""): void {
    this.report.step(`[${this.stages.indexOf(stage) + 1}/${this.stages.length}] ${stage}${note ? `: ${note}` : ""}`);
  }

  /** A value an earlier step set; its absence is a step out of order, an internal error. */
  need<K extends "secrets" | "infra" | "image" | "ctx" | "desired" | "current" | "registered">(
    key: K,
  ): NonNullable<Rollout[K]> {
    const value = this[key];
    if (value === undefined) throw new Error(`internal error: promote ran a step before the one that sets ${key}`);
    return value as NonNullable<Rollout[K]>;
  }

  finish(): PromoteResult {
    const { result } = this;
    result.timings = { totalMs: this.meter.now() - this.started, waitingMs: this.meter.waitedMs };
    if (this.need("current").unchanged) {
      const secrets = this.need("secrets");
      delete result.previousTaskDefinitionArn;
      result.changed =
        secrets.created.length + secrets.restored.length + this.need("infra").changes.length > 0 ||
        this.need("image").pushed;
    }
    return result;
  }
}

/** The MLflow version the service runs now: a downgrade stops here, before anything changes. */
async function readRunningVersion(run: Rollout): Promise<void> {
  const running = await describeService(run.clients.ecs, run.model);
  const revision = running?.taskDefinition
    ? await describeTaskDefinition(run.clients.ecs, running.taskDefinition)
    : undefined;
  const versions = serviceVersionChange(revision, run.model);
  if (versions.kind === "downgrade") throw downgradeRefused(versions, run.model);
  run.upgrade = versions.kind === "upgrade" && running ? versions : undefined;
}

/** After the image: the task definition the plan gives the service, against the one it runs. */
async function compareWithService(run: Rollout): Promise<void> {
  const { model, clients } = run;
  const secrets = run.need("secrets");
  const infra = run.need("infra");
  const image = run.need("image");
  const ctx = deployContextFromStack({ outputs: run.outputs, imageUri: image.imageUri, secretArns: secrets.arns });
  const desired = toTaskDefinition(model, ctx);
  const service = await describeService(clients.ecs, model);
  const arn = service?.taskDefinition;
  const revision = arn ? await describeTaskDefinition(clients.ecs, arn) : undefined;
  const changes = taskDefinitionChanges(revision, desired);
  const inSync = infra.stack.parameters[ParameterName.taskDefinitionArn] === arn;
  run.ctx = ctx;
  run.desired = desired;
  run.current = {
    arn,
    revision,
    changes,
    desiredCount: service?.desiredCount ?? model.target.desiredCount,
    // A restore always rolls out: the service was scaled to zero for it.
    unchanged: Boolean(
      !run.options.restoreFromSnapshot && service && arn && changes.length === 0 && inSync && isSteadyOn(service, arn),
    ),
  };
  run.result = {
    environment: model.environment,
    stack: run.stackName,
    changed: true,
    url: run.url,
    image: image.imageUri,
    imageOrigin: describeImageOrigin(model.mlflow.image, model.mlflow.version),
    taskDefinitionArn: arn ?? "",
    ...(arn ? { previousTaskDefinitionArn: arn } : {}),
    secretsCreated: [...secrets.created, ...secrets.restored],
    infrastructureChanges: infra.changes,
  };
}

/** An upgrade migrates with no writer running, after a snapshot of the database. */
async function stopWritersForUpgrade(run: Rollout, upgrade: { from: string; to: string }): Promise<void> {
  const { clients, model, report, options } = run;
  const snapshot = await snapshotBeforeUpgrade(clients, model, upgrade, options.waits);
  run.snapshot = snapshot;
  report.info(`snapshot ${snapshot} of the database taken (MLflow ${upgrade.from}'s schema)`);
  await setDesiredCount(clients, model, 0, options.waits);
  report.info(
    `service scaled to zero (from ${run.need("current").desiredCount}): no server writes while the schema changes`,
  );
  run.result.upgradeSnapshot = snapshot;
}

/**
 * A failure after the service was touched: the previous revision goes back, except after an
 * upgrade's migration, when the previous revision cannot run on the new schema. Returns the error
 * to throw, which says what state the service is in.
 */
async function recover(run: Rollout, e: unknown): Promise<DeployError> {
  const { model, report, upgrade, stackRolledBack } = run;
  const cause = e instanceof Error ? e.message : String(e);
  const arn = run.need("registered");
  const previous = run.need("current").arn;
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
      `${cause}\nThe database has MLflow ${upgrade.to}'s schema now, on which ${upgrade.from} cannot run, so the previous revision is not put back: ${stays}. The database as it was before the upgrade is the snapshot ${run.snapshot}.`,
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
      await pointServiceAt(run, previous);
    }
    await run.engine.waitForDeployment(model, run.need("ctx"), previous);
    await run.healthy();
    report.info(`${revisionOf(previous)} runs again and ${run.url} answers ${model.mlflow.healthPath}`);
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
    `${cause}\nRolled back: the service runs ${revisionOf(previous)} again and answers at ${run.url}${by}`,
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
async function stackRollbackCause(run: Rollout, arn: string, e: unknown): Promise<unknown> {
  const stack = await run.engine.describeStack(run.stackName).catch(() => undefined);
  if (stack?.status !== "UPDATE_ROLLBACK_COMPLETE" || stack.parameters[ParameterName.taskDefinitionArn] === arn)
    return e;
  run.stackRolledBack = true;
  const stopped = await stoppedTaskCause(run, arn);
  if (!stopped) return e;
  return new DeployError(
    `a task of ${revisionOf(arn)} stopped before the rollout completed${stopped}\n${e instanceof Error ? e.message : String(e)}`,
    { cause: e },
  );
}

/** The stack's TaskDefinitionArn parameter set to the revision, through a change set. */
async function pointServiceAt(run: Rollout, arn: string): Promise<void> {
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
  const failures = circuitBreakerThreshold(run.need("current").desiredCount);
  report.info(
    `CloudFormation waits until ECS runs ${revisionOf(arn)} steadily; after ${failures} failed task launches ECS gives up on it and the stack rolls back`,
  );
  await engine.executeChangeSet(run.stackName, cs);
}

/** Why tasks of the revision stopped, waiting a few polls for ECS to record a task that just died. */
async function stoppedTaskCause(run: Rollout, arn: string): Promise<string> {
  const details = await poll({
    clock: run.serviceWait.clock,
    intervalMs: run.serviceWait.pollMs,
    timeoutMs: run.serviceWait.timeoutMs,
    maxAttempts: 4,
    check: async () => (await stoppedTaskDetails(run.clients, run.model, run.need("ctx"), arn)) || undefined,
  });
  return details ?? "";
}

async function smokeAuth(
  model: AwsModel,
  clients: AwsClients,
  arns: Partial<Record<SecretName, string>>,
): Promise<{ auth?: { user: string; password: string } }> {
  if (model.mlflow.auth !== "basic") return {};
  const arn = arns["auth-admin-password"];
  if (!arn) return {};
  return { auth: { user: AUTH_ADMIN_USER, password: await readSecretValue(clients.secretsManager, arn) } };
}
