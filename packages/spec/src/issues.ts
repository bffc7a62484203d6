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

/** An issue as one line of a terminal: invisible characters escaped, a long path cut. */
export function formatIssue(issue: SpecIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}${issue.severity === "warning" ? " warning:" : ""}`;
  // Every key mlflow-dev reads is ASCII: a letter from another script in a path is a look-alike.
  const fullPath = revealNonAscii(issue.path);
  const path = fullPath.length > 100 ? `${fullPath.slice(0, 60)}... (${fullPath.length} characters)` : fullPath;
  const line = path === "" ? `${where} ${issue.message}` : `${where} ${path}: ${issue.message}`;
  return escapeControl(line);
}

/**
 * Characters a terminal does not show as themselves, as \uXXXX (as JSON writes them): control
 * characters (an ANSI escape could clear the terminal), format characters (zero-width spaces and
 * joiners, bidirectional overrides, the byte order mark, the soft hyphen), line and paragraph
 * separators, and spaces other than the ASCII space.
 */
export function escapeControl(text: string): string {
  return text.replace(INVISIBLE, escapeChar);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/gu;

/**
 * Text every non-ASCII character of which is written \uXXXX: for keys and names, where a Cyrillic
 * "а" or a Greek "ο" looks like the Latin letter it is not.
 */
export function revealNonAscii(text: string): string {
  return text.replace(/[^\u0020-\u007e]/gu, escapeChar);
}

function escapeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\u{${code.toString(16)}}`;
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
