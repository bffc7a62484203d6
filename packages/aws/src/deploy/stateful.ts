import { PROTECTED_LOGICAL_IDS } from "../render/cloudformation/stack-policy.ts";
import type { ChangeCause, ResourceChange } from "./diff.ts";
import { DeployError } from "./errors.ts";

/**
 * Pure: which changes of a change set would empty the service. The database, the artifact bucket
 * and what the database stands on (its subnet group, the VPC) hold the service's data; a change
 * set that replaces or removes one of them creates a new, empty resource (or none), and promote
 * would then migrate an empty schema and pass its smoke test on no data. Such a change is refused
 * unless the user names the resource (`--allow-replace <LogicalId>`).
 */

/** Resource types whose replacement or removal loses the service's data, with what they hold. */
export const STATEFUL_RESOURCE_TYPES: Readonly<Record<string, string>> = {
  "AWS::RDS::DBInstance": "the database: every experiment, run, metric and registered model",
  "AWS::S3::Bucket": "the artifact bucket: every logged artifact",
  "AWS::RDS::DBSubnetGroup": "the database's subnet group: replacing it moves the database to new subnets",
  "AWS::EC2::VPC": "the VPC the database and its subnets live in: replacing it replaces them",
};

/** The logical ids of the stateful resources mlflow-dev's template has (what --allow-replace may name). */
export const STATEFUL_LOGICAL_IDS: readonly string[] = PROTECTED_LOGICAL_IDS;

export interface StatefulChange {
  logicalId: string;
  type: string;
  physicalId?: string;
  /** replace: Modify with Replacement True; may-replace: Conditional; remove: Remove. */
  kind: "replace" | "may-replace" | "remove";
  /** What the resource holds (STATEFUL_RESOURCE_TYPES). */
  holds: string;
  /** What caused the replacement, each as the spec key (or stack parameter) when known, else the property. */
  causes: string[];
}

/** The stateful changes of a change set: replacements (True or Conditional) and removals. */
export function classifyStatefulChanges(changes: readonly ResourceChange[], environment: string): StatefulChange[] {
  const out: StatefulChange[] = [];
  for (const c of changes) {
    const holds = STATEFUL_RESOURCE_TYPES[c.type];
    if (!holds) continue;
    let kind: StatefulChange["kind"] | undefined;
    if (c.action === "Remove") kind = "remove";
    else if (c.action === "Modify" && c.replacement === "True") kind = "replace";
    // Conditional: CloudFormation replaces only if a detail requires recreation; details that all
    // say Never update in place. Without details, nothing says it will not: refused as well.
    else if (c.action === "Modify" && c.replacement === "Conditional" && mayRecreate(c)) kind = "may-replace";
    if (!kind) continue;
    out.push({
      logicalId: c.logicalId,
      type: c.type,
      ...(c.physicalId ? { physicalId: c.physicalId } : {}),
      kind,
      holds,
      causes: kind === "remove" ? ["the resource is no longer in the template"] : replacementCauses(c, environment),
    });
  }
  return out;
}

function mayRecreate(c: ResourceChange): boolean {
  const causes = c.causes ?? [];
  return causes.length === 0 || causes.some((d) => d.recreation !== "Never");
}

/** The stateful changes not named by `allowed` (logical ids): what promote refuses. */
export function refusedStatefulChanges(
  stateful: readonly StatefulChange[],
  allowed: Iterable<string>,
): StatefulChange[] {
  const ok = new Set(allowed);
  return stateful.filter((s) => !ok.has(s.logicalId));
}

/** The replacing details first (RequiresRecreation Always or Conditionally); all details when none says so. */
function replacementCauses(c: ResourceChange, environment: string): string[] {
  const causes = c.causes ?? [];
  const recreating = causes.filter((d) => d.recreation === "Always" || d.recreation === "Conditionally");
  const chosen = recreating.length ? recreating : causes;
  const out: string[] = [];
  for (const d of chosen) {
    const text = describeCause(c.type, d, environment);
    if (!out.includes(text)) out.push(text);
  }
  return out.length ? out : ["CloudFormation gave no detail"];
}

/** The spec key behind a property of a stateful resource, as the template renders it. */
function specKey(type: string, property: string, environment: string): string | undefined {
  const env = `environments.${environment}`;
  const keys: Record<string, Record<string, string>> = {
    "AWS::RDS::DBInstance": {
      DBName: "backend.database",
      MasterUsername: "backend.user",
      Engine: "backend",
      EngineVersion: "backend.postgresVersion",
      StorageEncrypted: "(mlflow-dev's template: storage encryption)",
      DBSubnetGroupName: `${env}.network (the database's subnets)`,
      DBSnapshotIdentifier: "the DatabaseSnapshot stack parameter (mlflow-dev restore)",
      AvailabilityZone: `${env}.network`,
    },
    "AWS::S3::Bucket": { BucketName: `${env}.bucket (or artifacts.bucket)` },
    "AWS::RDS::DBSubnetGroup": { SubnetIds: `${env}.network (cidr or subnets)` },
    "AWS::EC2::VPC": { CidrBlock: `${env}.network.cidr` },
  };
  return keys[type]?.[property];
}

function describeCause(type: string, d: ChangeCause, environment: string): string {
  const property = d.property ?? d.attribute ?? "";
  const key = property ? specKey(type, property, environment) : undefined;
  const what = key ? `${key} (${property})` : property || "a change";
  if (d.source === "ResourceReference" && d.causingEntity) return `${what}, because ${d.causingEntity} is replaced`;
  if (d.source === "ParameterReference" && d.causingEntity)
    return key ? what : `${what}, from the stack parameter ${d.causingEntity}`;
  return what;
}

const KIND_WORDS: Record<StatefulChange["kind"], string> = {
  replace: "REPLACED by a new, empty one",
  "may-replace": "possibly REPLACED by a new, empty one",
  remove: "DELETED",
};

/** One line per stateful change, e.g. `Database (AWS::RDS::DBInstance) would be REPLACED ...: backend.database (DBName)`. */
export function formatStatefulChange(s: StatefulChange): string {
  return `${s.logicalId} (${s.type}${s.physicalId ? ` ${s.physicalId}` : ""}) would be ${KIND_WORDS[s.kind]}, caused by ${s.causes.join("; ")}. It holds ${s.holds}.`;
}

/** The refusal (exit 2, nothing changed) for stateful changes the user did not allow. */
export function statefulRefusal(refused: readonly StatefulChange[], environment: string): DeployError {
  const flags = refused.map((s) => `--allow-replace ${s.logicalId}`).join(" ");
  return new DeployError(
    `refused: the change set would lose data:\n${refused.map((s) => `  ${formatStatefulChange(s)}`).join("\n")}`,
    {
      kind: "input",
      hint: `Nothing was changed. Put the spec key back to what the stack has, or, to replace the data on purpose (take a backup first: mlflow-dev backup --env ${environment}), run mlflow-dev promote --env ${environment} ${flags}.`,
    },
  );
}

/** --allow-replace names a stateful resource of the template; anything else is a typo (exit 2). */
export function checkAllowReplace(names: readonly string[]): void {
  const unknown = names.filter((n) => !STATEFUL_LOGICAL_IDS.includes(n));
  if (unknown.length)
    throw new DeployError(
      `--allow-replace ${unknown.join(", ")}: not a stateful resource of the stack (those are ${STATEFUL_LOGICAL_IDS.join(", ")})`,
      { kind: "input", hint: "Name the logical id that plan or the refusal printed. Nothing was changed." },
    );
}
