import type { SecretName } from "@mlflow-dev/spec";
import type { AwsModel } from "../render/aws-model.ts";
import { TAG_KEYS } from "../render/cloudformation/tags.ts";
import { type Template, toTemplate } from "../render/cloudformation/template.ts";
import { LogicalId, ParameterName, stackName } from "../render/names.ts";
import { formatChanges, type ResourceChange, summarizeChanges } from "./diff.ts";
import type { ChangeSetRequest } from "./engine/change-set.ts";
import type { AwsEngine } from "./engine/engine.ts";
import { databaseSnapshotParameter, type StackInfo, stackParameters } from "./engine/stack-info.ts";
import { DeployError } from "./errors.ts";
import { promoteStackAction } from "./stack-status.ts";
import { classifyStatefulChanges, refusedStatefulChanges, statefulRefusal } from "./stateful.ts";

/** Promote's infrastructure step: the stack through a change set, adopting a kept bucket first. */

export interface Infrastructure {
  stack: StackInfo;
  changes: ResourceChange[];
}

export interface InfrastructureOptions {
  /** `mlflow-dev restore`: the snapshot the stack's database is replaced from (the one replacement it allows itself). */
  restoreFromSnapshot?: string;
  /** Stateful resources (logical ids) the user allows to be replaced or removed (`--allow-replace`). */
  allowReplace?: readonly string[];
}

/** The logical ids a change set may replace or remove: the user's, and the database a restore replaces. */
export function allowedReplacements(options: InfrastructureOptions): string[] {
  return [...(options.allowReplace ?? []), ...(options.restoreFromSnapshot ? [LogicalId.database] : [])];
}

/**
 * The stack through a change set; the service's task definition is left as it is. A change set
 * that would replace or remove a stateful resource not allowed is deleted and refused (exit 2).
 */
export async function deployInfrastructure(
  engine: AwsEngine,
  model: AwsModel,
  secretArns: Partial<Record<SecretName, string>>,
  options: InfrastructureOptions = {},
): Promise<Infrastructure> {
  const { restoreFromSnapshot } = options;
  const { report } = engine;
  const name = stackName(model);
  let stack = await engine.describeStack(name);
  const action = promoteStackAction(name, stack);
  if (action.do === "refuse") throw new DeployError(action.message, { hint: action.hint });
  if (action.do === "replace") {
    report.info(`the stack's first creation failed earlier and left it empty (ROLLBACK_COMPLETE): deleting it first`);
    await engine.deleteStack(name);
    stack = undefined;
  }
  let type: "CREATE" | "UPDATE" = action.do === "update" ? "UPDATE" : "CREATE";
  const template = toTemplate(model);
  if (type === "CREATE" && (await engine.bucketExists(model.artifacts.bucket))) {
    // The bucket outlived an earlier destroy (it keeps the artifacts): the new stack adopts it
    // first (an IMPORT change set), then gets everything else as an update. Only a bucket that
    // carries this environment's tags: anyone else's bucket is not ours to take over.
    const refusal = bucketOwnershipProblem(model, await engine.bucketTags(model.artifacts.bucket));
    if (refusal) throw refusal;
    report.info(`the bucket ${model.artifacts.bucket} exists (kept by an earlier destroy): adopting it into the stack`);
    const adopt = await engine.prepareChangeSet(keptBucketImport(model, template), "adopt");
    await engine.executeChangeSet(name, adopt);
    type = "UPDATE";
  }
  const changeSet = await engine.prepareChangeSet(
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
        databaseSnapshotParameter(action.do === "update" ? stack : undefined, restoreFromSnapshot),
      ),
      model,
      description: `mlflow-dev promote: infrastructure of ${model.name} (${model.environment})`,
    },
    "infra",
  );
  if (changeSet.empty && stack) {
    report.info("no changes");
    await engine.setStackPolicy(name);
    await protectStack(engine, stack);
    return { stack, changes: [] };
  }
  const refused = refusedStatefulChanges(
    classifyStatefulChanges(changeSet.changes, model.environment),
    allowedReplacements(options),
  );
  if (refused.length) {
    await engine.discardChangeSet(name, changeSet);
    throw statefulRefusal(refused, model.environment);
  }
  report.info(`${type === "CREATE" ? "creating" : "updating"} ${name}: ${summarizeChanges(changeSet.changes)}`);
  for (const line of formatChanges(changeSet.changes)) report.info(line);
  // The stack policy denies replacing or deleting a data-holding resource; only for this change
  // set does it leave out the ones the user allowed (restored whatever the outcome).
  const allowed = allowedReplacements(options);
  const existing = type === "UPDATE";
  if (existing) await engine.setStackPolicy(name, allowed);
  let done: StackInfo;
  try {
    done = await engine.executeChangeSet(name, changeSet);
  } finally {
    if (existing && allowed.length) await engine.setStackPolicy(name);
  }
  if (!existing) await engine.setStackPolicy(name);
  await protectStack(engine, done);
  return { stack: done, changes: changeSet.changes };
}

/** Termination protection on (a stack from before it, or one just created). */
async function protectStack(engine: AwsEngine, stack: StackInfo): Promise<void> {
  if (stack.terminationProtection) return;
  await engine.setTerminationProtection(stack.name, true);
  engine.report.info("termination protection on (mlflow-dev destroy turns it off)");
}

/**
 * A bucket with the spec's name that this environment did not create (it lacks mlflow-dev's tags
 * for this spec and environment): the stack does not adopt it. Undefined when it may.
 */
export function bucketOwnershipProblem(
  model: AwsModel,
  tags: Record<string, string> | undefined,
): DeployError | undefined {
  const bucket = model.artifacts.bucket;
  const fix = `Set environments.${model.environment}.bucket to a bucket name of its own (S3 names are global), or, if this bucket is meant for the environment, tag it ${TAG_KEYS.service}=${model.name} and ${TAG_KEYS.environment}=${model.environment} first. Nothing was changed.`;
  if (tags === undefined)
    return new DeployError(
      `the bucket ${bucket} exists, but its tags cannot be read: mlflow-dev adopts only a bucket it created`,
      { kind: "input", hint: fix },
    );
  const wanted: Record<string, string> = { [TAG_KEYS.service]: model.name, [TAG_KEYS.environment]: model.environment };
  const cfnStack = tags["aws:cloudformation:stack-name"];
  const otherStack = cfnStack !== undefined && cfnStack !== stackName(model);
  const wrong = Object.entries(wanted).filter(([k, v]) => tags[k] !== v);
  if (wrong.length === 0 && !otherStack) return undefined;
  const list = (t: Record<string, string>) =>
    Object.entries(t)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
  return new DeployError(
    `the bucket ${bucket} exists but was not created by mlflow-dev for ${model.name} (${model.environment}): its tags are ${list(tags) || "none"}, not ${list(wanted)}${otherStack ? ` of the stack ${stackName(model)} (it belongs to ${cfnStack})` : ""}`,
    { kind: "input", hint: fix },
  );
}

/** The IMPORT change set that adopts the artifact bucket an earlier destroy kept: a stack of that bucket alone. */
export function keptBucketImport(model: AwsModel, template: Template): ChangeSetRequest {
  return {
    stackName: stackName(model),
    type: "IMPORT",
    templateBody: JSON.stringify({
      AWSTemplateFormatVersion: template.AWSTemplateFormatVersion,
      Description: template.Description,
      Resources: { [LogicalId.artifactBucket]: template.Resources[LogicalId.artifactBucket] },
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
  };
}
