import { compareCodeUnits } from "../render/order.ts";
import { CONTAINER_DEFINITION_KEYS, type TaskDefinition } from "../render/task-definition.ts";

/**
 * Pure helpers that turn what AWS reports into readable diffs: CloudFormation change-set changes
 * and task-definition field changes. No SDK types: the runners map the SDK's shapes onto these.
 */

export type ChangeAction = "Add" | "Modify" | "Remove" | "Import" | "Dynamic";

export interface ResourceChange {
  action: ChangeAction;
  logicalId: string;
  type: string;
  physicalId?: string;
  /** True, False or Conditional (CloudFormation's words), for Modify. */
  replacement?: string;
  /** What changed, e.g. Properties.TaskDefinition, Tags. */
  details: string[];
  /** The change set's details as CloudFormation gave them: what changed, whether it recreates, and why. */
  causes?: ChangeCause[];
}

/** One detail of a change (the SDK's ResourceChangeDetail, reduced): for the stateful-change check. */
export interface ChangeCause {
  /** Properties, Tags, Metadata, ... */
  attribute?: string;
  /** The property, e.g. DBName. */
  property?: string;
  /** Never, Conditionally or Always. */
  recreation?: string;
  /** DirectModification, ResourceReference, ParameterReference, ResourceAttribute, Automatic. */
  source?: string;
  /** The resource or parameter whose change caused this one. */
  causingEntity?: string;
}

const SIGN: Record<ChangeAction, string> = { Add: "+", Modify: "~", Remove: "-", Import: "<", Dynamic: "?" };

/** One line per change, aligned, e.g. `~ Service  AWS::ECS::Service  (TaskDefinition; replacement: False)`. */
export function formatChanges(changes: readonly ResourceChange[]): string[] {
  const idWidth = Math.max(0, ...changes.map((c) => c.logicalId.length));
  const typeWidth = Math.max(0, ...changes.map((c) => c.type.length));
  return changes.map((c) => {
    const notes: string[] = [];
    if (c.details.length) notes.push(c.details.join(", "));
    if (c.action === "Modify" && c.replacement && c.replacement !== "False")
      notes.push(c.replacement === "True" ? "REPLACED (a new resource, the old one is deleted)" : "may be replaced");
    if (c.action === "Import") notes.push("existing resource adopted into the stack");
    const line = `${SIGN[c.action]} ${c.logicalId.padEnd(idWidth)}  ${c.type.padEnd(typeWidth)}${notes.length ? `  (${notes.join("; ")})` : ""}`;
    return line.trimEnd();
  });
}

export function summarizeChanges(changes: readonly ResourceChange[]): string {
  const n = (a: ChangeAction) => changes.filter((c) => c.action === a).length;
  const parts = [`${n("Add")} to add`, `${n("Modify")} to change`, `${n("Remove")} to remove`];
  if (n("Import")) parts.push(`${n("Import")} to adopt`);
  return parts.join(", ");
}

/** The change-set detail of one change (the SDK's ResourceChangeDetail, loosely typed). */
export interface ChangeDetail {
  Target?: { Attribute?: string; Name?: string; RequiresRecreation?: string };
  ChangeSource?: string;
  CausingEntity?: string;
}

/** A ResourceChange of DescribeChangeSet (the SDK's shape, loosely typed). */
export interface SdkResourceChange {
  Action?: string;
  LogicalResourceId?: string;
  ResourceType?: string;
  PhysicalResourceId?: string;
  Replacement?: string;
  Details?: readonly ChangeDetail[];
}

/** One change of a change set, as the runners and the stateful check read it. */
export function resourceChangeOf(rc: SdkResourceChange): ResourceChange {
  return {
    action: (rc.Action ?? "Dynamic") as ChangeAction,
    logicalId: rc.LogicalResourceId ?? "",
    type: rc.ResourceType ?? "",
    ...(rc.PhysicalResourceId ? { physicalId: rc.PhysicalResourceId } : {}),
    ...(rc.Replacement ? { replacement: rc.Replacement } : {}),
    details: changedAttributes(rc.Details),
    ...(rc.Details?.length ? { causes: changeCauses(rc.Details) } : {}),
  };
}

/** The details of a change as ChangeCauses. */
export function changeCauses(details: readonly ChangeDetail[] | undefined): ChangeCause[] {
  return (details ?? []).map((d) => ({
    ...(d.Target?.Attribute ? { attribute: d.Target.Attribute } : {}),
    ...(d.Target?.Name ? { property: d.Target.Name } : {}),
    ...(d.Target?.RequiresRecreation ? { recreation: d.Target.RequiresRecreation } : {}),
    ...(d.ChangeSource ? { source: d.ChangeSource } : {}),
    ...(d.CausingEntity ? { causingEntity: d.CausingEntity } : {}),
  }));
}

/** `Properties.TaskDefinition`, `Tags`, ... from a change's details, each once. */
export function changedAttributes(details: readonly ChangeDetail[] | undefined): string[] {
  const out: string[] = [];
  for (const d of details ?? []) {
    const t = d.Target;
    if (!t) continue;
    const label = t.Attribute === "Properties" && t.Name ? t.Name : (t.Name ?? t.Attribute ?? "");
    if (label && !out.includes(label)) out.push(label);
  }
  return out;
}

/** Field-level changes between two JSON values, as `path: before -> after`. */
export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

export function diffJson(before: unknown, after: unknown, path = ""): FieldChange[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const isObj = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length)
    return before.flatMap((b, i) => diffJson(b, after[i], `${path}[${i}]`));
  if (isObj(before) && isObj(after)) {
    const a = before as Record<string, unknown>;
    const b = after as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => diffJson(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return [{ path, before, after }];
}

export function formatFieldChange(c: FieldChange, width = 160): string {
  const show = (v: unknown) => {
    const text = v === undefined ? "(none)" : typeof v === "string" ? v : JSON.stringify(v);
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  };
  return `${c.path}: ${show(c.before)} -> ${show(c.after)}`;
}

/**
 * The registered task definition reduced to the fields the rendering sets, in its key order, so
 * defaults AWS fills in (cpu 0 per container, empty mountPoints, ...) do not count as changes.
 */
export function projectTaskDefinition(registered: Record<string, unknown>, desired: TaskDefinition): unknown {
  return project(registered, desired, "");
}

function project(actual: unknown, shape: unknown, path: string): unknown {
  if (Array.isArray(shape)) {
    if (!Array.isArray(actual)) return actual;
    return actual.map((a, i) => (i < shape.length ? project(a, shape[i], `${path}[${i}]`) : a));
  }
  if (shape !== null && typeof shape === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return actual;
    const a = actual as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(shape))
      if (a[key] !== undefined) out[key] = project(a[key], (shape as never)[key], key);
    if (path.startsWith("containerDefinitions["))
      for (const key of CONTAINER_DEFINITION_KEYS)
        if (!(key in (shape as object)) && a[key] !== undefined) out[key] = a[key];
    return out;
  }
  return actual;
}

/** Changes from a registered revision to the rendering; empty when registering would change nothing. */
export function taskDefinitionChanges(
  registered: Record<string, unknown> | undefined,
  desired: TaskDefinition,
): FieldChange[] {
  if (!registered) return [{ path: "(task definition)", before: undefined, after: desired.family }];
  return diffJson(normalizeNames(projectTaskDefinition(registered, desired)), normalizeNames(desired));
}

/** ECS returns environment and secrets in its own order: compare them sorted by name. */
function normalizeNames(td: unknown): unknown {
  if (td === null || typeof td !== "object") return td;
  const copy = structuredClone(td) as { containerDefinitions?: Record<string, unknown>[] };
  for (const c of copy.containerDefinitions ?? []) {
    for (const key of ["environment", "secrets"]) {
      const list = c[key];
      if (Array.isArray(list))
        c[key] = [...list].sort((x, y) =>
          compareCodeUnits(String((x as { name: string }).name), String((y as { name: string }).name)),
        );
    }
  }
  return copy;
}
