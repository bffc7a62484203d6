import type { AwsModel } from "@mlflow-dev/aws";
import type { AwsBackupResult, AwsRestoreResult, EnvironmentStatus } from "@mlflow-dev/aws/deploy";
import type { BackupResult, RestoreResult, ServiceReport } from "@mlflow-dev/compose/runtime";
import { withSpecFlag } from "../spec-file.ts";

/** The text each runtime's status, backup and restore print (pure). */

/** The local stack's services as a table and a verdict; `file` is the spec as given. */
export function formatLocalStatus(services: ServiceReport[], healthy: boolean, url: string, file: string): string {
  if (services.length === 0)
    return withSpecFlag("the local stack is not running (start it with `mlflow-dev up`)\n", file);
  const rows = [
    ["SERVICE", "STATE", "HEALTH", "PORTS"],
    ...services.map((s) => [s.service, serviceState(s), s.kind === "job" ? "-" : s.health, s.ports.join(", ")]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map(
    (r) =>
      `${r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd()}\n`,
  );
  return (
    table.join("") +
    (healthy ? `\nhealthy: ${url}\n` : withSpecFlag("\nnot healthy: see `mlflow-dev logs <service>`\n", file))
  );
}

/** The STATE column: a finished one-off job as completed or failed with its exit code, a stopped service with its code. */
export function serviceState(s: ServiceReport): string {
  if (s.kind === "job" && (s.status === "completed" || s.status === "failed"))
    return `${s.status} (exit ${s.exitCode})`;
  return s.status + (s.exitCode !== undefined ? ` (${s.exitCode})` : "");
}

/** The environment's status as text. */
export function formatEnvironmentStatus(s: EnvironmentStatus): string {
  const svc = s.service;
  const lines = [
    `stack:        ${s.stack.name} ${s.stack.status}${s.stack.reason ? ` (${s.stack.reason})` : ""}`,
    svc
      ? `service:      ${svc.name} ${svc.status}, revision ${svc.taskDefinition ?? "(none)"}, rollout ${svc.rolloutState ?? "(unknown)"}${svc.rolloutStateReason ? ` (${svc.rolloutStateReason})` : ""}`
      : "service:     (none)",
    ...(svc
      ? [`tasks:        ${svc.running}/${svc.desired} running${svc.pending ? `, ${svc.pending} pending` : ""}`]
      : []),
    ...s.tasks.map((t) => `  ${t.id}  ${t.lastStatus}  ${t.health}${t.revision ? `  ${t.revision}` : ""}`),
    `url:          ${s.url ?? "(none)"}`,
    `image:        ${s.image ? `${s.image} (${s.imageOrigin === "build" ? "built, in the stack's ECR repository" : "pulled as the spec names it"})` : "(none)"}`,
    `mlflow:       ${s.mlflowVersion} (from the ${s.mlflowVersionFrom === "spec" ? "spec" : "running task definition"})`,
    `last rollout: ${lastRollout(s.lastRollout)}`,
  ];
  const verdict = s.healthy
    ? `\nhealthy: ${s.url ?? s.environment}\n`
    : `\nnot healthy:\n${s.problems.map((p) => `  - ${p}`).join("\n")}\nThe tasks' output is in the CloudWatch log group ${s.logGroup ?? "of the stack"}; the ECS service's events say why tasks stopped.\n`;
  return `${lines.join("\n")}\n${verdict}`;
}

function lastRollout(r: EnvironmentStatus["lastRollout"]): string {
  if (!r || (r.createdAt === undefined && r.updatedAt === undefined)) return "(not reported)";
  return [r.createdAt ? `started ${r.createdAt}` : "", r.updatedAt ? `updated ${r.updatedAt}` : ""]
    .filter(Boolean)
    .join(", ");
}

/** A local backup: its directory, and what the database dump and the artifact copy hold. */
export function localBackupJson(r: BackupResult) {
  const m = r.manifest;
  return {
    dir: r.dir,
    mlflowVersion: m.mlflowVersion,
    schemaRevision: m.schemaRevision,
    databaseBytes: m.database.bytes,
    objects: m.artifacts.objects.length,
    objectBytes: m.artifacts.objects.reduce((n, o) => n + o.bytes, 0),
  };
}

export function formatLocalBackup(r: BackupResult): string {
  const m = r.manifest;
  const bytes = m.artifacts.objects.reduce((n, o) => n + o.bytes, 0);
  return (
    `backed up ${m.stack} (MLflow ${m.mlflowVersion}, schema revision ${m.schemaRevision}) to ${r.dir}\n` +
    `  database: ${m.database.file}, ${m.database.bytes} bytes (gzip)\n` +
    `  artifacts: ${m.artifacts.objects.length} object(s), ${bytes} bytes, from s3://${m.artifacts.bucket}/${m.artifacts.prefix}/\n`
  );
}

export function formatAwsBackup(model: AwsModel, r: AwsBackupResult): string {
  return (
    `backed up ${model.environment}: RDS snapshot ${r.snapshot} of ${r.instance} (MLflow ${r.mlflowVersion})\n` +
    `  artifacts at ${r.artifacts.at}: ${r.artifacts.objects} object(s), ${r.artifacts.bytes} bytes in s3://${r.artifacts.bucket}/${r.artifacts.prefix}/ (bucket versioning: ${r.artifacts.versioning})\n` +
    `  restore with: mlflow-dev restore --env ${model.environment} --snapshot ${r.snapshot}\n`
  );
}

export function localRestoreJson(r: RestoreResult) {
  return {
    dir: r.dir,
    mlflowVersion: r.manifest.mlflowVersion,
    schemaRevision: r.manifest.schemaRevision,
    experiments: r.experiments,
    runs: r.runs,
    objects: r.objects,
    deletedObjects: r.deletedObjects,
    safetyBackup: r.safetyBackup ?? null,
  };
}

/** `esc` makes a path safe to print on a terminal; `url` is where MLflow answers. */
export function formatLocalRestore(r: RestoreResult, url: string, esc: (s: string) => string): string {
  return (
    `restored ${esc(r.dir)} (MLflow ${r.manifest.mlflowVersion}, schema revision ${r.manifest.schemaRevision}, taken ${r.manifest.createdAt})\n` +
    `  database: ${r.experiments} experiment(s), ${r.runs} run(s)\n` +
    `  artifacts: ${r.objects} object(s)${r.deletedObjects > 0 ? `; ${r.deletedObjects} object(s) not in the backup deleted` : ""}\n` +
    (r.safetyBackup ? `  the stack as it was before: ${esc(r.safetyBackup)} (a backup you can restore)\n` : "") +
    `MLflow is up: ${url}\n`
  );
}

export function formatAwsRestore(model: AwsModel, r: AwsRestoreResult): string {
  return (
    `restored ${model.environment} from ${r.snapshot}${r.snapshotMlflowVersion ? ` (MLflow ${r.snapshotMlflowVersion})` : ""}` +
    `${r.previousDatabaseSnapshot ? `; the database it replaced is the snapshot ${r.previousDatabaseSnapshot}` : ""}\n` +
    `MLflow is up: ${r.promote.url}\n`
  );
}
