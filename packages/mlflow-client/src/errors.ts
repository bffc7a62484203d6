/**
 * The client's errors. Each names the request (method and URL) and what went wrong; none carries
 * credentials (they travel in a header, never in a URL).
 */

/** No HTTP answer: the connection failed, was dropped, or the request timed out. */
export class TransportError extends Error {
  readonly method: string;
  readonly url: string;
  /** The system error code (ECONNREFUSED, ECONNRESET, ENOTFOUND, ...), or ETIMEDOUT for a timeout. */
  readonly code: string | undefined;
  readonly timedOut: boolean;
  constructor(
    method: string,
    url: string,
    what: string,
    options: { code?: string; timedOut?: boolean; cause?: unknown },
  ) {
    super(`${method} ${url}: ${what}`, options.cause === undefined ? {} : { cause: options.cause });
    this.name = "TransportError";
    this.method = method;
    this.url = url;
    this.code = options.code;
    this.timedOut = options.timedOut ?? false;
  }
}

/** An HTTP answer outside 2xx from a call that expects success. */
export class MlflowRestError extends Error {
  readonly status: number;
  /** MLflow's `error_code` (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE, ...) when the body has one. */
  readonly errorCode: string | undefined;
  readonly url: string | undefined;
  constructor(status: number, errorCode: string | undefined, message: string, url?: string) {
    super(message);
    this.name = "MlflowRestError";
    this.status = status;
    this.errorCode = errorCode;
    this.url = url;
  }
}

/** A readiness wait that ran out of time. `last` is the reason the last attempt was not ready. */
export class NotReadyError extends Error {
  readonly last: string;
  readonly attempts: number;
  readonly elapsedMs: number;
  constructor(what: string, last: string, attempts: number, elapsedMs: number) {
    super(`${what} was not ready within ${Math.round(elapsedMs / 1000)}s (last: ${last})`);
    this.name = "NotReadyError";
    this.last = last;
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
  }
}

/** A response body in one short line: text without markup, at most `max` characters ("" when empty). */
export function bodyExcerpt(body: Uint8Array | string, max = 120): string {
  const text = (typeof body === "string" ? body : Buffer.from(body).toString("utf8"))
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
