import { type DBSnapshot, DBSnapshotNotFoundFault, waitUntilDBSnapshotAvailable } from "@aws-sdk/client-rds";
import { paginateListObjectsV2 } from "@aws-sdk/client-s3";
import type { AwsModel } from "../../render/aws-model.ts";
import { LogicalId, stackName } from "../../render/names.ts";
import { servedMlflowVersion } from "../../render/task-definition.ts";
import { DeployError } from "../errors.ts";
import type { DeployWaits } from "../options.ts";
import type { AwsClients } from "./clients.ts";
import { describeService, describeTaskDefinition } from "./ecs-service.ts";

/**
 * Manual RDS snapshots of a stack's database, every one tagged with what a restore needs to
 * know: the MLflow version whose schema the database has, and the artifact bucket's state at that
 * moment. Taken by backup and restore (deploy/backup-restore.ts), before an upgrade (deploy/upgrade.ts), and
 * tagged the same way on the final snapshot destroy keeps.
 */

/** Tags a backup snapshot carries; `destroy` puts the same on the final snapshot it keeps. */
export const SnapshotTag = {
  mlflowVersion: "mlflow-dev:mlflow-version",
  kind: "mlflow-dev:snapshot",
  takenAt: "mlflow-dev:taken-at",
  bucket: "mlflow-dev:artifact-bucket",
  bucketVersioning: "mlflow-dev:artifact-bucket-versioning",
  objects: "mlflow-dev:artifact-objects",
  bytes: "mlflow-dev:artifact-bytes",
  /** The secrets the database needs (the master password, the KEK passphrase, the admin's), space-separated. */
  secrets: "mlflow-dev:secrets",
} as const;

export type SnapshotKind = "backup" | "before-restore" | "before-upgrade" | "final";

export interface ArtifactPoint {
  bucket: string;
  prefix: string;
  /** The bucket's versioning status (Enabled, Suspended, or off). */
  versioning: string;
  objects: number;
  bytes: number;
  at: string;
}

/** A snapshot taken: its identifier, the instance, and what its tags record. */
export interface SnapshotResult {
  environment: string;
  snapshot: string;
  instance: string;
  mlflowVersion: string;
  artifacts: ArtifactPoint;
}

/** The stack's database instance identifier. */
export async function databaseInstanceId(clients: AwsClients, model: AwsModel): Promise<string> {
  const r = await clients.cloudformation.describeStackResource({
    StackName: stackName(model),
    LogicalResourceId: LogicalId.database,
  });
  const id = r.StackResourceDetail?.PhysicalResourceId;
  if (!id) throw new DeployError(`the stack ${stackName(model)} has no database instance to snapshot`);
  return id;
}

/** The MLflow version the service runs (its revision's label), else the spec's. */
async function servedVersion(clients: AwsClients, model: AwsModel): Promise<string> {
  const service = await describeService(clients.ecs, model);
  const revision = service?.taskDefinition
    ? await describeTaskDefinition(clients.ecs, service.taskDefinition)
    : undefined;
  return servedMlflowVersion(revision) ?? model.mlflow.version;
}

/** What the artifact store holds now: a restore of the database pairs with this point. */
async function artifactPoint(clients: AwsClients, model: AwsModel): Promise<ArtifactPoint> {
  const bucket = model.artifacts.bucket;
  const prefix = model.artifacts.prefix;
  const versioning = (await clients.s3.getBucketVersioning({ Bucket: bucket })).Status ?? "off";
  let objects = 0;
  let bytes = 0;
  for await (const page of paginateListObjectsV2({ client: clients.s3 }, { Bucket: bucket, Prefix: `${prefix}/` })) {
    for (const o of page.Contents ?? []) {
      objects++;
      bytes += o.Size ?? 0;
    }
  }
  return { bucket, prefix, versioning, objects, bytes, at: new Date().toISOString() };
}

/** The tags of a snapshot taken now: the MLflow version served and the artifact point. */
export async function snapshotTagsNow(clients: AwsClients, model: AwsModel, kind: SnapshotKind) {
  return snapshotTags(
    kind,
    await servedVersion(clients, model),
    await artifactPoint(clients, model),
    model.mlflow.secrets.map((s) => s.name),
  );
}

export function snapshotTags(
  kind: SnapshotKind,
  mlflowVersion: string,
  artifacts: ArtifactPoint,
  /** The secrets the database needs: a restore refuses the snapshot once one of them is gone. */
  secrets: readonly string[],
) {
  return [
    ...(secrets.length ? [{ Key: SnapshotTag.secrets, Value: secrets.join(" ") }] : []),
    { Key: SnapshotTag.kind, Value: kind },
    { Key: SnapshotTag.mlflowVersion, Value: mlflowVersion },
    { Key: SnapshotTag.takenAt, Value: artifacts.at },
    { Key: SnapshotTag.bucket, Value: artifacts.bucket },
    { Key: SnapshotTag.bucketVersioning, Value: artifacts.versioning },
    { Key: SnapshotTag.objects, Value: String(artifacts.objects) },
    { Key: SnapshotTag.bytes, Value: String(artifacts.bytes) },
  ];
}

/** A snapshot identifier: the instance, what it is and when (letters, digits, single hyphens). */
export function backupSnapshotId(instanceId: string, kind: SnapshotKind, now: Date): string {
  const stamp = now.toISOString().replace(/\D/g, "").slice(0, 14);
  return `${instanceId}-${kind}-${stamp}`.replace(/-+/g, "-").slice(0, 255).replace(/-$/, "");
}

/**
 * A manual snapshot of the stack's database, tagged (snapshotTags) and available when this
 * returns; named `<instance>-<kind>-<UTC time>` unless `name` gives the identifier.
 */
export async function takeSnapshot(
  clients: AwsClients,
  model: AwsModel,
  kind: SnapshotKind,
  waits: DeployWaits,
  name: (instance: string, now: Date) => string = (instance, now) => backupSnapshotId(instance, kind, now),
): Promise<SnapshotResult> {
  const instance = await databaseInstanceId(clients, model);
  const mlflowVersion = await servedVersion(clients, model);
  const artifacts = await artifactPoint(clients, model);
  const snapshot = name(instance, new Date());
  await clients.rds.createDBSnapshot({
    DBInstanceIdentifier: instance,
    DBSnapshotIdentifier: snapshot,
    Tags: snapshotTags(
      kind,
      mlflowVersion,
      artifacts,
      model.mlflow.secrets.map((s) => s.name),
    ),
  });
  await waitUntilDBSnapshotAvailable(
    { client: clients.rds, maxWaitTime: waits.stackTimeoutMs / 1000, minDelay: waits.pollMs / 1000, maxDelay: 30 },
    { DBSnapshotIdentifier: snapshot },
  );
  return { environment: model.environment, snapshot, instance, mlflowVersion, artifacts };
}

/** The snapshot with this identifier, or undefined when there is none. */
export async function describeSnapshot(clients: AwsClients, id: string): Promise<DBSnapshot | undefined> {
  try {
    const r = await clients.rds.describeDBSnapshots({ DBSnapshotIdentifier: id });
    return r.DBSnapshots?.[0];
  } catch (e) {
    if (e instanceof DBSnapshotNotFoundFault) return undefined;
    throw e;
  }
}

/** The newest snapshot of the instance (the final one a delete kept), or undefined. */
export async function newestSnapshot(clients: AwsClients, databaseId: string): Promise<DBSnapshot | undefined> {
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

/** The instance's DeletionProtection as RDS reports it. */
export async function deletionProtected(clients: AwsClients, databaseId: string): Promise<boolean> {
  const r = await clients.rds.describeDBInstances({ DBInstanceIdentifier: databaseId });
  return r.DBInstances?.[0]?.DeletionProtection === true;
}

/** Turns the instance's deletion protection off, at once. */
export async function removeDeletionProtection(clients: AwsClients, databaseId: string): Promise<void> {
  await clients.rds.modifyDBInstance({
    DBInstanceIdentifier: databaseId,
    DeletionProtection: false,
    ApplyImmediately: true,
  });
}
