/**
 * Errors of the deploy runners. `input` means the spec, the flags or the account do not fit and
 * nothing was changed; `failed` means an operation ran and failed (what was done is in the message).
 */
export type DeployErrorKind = "input" | "failed";

export class DeployError extends Error {
  readonly kind: DeployErrorKind;
  readonly hint: string | undefined;
  constructor(message: string, options: { kind?: DeployErrorKind; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DeployError";
    this.kind = options.kind ?? "failed";
    this.hint = options.hint;
  }
}

/** The error name the AWS SDK gives a service exception (its `name`, e.g. ResourceNotFoundException). */
export function awsErrorName(e: unknown): string {
  if (e && typeof e === "object") {
    const o = e as { name?: unknown; Code?: unknown; code?: unknown };
    if (typeof o.name === "string" && o.name !== "Error") return o.name;
    if (typeof o.Code === "string") return o.Code;
    if (typeof o.code === "string") return o.code;
  }
  return "";
}

export function awsErrorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A network failure reaching an endpoint (DNS, refused, reset), as opposed to an answer from AWS. */
export function isNetworkError(e: unknown): boolean {
  const codes = ["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH"];
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === "object"; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && codes.includes(code)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}
