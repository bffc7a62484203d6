import type { DBSnapshot } from "@aws-sdk/client-rds";
import { compareVersions } from "@mlflow-dev/spec";
import type { AwsModel } from "../render/aws-model.ts";
import { ParameterName, stackName } from "../render/names.ts";
import { type SnapshotResult, SnapshotTag } from "./engine/db-snapshots.ts";
import type { AwsEngine } from "./engine/engine.ts";
import { DeployError } from "./errors.ts";
import type { RunnerOptions } from "./options.ts";
import { type PromoteOptions, type PromoteResult, promoteHoldingLock } from "./promote.ts";
import { stackPhase } from "./stack-status.ts";

/**
 * `backup --env` and `restore --env`: a tagged manual snapshot (engine/db-snapshots.ts), and restores that
 * swap the stack's database for a new instance from a snapshot.
 */

export type AwsBackupResult = SnapshotResult;

export interface AwsRestoreOptions extends Omit<PromoteOptions, "restoreFromSnapshot" | "resumeDesiredCount"> {
  snapshot: string;
}

export interface AwsRestoreResult {
  environment: string;
  snapshot: string;
  /** The MLflow version the snapshot's schema belongs to, when it is recorded. */
  snapshotMlflowVersion?: string;
  /** The database the restore replaced, as a snapshot (absent when there was no stack). */
  previousDatabaseSnapshot?: string;
  promote: PromoteResult;
}

/** `mlflow-dev backup --env`: a manual snapshot of the database, available when this returns. */
export async function backupAws(model: AwsModel, engine: AwsEngine, options: RunnerOptions): Promise<AwsBackupResult> {
  const { report } = options;
  const stack = await engine.describeStack(stackName(model));
  if (!stack || stackPhase(stack.status) !== "update")
    throw new DeployError(
      stack
        ? `the stack ${stackName(model)} is ${stack.status}: there is no database to back up`
        : `there is no stack ${stackName(model)}: nothing to back up`,
      { kind: "input", hint: `Run mlflow-dev promote --env ${model.environment} first. Nothing was changed.` },
    );
  return engine.withLock(model, "backup", async () => {
    report.step("snapshot of the database");
    const result = await engine.takeSnapshot(model, "backup");
    report.info(`${result.snapshot} is available (MLflow ${result.mlflowVersion}'s schema)`);
    return result;
  });
}

function tag(snapshot: DBSnapshot, key: string): string | undefined {
  return snapshot.TagList?.find((t) => t.Key === key)?.Value;
}

/** The snapshot, checked against the environment before anything changes. */
async function checkedSnapshot(
  engine: AwsEngine,
  model: AwsModel,
  id: string,
): Promise<{ snapshot: DBSnapshot; mlflowVersion?: string }> {
  const snapshot = await engine.describeSnapshot(id);
  const hint = `List the environment's snapshots with aws rds describe-db-snapshots --region ${model.target.region}. Nothing was changed.`;
  if (!snapshot)
    throw new DeployError(`there is no RDS snapshot ${id} in ${model.target.region}`, { kind: "input", hint });
  if (snapshot.Status !== "available")
    throw new DeployError(`the RDS snapshot ${id} is ${snapshot.Status}, not available`, {
      kind: "input",
      hint: "Wait until it is available, then run restore again. Nothing was changed.",
    });
  if (snapshot.Engine !== "postgres")
    throw new DeployError(`the RDS snapshot ${id} is of engine ${snapshot.Engine}, not postgres`, {
      kind: "input",
      hint,
    });
  const major = Number((snapshot.EngineVersion ?? "").split(".")[0]);
  if (major !== model.database.majorVersion)
    throw new DeployError(
      `the RDS snapshot ${id} is of PostgreSQL ${snapshot.EngineVersion}, but backend.postgresVersion is ${model.database.majorVersion}: RDS restores a snapshot with its own major version`,
      {
        kind: "input",
        hint: `Set backend.postgresVersion to ${major} for the restore, then upgrade PostgreSQL afterwards. Nothing was changed.`,
      },
    );
  if (snapshot.MasterUsername && snapshot.MasterUsername !== model.database.user)
    throw new DeployError(
      `the RDS snapshot ${id} has the master user ${snapshot.MasterUsername}, but backend.user is ${model.database.user}: a restored database keeps the snapshot's user`,
      { kind: "input", hint: `Set backend.user to ${snapshot.MasterUsername}. Nothing was changed.` },
    );
  const mlflowVersion = tag(snapshot, SnapshotTag.mlflowVersion);
  if (mlflowVersion && compareVersions(mlflowVersion, model.mlflow.version) > 0)
    throw new DeployError(
      `the RDS snapshot ${id} holds MLflow ${mlflowVersion}'s schema, newer than mlflow.version ${model.mlflow.version}: MLflow cannot run on a newer schema`,
      {
        kind: "input",
        hint: `Set mlflow.version to ${mlflowVersion} (or later) for the restore. Nothing was changed.`,
      },
    );
  // The secrets the snapshot's database was made with: gone (deleted for good), a restore would
  // start a service that cannot read its own data.
  const needed = (tag(snapshot, SnapshotTag.secrets) ?? "").split(/\s+/).filter(Boolean);
  if (needed.length) {
    const gone = (await engine.describeSecrets(model)).filter((s) => needed.includes(s.name) && s.state === "missing");
    if (gone.length)
      throw new DeployError(
        `the RDS snapshot ${id} needs the secret(s) ${gone.map((s) => s.id).join(", ")}, which no longer exist: a database restored from it could not be used (its master password, its encrypted values or its admin are in them)`,
        {
          kind: "input",
          hint: "Restore the secrets first if they are within their recovery window (aws secretsmanager restore-secret), or recreate them with their old values. Nothing was changed.",
        },
      );
  }
  return { snapshot, ...(mlflowVersion ? { mlflowVersion } : {}) };
}

/**
 * `mlflow-dev restore --env --snapshot`: the stack's database becomes a new RDS instance from the
 * snapshot, with every writer stopped. With a stack: a snapshot of the current database first, the
 * service to zero, then promote swaps the instance (the stack keeps naming the snapshot, or RDS
 * would replace the instance with an empty one later), migrates if the snapshot's MLflow is older,
 * rolls out and gives the service its desired count back. Without a stack (after destroy): promote
 * creates the stack with the database from the snapshot and adopts the kept bucket.
 */
export async function restoreAws(
  model: AwsModel,
  engine: AwsEngine,
  options: AwsRestoreOptions,
): Promise<AwsRestoreResult> {
  const { report } = options;
  report.step(`checks: snapshot ${options.snapshot}`);
  const checked = await checkedSnapshot(engine, model, options.snapshot);
  report.info(
    `${options.snapshot}: PostgreSQL ${checked.snapshot.EngineVersion}, ${checked.mlflowVersion ? `MLflow ${checked.mlflowVersion}'s schema` : "MLflow version not recorded (the migration task refuses a newer schema)"}, taken ${checked.snapshot.SnapshotCreateTime?.toISOString() ?? "(unknown)"}`,
  );
  const stack = await engine.describeStack(stackName(model));
  if (stack?.parameters[ParameterName.databaseSnapshot] === options.snapshot)
    throw new DeployError(`the database of ${stackName(model)} was restored from ${options.snapshot} already`, {
      kind: "input",
      hint: `To go back to that snapshot again, copy it (aws rds copy-db-snapshot) and restore the copy. Nothing was changed.`,
    });

  return engine.withLock(model, "restore", async () => {
    const result: Partial<AwsRestoreResult> = {
      environment: model.environment,
      snapshot: options.snapshot,
      ...(checked.mlflowVersion ? { snapshotMlflowVersion: checked.mlflowVersion } : {}),
    };
    let resumeDesiredCount: number | undefined;
    let before: SnapshotResult | undefined;
    if (stack && stackPhase(stack.status) === "update") {
      report.step("the database it replaces: snapshot, writers stopped");
      before = await engine.takeSnapshot(model, "before-restore");
      result.previousDatabaseSnapshot = before.snapshot;
      report.info(`snapshot ${before.snapshot} of the current database taken`);
      const service = await engine.describeService(model);
      if (service) {
        resumeDesiredCount = service.desiredCount ?? model.target.desiredCount;
        await engine.setDesiredCount(model, 0, { wait: true });
        report.info(
          `service scaled to zero (from ${resumeDesiredCount}): no server writes while the database is swapped`,
        );
      }
      if (await engine.deletionProtected(before.instance)) {
        // The replaced instance is deleted in the update's cleanup; protection would keep it (and bill it).
        await engine.removeDeletionProtection(before.instance);
        report.info(
          `deletion protection of ${before.instance} turned off: it is replaced (its data is in ${before.snapshot})`,
        );
      }
    }
    try {
      result.promote = await promoteHoldingLock(model, engine, {
        ...options,
        restoreFromSnapshot: options.snapshot,
        ...(resumeDesiredCount !== undefined ? { resumeDesiredCount } : {}),
      });
    } catch (e) {
      if (!result.previousDatabaseSnapshot) throw e;
      const message = e instanceof Error ? e.message : String(e);
      // Not swapped (the stack update failed and rolled back): the old database serves again.
      const swapped = (await engine.databaseInstanceId(model).catch(() => "")) !== before?.instance;
      if (!swapped && resumeDesiredCount !== undefined) await engine.setDesiredCount(model, resumeDesiredCount);
      throw new DeployError(
        swapped
          ? `${message}\nThe database was swapped for the one from ${options.snapshot}; the database before the restore is the snapshot ${result.previousDatabaseSnapshot}.`
          : `${message}\nThe database was not swapped: the service has its desired count (${resumeDesiredCount ?? 0}) back on the database it had, which is also in the snapshot ${result.previousDatabaseSnapshot}.`,
        {
          kind: "failed",
          hint:
            e instanceof DeployError && e.hint
              ? e.hint
              : `Fix the cause, then run mlflow-dev restore --env ${model.environment} --snapshot ${options.snapshot} again.`,
          cause: e,
        },
      );
    }
    return result as AwsRestoreResult;
  });
}
