/** Documented exit codes (README "Exit codes"). */
export const EXIT = {
  ok: 0,
  /** The operation ran and failed, or found a problem (drift, unhealthy check). */
  failed: 1,
  /** Invalid input: a bad spec, unknown flag or environment. Nothing was changed. */
  invalidInput: 2,
  /** A bug in mlflow-dev itself. */
  internal: 70,
} as const;

/** An error the user can fix: printed without a stack trace, with what to do next. */
export class UserError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(message: string, options: { exitCode?: number; hint?: string } = {}) {
    super(message);
    this.name = "UserError";
    this.exitCode = options.exitCode ?? EXIT.failed;
    this.hint = options.hint;
  }
}
