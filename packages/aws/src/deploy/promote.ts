import { AUTH_ADMIN_USER, type SecretName } from "@mlflow-dev/spec";
import type { AwsModel } from "../aws-model.ts";
import { toTemplate } from "../cloudformation/template.ts";
import { type DeployContext, deployContextFromStack } from "../context.ts";
import { LogicalId, OutputName, ParameterName, stackName } from "../names.ts";
import { toTaskDefinition } from "../task-definition.ts";
import { createChangeSet, executeChangeSet } from "./change-set.ts";
import type { AwsClients } from "./clients.ts";
import {
  formatChanges,
  formatFieldChange,
  type ResourceChange,
  summarizeChanges,
  taskDefinitionChanges,
} from "./diff.ts";
import { DeployError } from "./errors.ts";
import { targetFor } from "./http.ts";
import { type DockerOptions, type ImageChoice, resolveImage } from "./image.ts";
import { withLock } from "./lock.ts";
import { type MigrationResult, runMigration } from "./migrate.ts";
import { type RunnerOptions, waitOf } from "./options.ts";
import { poll } from "./poll.ts";
import { preflight } from "./preflight.ts";
import {
  describeService,
  describeTaskDefinition,
  isSteadyOn,
  registerIfChanged,
  revisionOf,
  stoppedTaskDetails,
  waitForSteadyState,
} from "./rollout.ts";
import { ensureSecrets, readSecretValue } from "./secrets.ts";
import { type SmokeResult, smokeTest, waitForHealth } from "./smoke.ts";
import { getStack, type StackInfo, stackParameters } from "./stack-info.ts";
import { promoteStackAction } from "./stack-status.ts";
import { deleteStack } from "./stack-wait.ts";
import { downgradeRefused, serviceVersionChange, setDesiredCount, snapshotBeforeUpgrade } from "./upgrade.ts";

export interface PromoteOptions extends RunnerOptions, DockerOptions {
  /** Directory of the spec file (build contexts are relative to it). */
  specDir: string;
}

export interface PromoteResult {
  environment: string;
  stack: string;
  /** False when the promote found nothing to change. */
  changed: boolean;
  url: string;
  image: string;
  taskDefinitionArn: string;
  previousTaskDefinitionArn?: string;
  secretsCreated: string[];
  infrastructureChanges: ResourceChange[];
  migration?: MigrationResult;
  smokeTest?: SmokeResult;
  /** With an MLflow upgrade: the RDS snapshot taken before the migration. */
  upgradeSnapshot?: string;
}

const STEPS = ["checks", "secrets", "infrastructure", "image", "migration", "rollout", "smoke test"] as const;

function stepTitle(step: (typeof STEPS)[number], note = ""): string {
  return `[${STEPS.indexOf(step) + 1}/${STEPS.length}] ${step}${note ? `: ${note}` : ""}`;
}

/**
 * The whole rollout of one environment: checks, secrets, the stack (through a change set), the
 * image, the migration task, the new task definition revision on the service, a steady state,
 * and the smoke test. A failure after the service was touched puts the previous revision back.
 */
export async function promote(model: AwsModel, clients: AwsClients, options: PromoteOptions): Promise<PromoteResult> {
  const { report } = options;
  report.step(stepTitle("checks"));
  await preflight(model, clients, report);
  return withLock(clients.ssm, model, "promote", () => promoteLocked(model, clients, options));
}

async function promoteLocked(model: AwsModel, clients: AwsClients, options: PromoteOptions): Promise<PromoteResult> {
  const { report, waits } = options;
  const stackWait = waitOf(options, "stackTimeoutMs");
  const serviceWait = waitOf(options, "serviceTimeoutMs");
  const name = stackName(model);

  // The MLflow version the service runs now: a downgrade stops here, before anything changes.
  const running = await describeService(clients.ecs, model);
  const runningRevision = running?.taskDefinition
    ? await describeTaskDefinition(clients.ecs, running.taskDefinition)
    : undefined;
  const versions = serviceVersionChange(runningRevision, model);
  if (versions.kind === "downgrade") throw downgradeRefused(versions, model);
  const upgrade = versions.kind === "upgrade" && running ? versions : undefined;

  report.step(stepTitle("secrets"));
  const secrets = await ensureSecrets(clients.secretsManager, model, report);

  report.step(stepTitle("infrastructure", `stack ${name}`));
  const infra = await deployInfrastructure(model, clients, secrets.arns, options);
  const outputs = infra.stack.outputs;
  const url = outputs[OutputName.serviceUrl] ?? "";
  const target = targetFor(url, clients.endpointUrl, outputs[OutputName.loadBalancerDns]);

  report.step(stepTitle("image"));
  const image: ImageChoice = await resolveImage(model, clients, outputs, options.specDir, report, options);

  const ctx: DeployContext = deployContextFromStack({ outputs, imageUri: image.imageUri, secretArns: secrets.arns });
  const desired = toTaskDefinition(model, ctx);
  const service = await describeService(clients.ecs, model);
  const currentArn = service?.taskDefinition;
  const current = currentArn ? await describeTaskDefinition(clients.ecs, currentArn) : undefined;
  const tdChanges = taskDefinitionChanges(current, desired);
  const inSync = infra.stack.parameters[ParameterName.taskDefinitionArn] === currentArn;
  const result: PromoteResult = {
    environment: model.environment,
    stack: name,
    changed: true,
    url,
    image: image.imageUri,
    taskDefinitionArn: currentArn ?? "",
    ...(currentArn ? { previousTaskDefinitionArn: currentArn } : {}),
    secretsCreated: [...secrets.created, ...secrets.restored],
    infrastructureChanges: infra.changes,
  };

  if (service && currentArn && tdChanges.length === 0 && inSync && isSteadyOn(service, currentArn)) {
    report.step(stepTitle("migration", "skipped (the service already runs this image and configuration)"));
    report.step(stepTitle("rollout", `the service already runs ${revisionOf(currentArn)}`));
    report.step(stepTitle("smoke test", "health only (nothing was rolled out)"));
    await waitForHealth(target, model, { healthTimeoutMs: waits.healthTimeoutMs, pollMs: waits.pollMs });
    report.info(`GET ${model.mlflow.healthPath}: 200`);
    delete result.previousTaskDefinitionArn;
    result.changed = secrets.created.length + secrets.restored.length + infra.changes.length > 0 || image.pushed;
    return result;
  }

  report.step(stepTitle("migration", upgrade ? `upgrade from MLflow ${upgrade.from} to ${upgrade.to}` : ""));
  // An upgrade migrates with no writer running, after a snapshot of the database.
  const previousDesiredCount = service?.desiredCount ?? model.target.desiredCount;
  let snapshot: string | undefined;
  if (upgrade) {
    snapshot = await snapshotBeforeUpgrade(clients, model, upgrade, waits);
    report.info(`snapshot ${snapshot} of the database taken (MLflow ${upgrade.from}'s schema)`);
    await setDesiredCount(clients, model, 0, waits);
    report.info(`service scaled to zero (from ${previousDesiredCount}): no server writes while the schema changes`);
    result.upgradeSnapshot = snapshot;
  }
  try {
    result.migration = await runMigration(
      clients,
      model,
      ctx,
      {
        subnetIds: (outputs[OutputName.taskSubnetIds] ?? "").split(",").filter(Boolean),
        securityGroupId: outputs[OutputName.taskSecurityGroupId] ?? "",
      },
      report,
      waitOf(options, "taskTimeoutMs"),
    );
  } catch (e) {
    if (!upgrade) throw e;
    // The old revision is what the database was made for (unless the schema changed partly).
    await setDesiredCount(clients, model, previousDesiredCount);
    throw new DeployError(
      `${(e as Error).message}\nThe upgrade stopped before the rollout: the service runs MLflow ${upgrade.from} again (desired count ${previousDesiredCount}). If the migration changed the schema partly, restore the snapshot ${snapshot} (see "Upgrading MLflow" in the README).`,
      { hint: `Fix the cause, then run mlflow-dev promote --env ${model.environment} again.`, cause: e },
    );
  }
  report.info("the database schema is up to date");

  report.step(stepTitle("rollout"));
  const registration =
    current && currentArn && tdChanges.length === 0
      ? { arn: currentArn, registered: false }
      : await registerIfChanged(clients.ecs, desired);
  for (const c of tdChanges) report.info(formatFieldChange(c));
  report.info(`${registration.registered ? "registered" : "using"} ${revisionOf(registration.arn)}`);
  result.taskDefinitionArn = registration.arn;

  // From here on the service is touched: any failure puts the previous revision back, except after
  // an upgrade's migration, when the previous revision cannot run on the new schema.
  try {
    await setServiceTaskDefinition(model, clients, registration.arn, options);
    if (upgrade) await setDesiredCount(clients, model, previousDesiredCount);
    report.info(`waiting for ${revisionOf(registration.arn)} to run steadily`);
    await waitForSteadyState(clients, model, ctx, registration.arn, report, serviceWait);
    report.step(stepTitle("smoke test", url));
    try {
      result.smokeTest = await smokeTest(target, model, {
        report,
        healthTimeoutMs: waits.healthTimeoutMs,
        pollMs: waits.pollMs,
        ...(await smokeAuth(model, clients, secrets.arns)),
      });
    } catch (e) {
      // A task that died under the smoke test (out of memory, say) is the real cause.
      const stopped = await stoppedTaskCause(registration.arn);
      throw stopped ? new DeployError(`${(e as Error).message}${stopped}`, { cause: e }) : e;
    }
  } catch (e) {
    const cause = e instanceof Error ? e.message : String(e);
    if (upgrade)
      throw new DeployError(
        `${cause}\nThe database has MLflow ${upgrade.to}'s schema now, on which ${upgrade.from} cannot run, so the previous revision is not put back: the service stays on ${revisionOf(registration.arn)}. The database as it was before the upgrade is the snapshot ${snapshot}.`,
        { hint: `Fix the cause, then run mlflow-dev promote --env ${model.environment} again.`, cause: e },
      );
    if (!currentArn || currentArn === registration.arn)
      throw new DeployError(
        `${cause}\nThere is no earlier revision to go back to: the service stays on ${revisionOf(registration.arn)}`,
        { hint: `Fix the cause, then run mlflow-dev promote --env ${model.environment} again.`, cause: e },
      );
    report.step(`rolling back to ${revisionOf(currentArn)}`);
    try {
      await setServiceTaskDefinition(model, clients, currentArn, options);
      await waitForSteadyState(clients, model, ctx, currentArn, report, serviceWait);
      await waitForHealth(target, model, { healthTimeoutMs: waits.healthTimeoutMs, pollMs: waits.pollMs });
      report.info(`${revisionOf(currentArn)} runs again and ${url} answers ${model.mlflow.healthPath}`);
    } catch (rollbackError) {
      throw new DeployError(
        `${cause}\nThe rollback to ${revisionOf(currentArn)} failed too: ${(rollbackError as Error).message}`,
        {
          hint: `Check the service in the ECS console, then run mlflow-dev promote --env ${model.environment} again.`,
          cause: e,
        },
      );
    }
    throw new DeployError(
      `${cause}\nRolled back: the service runs ${revisionOf(currentArn)} again and answers at ${url}`,
      { hint: `Fix the cause, then run mlflow-dev promote --env ${model.environment} again.`, cause: e },
    );
  }
  return result;

  /** Why tasks of the revision stopped, waiting a few polls for ECS to record a task that just died. */
  async function stoppedTaskCause(arn: string): Promise<string> {
    const details = await poll({
      clock: serviceWait.clock,
      intervalMs: serviceWait.pollMs,
      timeoutMs: serviceWait.timeoutMs,
      maxAttempts: 4,
      check: async () => (await stoppedTaskDetails(clients, model, ctx, arn)) || undefined,
    });
    return details ?? "";
  }

  async function setServiceTaskDefinition(
    m: AwsModel,
    c: AwsClients,
    arn: string,
    o: PromoteOptions,
  ): Promise<StackInfo | undefined> {
    const cs = await createChangeSet(
      c.cloudformation,
      {
        stackName: name,
        type: "UPDATE",
        parameters: stackParameters(m, {}, { value: arn }),
        model: m,
        description: `mlflow-dev promote: service on ${revisionOf(arn)}`,
      },
      "rollout",
      stackWait,
    );
    if (cs.empty) {
      o.report.info(`the stack already points the service at ${revisionOf(arn)}`);
      return undefined;
    }
    for (const line of formatChanges(cs.changes)) o.report.info(line);
    return executeChangeSet(c.cloudformation, name, cs, o.report, stackWait);
  }
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

interface Infrastructure {
  stack: StackInfo;
  changes: ResourceChange[];
}

/** The stack through a change set; the service's task definition is left as it is. */
async function deployInfrastructure(
  model: AwsModel,
  clients: AwsClients,
  secretArns: Partial<Record<SecretName, string>>,
  options: PromoteOptions,
): Promise<Infrastructure> {
  const { report } = options;
  const wait = waitOf(options, "stackTimeoutMs");
  const cfn = clients.cloudformation;
  const name = stackName(model);
  let stack = await getStack(cfn, name);
  const action = promoteStackAction(name, stack);
  if (action.do === "refuse") throw new DeployError(action.message, { hint: action.hint });
  if (action.do === "replace") {
    report.info(`the stack's first creation failed earlier and left it empty (ROLLBACK_COMPLETE): deleting it first`);
    await deleteStack(cfn, name, report, wait);
    stack = undefined;
  }
  let type: "CREATE" | "UPDATE" = action.do === "update" ? "UPDATE" : "CREATE";
  const template = toTemplate(model);
  if (type === "CREATE" && (await bucketExists(clients, model.artifacts.bucket))) {
    // The bucket outlived an earlier destroy (it keeps the artifacts): the new stack adopts it
    // first (an IMPORT change set), then gets everything else as an update.
    report.info(`the bucket ${model.artifacts.bucket} exists (kept by an earlier destroy): adopting it into the stack`);
    const bucket = template.Resources[LogicalId.artifactBucket];
    const adopt = await createChangeSet(
      cfn,
      {
        stackName: name,
        type: "IMPORT",
        templateBody: JSON.stringify({
          AWSTemplateFormatVersion: template.AWSTemplateFormatVersion,
          Description: template.Description,
          Resources: { [LogicalId.artifactBucket]: bucket },
        }),
        resourcesToImport: [
          {
            ResourceType: "AWS::S3::Bucket",
            LogicalResourceId: LogicalId.artifactBucket,
            ResourceIdentifier: { BucketName: model.artifacts.bucket },
          },
        ],
        parameters: [],
        model,
        description: `mlflow-dev promote: adopt the artifact bucket of ${model.name} (${model.environment})`,
      },
      "adopt",
      wait,
    );
    await executeChangeSet(cfn, name, adopt, report, wait);
    type = "UPDATE";
  }
  const changeSet = await createChangeSet(
    cfn,
    {
      stackName: name,
      type,
      templateBody: JSON.stringify(template),
      parameters: stackParameters(
        model,
        secretArns,
        stack?.parameters[ParameterName.taskDefinitionArn] !== undefined && action.do === "update"
          ? { usePrevious: true }
          : { value: "" },
      ),
      model,
      description: `mlflow-dev promote: infrastructure of ${model.name} (${model.environment})`,
    },
    "infra",
    wait,
  );
  if (changeSet.empty && stack) {
    report.info("no changes");
    return { stack, changes: [] };
  }
  report.info(`${type === "CREATE" ? "creating" : "updating"} ${name}: ${summarizeChanges(changeSet.changes)}`);
  for (const line of formatChanges(changeSet.changes)) report.info(line);
  const done = await executeChangeSet(cfn, name, changeSet, report, wait);
  return { stack: done, changes: changeSet.changes };
}

async function bucketExists(clients: AwsClients, bucket: string): Promise<boolean> {
  try {
    await clients.s3.headBucket({ Bucket: bucket });
    return true;
  } catch {
    return false;
  }
}
