/** What one run of the live workload recorded against one server. Plain JSON, so it can be saved. */
export interface WorkloadResults {
  /** Format version of this object. */
  format: 1;
  /** The server's base URL (for messages only; never compared). */
  target: string;
  /**
   * The unique token in every name the workload created on this server (experiments, runs,
   * models). Normalization replaces it, so two runs with different tokens compare equal.
   */
  token: string;
  steps: StepResult[];
}

/** One request (or one check) of the workload, in the order it ran. */
export interface StepResult {
  /** Stable name, e.g. `runs/get run-a` or `error: experiments/get unknown id`. */
  step: string;
  /** HTTP status of the response. */
  status?: number;
  /** MLflow's error_code on an error response. */
  errorCode?: string;
  /** What the step observed (a response body, a size and digest, ...). */
  value?: unknown;
  /** Why the step did not run (a step it depends on failed). */
  skipped?: string;
  /** A transport failure (connection refused, timeout), not an HTTP status. */
  failure?: string;
}
