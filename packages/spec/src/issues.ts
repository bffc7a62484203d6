/** A problem found in a spec file, with where it is and how to fix it. */
export interface SpecIssue {
  file: string;
  line: number;
  col: number;
  /** Dotted path into the spec, e.g. environments.staging.cpu ("" for the document). */
  path: string;
  message: string;
  /** Absent for an error. A warning is printed, but the spec stays valid (exit 0). */
  severity?: "warning";
}

/** An issue as one line of a terminal: control characters escaped, a long path cut. */
export function formatIssue(issue: SpecIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}${issue.severity === "warning" ? " warning:" : ""}`;
  const path = issue.path.length > 100 ? `${issue.path.slice(0, 60)}... (${issue.path.length} characters)` : issue.path;
  const line = path === "" ? `${where} ${issue.message}` : `${where} ${path}: ${issue.message}`;
  return escapeControl(line);
}

/** Control characters (an ANSI escape could clear the terminal) as \uXXXX, as JSON writes them. */
export function escapeControl(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
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
