import type { DBSnapshot, Tag } from "@aws-sdk/client-rds";
import { parse } from "yaml";
import type { AwsModel } from "../render/aws-model.ts";
import { type Teardown, type Template, withTeardown } from "../render/cloudformation/template.ts";
import { LogicalId, migrationTaskFamily, stackName, taskFamily } from "../render/names.ts";
import { formatChanges } from "./diff.ts";
import type { AwsClients } from "./engine/clients.ts";
import { snapshotTagsNow } from "./engine/db-snapshots.ts";
import { deregisterTaskDefinitionFamily } from "./engine/ecs-service.ts";
import { awsDeployEngine } from "./engine/engine.ts";
import { withLock } from "./engine/lock.ts";
import { preflight } from "./engine/preflight.ts";
import { deleteSecrets, describeSecrets } from "./engine/secrets.ts";
import { databaseSnapshotParameter, stackParameters } from "./engine/stack-info.ts";
import { awsErrorMessage, awsErrorName, DeployError } from "./errors.ts";
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
export async function destroy(model: AwsModel, clients: AwsClients, options: DestroyOptions): Promise<DestroyResult> {
  const { report } = options;
  report.step("[1/5] checks");
  await preflight(model, clients, report, { network: false, bucket: false });
  return withLock(clients.ssm, model, "destroy", () => destroyLocked(model, clients, options));
}

async function destroyLocked(model: AwsModel, clients: AwsClients, options: DestroyOptions): Promise<DestroyResult> {
  const { report } = options;
  const engine = awsDeployEngine(clients, options);
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
    databaseId = await physicalId(clients, name, LogicalId.database);
    if (databaseId && (await deletionProtected(clients, databaseId)))
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
    if (databaseId && !options.skipFinalSnapshot) finalTags = await snapshotTagsNow(clients, model, "final");
    // --delete-data deletes mlflow-dev's prefix; the bucket goes only when nothing else is in it.
    if (options.deleteData) {
      await emptyPrefix(clients, model.artifacts.bucket, model.artifacts.prefix, report);
      bucketDeleted = !(await holdsObjects(clients, model.artifacts.bucket));
    }
    const deployed = await deployedTemplate(clients, name);
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
    const snapshot = await finalSnapshot(clients, databaseId);
    if (snapshot?.DBSnapshotIdentifier) {
      result.finalSnapshot = snapshot.DBSnapshotIdentifier;
      if (snapshot.DBSnapshotArn && finalTags.length)
        await clients.rds.addTagsToResource({ ResourceName: snapshot.DBSnapshotArn, Tags: finalTags });
      report.info(
        `final database snapshot: ${snapshot.DBSnapshotIdentifier} (mlflow-dev restore --env ${model.environment} --snapshot ${snapshot.DBSnapshotIdentifier} brings it back)`,
      );
    }
  }
  if (stack && !bucketDeleted) result.bucketKept = model.artifacts.bucket;

  report.step("[4/5] task definitions");
  for (const family of [taskFamily(model), migrationTaskFamily(model)])
    result.taskDefinitionsDeregistered.push(...(await deregisterTaskDefinitionFamily(clients, family)));
  report.info(
    result.taskDefinitionsDeregistered.length
      ? `deregistered ${result.taskDefinitionsDeregistered.map((a) => a.split("/").pop()).join(", ")}`
      : "none active",
  );

  report.step("[5/5] secrets");
  if (result.finalSnapshot || result.bucketKept) {
    // Secrets live as long as the data: the snapshot's database is encrypted with, and logs in
    // with, these; they go with the last destroy that keeps nothing.
    const kept = (await describeSecrets(clients.secretsManager, model)).filter((s) => s.state === "exists");
    result.secretsKept = kept.map((s) => s.id);
    for (const s of kept)
      report.info(
        `kept ${s.id}: ${result.finalSnapshot ? `the final snapshot ${result.finalSnapshot}` : `the bucket ${result.bucketKept}`} needs it (destroy --skip-final-snapshot --delete-data deletes it)`,
      );
    if (!kept.length) report.info("none");
  } else {
    result.secrets = await deleteSecrets(clients.secretsManager, model, { force: options.deleteData }, report);
    if (!result.secrets.length) report.info("none");
  }
  return result;
}

async function physicalId(clients: AwsClients, stack: string, logicalId: string): Promise<string | undefined> {
  try {
    const r = await clients.cloudformation.describeStackResource({ StackName: stack, LogicalResourceId: logicalId });
    return r.StackResourceDetail?.PhysicalResourceId;
  } catch {
    return undefined;
  }
}

/** The instance's DeletionProtection as RDS reports it (false when it cannot be read: the delete then says). */
async function deletionProtected(clients: AwsClients, databaseId: string): Promise<boolean> {
  try {
    const r = await clients.rds.describeDBInstances({ DBInstanceIdentifier: databaseId });
    return r.DBInstances?.[0]?.DeletionProtection === true;
  } catch {
    return false;
  }
}

async function deployedTemplate(clients: AwsClients, stack: string): Promise<Template> {
  const r = await clients.cloudformation.getTemplate({ StackName: stack, TemplateStage: "Original" });
  const body = r.TemplateBody ?? "";
  try {
    return JSON.parse(body) as Template;
  } catch {
    return parse(body) as Template;
  }
}

async function finalSnapshot(clients: AwsClients, databaseId: string): Promise<DBSnapshot | undefined> {
  try {
    const r = await clients.rds.describeDBSnapshots({ DBInstanceIdentifier: databaseId });
    const newest = [...(r.DBSnapshots ?? [])].sort(
      (a, b) => (b.SnapshotCreateTime?.getTime() ?? 0) - (a.SnapshotCreateTime?.getTime() ?? 0),
    )[0];
    return newest;
  } catch {
    return undefined;
  }
}

/** `mlflow/` for the prefix `mlflow` (the objects mlflow-dev writes); empty for the bucket's root. */
export function prefixOf(prefix: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, "");
  return p ? `${p}/` : "";
}

/** Anything (an object version or a delete marker) left in the bucket. */
async function holdsObjects(clients: AwsClients, bucket: string): Promise<boolean> {
  try {
    const r = await clients.s3.listObjectVersions({ Bucket: bucket, MaxKeys: 1 });
    return (r.Versions?.length ?? 0) + (r.DeleteMarkers?.length ?? 0) > 0;
  } catch (e) {
    if (awsErrorName(e) === "NoSuchBucket") return false;
    throw new DeployError(`cannot list the bucket ${bucket}: ${awsErrorMessage(e)}`, { cause: e });
  }
}

/**
 * Deletes every object version and delete marker under mlflow-dev's prefix (the whole bucket when
 * the prefix is empty); what others keep in the bucket stays.
 */
async function emptyPrefix(
  clients: AwsClients,
  bucket: string,
  artifactPrefix: string,
  report: RunnerOptions["report"],
): Promise<void> {
  const prefix = prefixOf(artifactPrefix);
  let deleted = 0;
  // ListObjectVersions has two markers and no SDK paginator: walked here.
  try {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const r = await clients.s3.listObjectVersions({
        Bucket: bucket,
        ...(prefix ? { Prefix: prefix } : {}),
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
      });
      const objects = [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])].map((v) => ({
        Key: v.Key ?? "",
        ...(v.VersionId ? { VersionId: v.VersionId } : {}),
      }));
      if (objects.length) {
        await clients.s3.deleteObjects({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } });
        deleted += objects.length;
      }
      if (!r.IsTruncated) break;
      keyMarker = r.NextKeyMarker;
      versionMarker = r.NextVersionIdMarker;
    }
  } catch (e) {
    if (awsErrorName(e) === "NoSuchBucket") return;
    throw new DeployError(`cannot empty the bucket ${bucket}: ${awsErrorMessage(e)}`, { cause: e });
  }
  report.info(`deleted ${deleted} object version(s) under s3://${bucket}/${prefix}`);
}
