import { type VersionChange, versionChange } from "@mlflow-dev/spec";
import type { AwsModel } from "../render/aws-model.ts";
import { servedMlflowVersion } from "../render/task-definition.ts";
import type { AwsEngine } from "./engine/engine.ts";
import { DeployError } from "./errors.ts";

/**
 * MLflow version changes on ECS. MLflow upgrades its schema in place with every writer stopped
 * (no mixed-version servers) and cannot run on a newer schema, so promote reads the version the
 * service's revision runs (its container label), refuses a downgrade before anything changes,
 * and before an upgrade's migration takes an RDS snapshot and scales the service to zero.
 */
export function serviceVersionChange(
  runningRevision: Record<string, unknown> | undefined,
  model: AwsModel,
): VersionChange {
  return versionChange(servedMlflowVersion(runningRevision), model.mlflow.version);
}

export function downgradeRefused(change: { from: string; to: string }, model: AwsModel): DeployError {
  return new DeployError(
    `mlflow.version is ${change.to}, but the service runs MLflow ${change.from}, which migrated the database: a downgrade is refused (MLflow cannot run on a newer schema). Nothing was changed`,
    {
      kind: "input",
      hint: `Set mlflow.version back to ${change.from}. The data of the older version is in the snapshot promote took before the upgrade (\`aws rds describe-db-snapshots\`, named ...-mlflow-<from>-to-${change.from.replaceAll(".", "-")}-...); restoring it is a new database instance (see "Upgrading MLflow" in the README). Environment ${model.environment}.`,
    },
  );
}

/** A snapshot identifier naming both versions (letters, digits and single hyphens, as RDS requires). */
export function upgradeSnapshotId(instanceId: string, change: { from: string; to: string }, now: Date): string {
  const stamp = now.toISOString().replace(/\D/g, "").slice(0, 14);
  const versions = `mlflow-${change.from}-to-${change.to}`.replace(/[^A-Za-z0-9]+/g, "-");
  return `${instanceId}-${versions}-${stamp}`.replace(/-+/g, "-").slice(0, 255).replace(/-$/, "");
}

/** A snapshot of the database before an upgrade's migration, named after both versions. */
export async function snapshotBeforeUpgrade(
  engine: AwsEngine,
  model: AwsModel,
  change: { from: string; to: string },
): Promise<string> {
  const taken = await engine.takeSnapshot(model, "before-upgrade", (instance, now) =>
    upgradeSnapshotId(instance, change, now),
  );
  return taken.snapshot;
}
