import type { Tag } from "@aws-sdk/client-rds";
import type { AwsModel } from "../render/aws-model.ts";
import { type Teardown, withTeardown } from "../render/cloudformation/template.ts";
import { LogicalId, migrationTaskFamily, stackName, taskFamily } from "../render/names.ts";
import { formatChanges } from "./diff.ts";
import { prefixOf } from "./engine/bucket.ts";
import type { AwsEngine } from "./engine/engine.ts";
import { databaseSnapshotParameter, stackParameters } from "./engine/stack-info.ts";
import { DeployError } from "./errors.ts";
import type { RunnerOptions } from "./options.ts";
import { destroyStackAction } from "./stack-status.ts";

export interface DestroyOptions extends RunnerOptions, Teardown {}

export interface DestroyResult {
  environment: string;
  stack: string;
  stackDeleted: boolean;
  /** The final snapshot of the database, when one was kept. */
  finalSnapshot?: string;
  /** The artifact bucket, when it (and its objects) was kept. */
  bucketKept?: string;
  taskDefinitionsDeregistered: string[];
  secrets: string[];
  /** Secrets kept because a final snapshot or the bucket was kept (the data needs them). */
  secretsKept?: string[];
}

/**
 * Removes what promote created: the stack (service, database, network, roles, logs), every task
 * definition revision of both families, and the secrets. Keeps a final database snapshot unless
 * skipFinalSnapshot, and the artifact bucket with its objects unless deleteData. The ECR repository of
 * a built image goes with its images (they are rebuilt from the build context).
 */
export async function destroy(model: AwsModel, engine: AwsEngine, options: DestroyOptions): Promise<DestroyResult> {
  const { report } = options;
  report.step("[1/5] checks");
  await engine.preflight(model, { network: false, bucket: false });
  return engine.withLock(model, "destroy", () => destroyLocked(model, engine, options));
}

async function destroyLocked(model: AwsModel, engine: AwsEngine, options: DestroyOptions): Promise<DestroyResult> {
  const { report } = options;
  const name = stackName(model);
  const result: DestroyResult = {
    environment: model.environment,
    stack: name,
    stackDeleted: false,
    taskDefinitionsDeregistered: [],
    secrets: [],
  };
  const stack = await engine.describeStack(name);
  const action = destroyStackAction(name, stack);
  if (action.do === "refuse") throw new DeployError(action.message, { hint: action.hint });

  let databaseId: string | undefined;
  let finalTags: Tag[] = [];
  let bucketDeleted = false;
  if (stack) {
    databaseId = await engine.stackResourceId(name, LogicalId.database);
    // Protection that cannot be read is not assumed: the delete then says.
    if (databaseId && (await engine.deletionProtected(databaseId).catch(() => false)))
      throw new DeployError(
        `the database ${databaseId} of ${name} has deletion protection on (environments.${model.environment}.database.deletionProtection: true): destroy does not turn it off`,
        {
          kind: "input",
          hint: `Set environments.${model.environment}.database.deletionProtection: false, run mlflow-dev promote --env ${model.environment}, then destroy again. Nothing was changed.`,
        },
      );
  }
  report.step("[2/5] teardown settings");
  if (stack && action.do === "teardown-then-delete") {
    // What a later restore of the final snapshot needs to know, read while the service exists.
    if (databaseId && !options.skipFinalSnapshot) finalTags = await engine.snapshotTagsNow(model, "final");
    // --delete-data deletes mlflow-dev's prefix; the bucket goes only when nothing else is in it.
    if (options.deleteData) {
      const deleted = await engine.emptyPrefix(model.artifacts.bucket, model.artifacts.prefix);
      if (deleted !== undefined)
        report.info(
          `deleted ${deleted} object version(s) under s3://${model.artifacts.bucket}/${prefixOf(model.artifacts.prefix)}`,
        );
      bucketDeleted = !(await engine.bucketHoldsObjects(model.artifacts.bucket));
    }
    const deployed = await engine.deployedTemplate(name);
    const changeSet = await engine.prepareChangeSet(
      {
        stackName: name,
        type: "UPDATE",
        templateBody: JSON.stringify(withTeardown(deployed, { ...options, deleteData: bucketDeleted })),
        parameters: stackParameters(model, {}, { usePrevious: true }, databaseSnapshotParameter(stack)),
        model,
        description: "mlflow-dev destroy: what the delete keeps",
      },
      "teardown",
    );
    if (changeSet.empty) report.info("nothing to change");
    else {
      for (const line of formatChanges(changeSet.changes)) report.info(line);
      await engine.executeChangeSet(name, changeSet);
    }
    report.info(
      `database: ${options.skipFinalSnapshot ? "deleted without a final snapshot (--skip-final-snapshot)" : "a final snapshot is kept"}`,
    );
    report.info(
      `bucket ${model.artifacts.bucket}: ${bucketDeleted ? "deleted (--delete-data; nothing else was in it)" : options.deleteData ? `kept: it holds objects outside ${prefixOf(model.artifacts.prefix) || "the prefix"}, which mlflow-dev did not write` : "kept with its objects"}`,
    );
  } else report.info(stack ? `the stack is ${stack.status}: deleted as it is` : "no stack");

  report.step(`[3/5] stack ${name}`);
  if (stack) {
    // promote turns termination protection on; this is the one delete that turns it off.
    if (stack.terminationProtection) await engine.setTerminationProtection(name, false);
    await engine.deleteStack(name);
    result.stackDeleted = true;
    report.info("deleted");
  } else report.info("nothing to delete");
  if (databaseId && !options.skipFinalSnapshot) {
    const snapshot = await engine.newestSnapshot(databaseId);
    if (snapshot?.DBSnapshotIdentifier) {
      result.finalSnapshot = snapshot.DBSnapshotIdentifier;
      if (snapshot.DBSnapshotArn && finalTags.length) await engine.tagSnapshot(snapshot.DBSnapshotArn, finalTags);
      report.info(
        `final database snapshot: ${snapshot.DBSnapshotIdentifier} (mlflow-dev restore --env ${model.environment} --snapshot ${snapshot.DBSnapshotIdentifier} brings it back)`,
      );
    }
  }
  if (stack && !bucketDeleted) result.bucketKept = model.artifacts.bucket;

  report.step("[4/5] task definitions");
  for (const family of [taskFamily(model), migrationTaskFamily(model)])
    result.taskDefinitionsDeregistered.push(...(await engine.deregisterTaskDefinitionFamily(family)));
  report.info(
    result.taskDefinitionsDeregistered.length
      ? `deregistered ${result.taskDefinitionsDeregistered.map((a) => a.split("/").pop()).join(", ")}`
      : "none active",
  );

  report.step("[5/5] secrets");
  if (result.finalSnapshot || result.bucketKept) {
    // Secrets live as long as the data: the snapshot's database is encrypted with, and logs in
    // with, these; they go with the last destroy that keeps nothing.
    const kept = (await engine.describeSecrets(model)).filter((s) => s.state === "exists");
    result.secretsKept = kept.map((s) => s.id);
    for (const s of kept)
      report.info(
        `kept ${s.id}: ${result.finalSnapshot ? `the final snapshot ${result.finalSnapshot}` : `the bucket ${result.bucketKept}`} needs it (destroy --skip-final-snapshot --delete-data deletes it)`,
      );
    if (!kept.length) report.info("none");
  } else {
    result.secrets = await engine.deleteSecrets(model, { force: options.deleteData });
    if (!result.secrets.length) report.info("none");
  }
  return result;
}
