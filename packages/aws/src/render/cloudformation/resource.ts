/** A CloudFormation resource, keys in the order they are written. */
export interface Resource {
  Type: string;
  Condition?: string;
  DependsOn?: string[];
  DeletionPolicy?: "Delete" | "Retain" | "Snapshot";
  UpdateReplacePolicy?: "Delete" | "Retain" | "Snapshot";
  Metadata?: Record<string, unknown>;
  Properties: Record<string, unknown>;
}

export type Resources = Record<string, Resource>;

export interface ResourceOptions {
  condition?: string;
  dependsOn?: string[];
  /** What happens to the resource's data on delete or replacement: both DeletionPolicy and UpdateReplacePolicy. */
  onDelete?: "Delete" | "Retain" | "Snapshot";
  suppress?: Suppressions;
}

/** Builds a resource with its keys in a fixed order, so the same input gives the same bytes. */
export function resource(type: string, properties: Record<string, unknown>, options: ResourceOptions = {}): Resource {
  const metadata = options.suppress ? suppressionMetadata(options.suppress) : undefined;
  return {
    Type: type,
    ...(options.condition ? { Condition: options.condition } : {}),
    ...(options.dependsOn?.length ? { DependsOn: options.dependsOn } : {}),
    ...(options.onDelete ? { DeletionPolicy: options.onDelete, UpdateReplacePolicy: options.onDelete } : {}),
    ...(metadata ? { Metadata: metadata } : {}),
    Properties: properties,
  };
}

/** A finding of a checker that is intended, with the reason written next to it. */
export interface Suppression {
  id: string;
  reason: string;
}

export interface Suppressions {
  checkov?: Suppression[];
  cfnLint?: Suppression[];
}

/**
 * Resource Metadata that silences intended findings: `checkov.skip` carries each reason as its
 * comment; cfn-lint's config has no comment field, so its reasons sit beside it under `reasons`.
 */
export function suppressionMetadata(s: Suppressions): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  if (s.cfnLint?.length) {
    out["cfn-lint"] = {
      config: { ignore_checks: s.cfnLint.map((x) => x.id) },
      reasons: Object.fromEntries(s.cfnLint.map((x) => [x.id, x.reason])),
    };
  }
  if (s.checkov?.length) out.checkov = { skip: s.checkov.map((x) => ({ id: x.id, comment: x.reason })) };
  return Object.keys(out).length ? out : undefined;
}
