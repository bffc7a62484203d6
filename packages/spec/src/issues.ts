/** A problem found in a spec file, with where it is and how to fix it. */
export interface SpecIssue {
  file: string;
  line: number;
  col: number;
  /** Dotted path into the spec, e.g. environments.staging.cpu ("" for the document). */
  path: string;
  message: string;
}

export function formatIssue(issue: SpecIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return issue.path === "" ? `${where} ${issue.message}` : `${where} ${issue.path}: ${issue.message}`;
}

/** Raised when a spec is invalid; carries every issue found, not just the first. */
export class SpecError extends Error {
  readonly issues: readonly SpecIssue[];
  constructor(issues: readonly SpecIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "SpecError";
    this.issues = issues;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}
