import type { Reporter } from "@mlflow-dev/kernel/progress";
import type { WaitOptions } from "@mlflow-dev/kernel/wait";
import { type Clock, realClock } from "@mlflow-dev/kernel/wait";

/** How long each wait may take, and how often to poll. */
export interface DeployWaits {
  pollMs: number;
  stackTimeoutMs: number;
  serviceTimeoutMs: number;
  taskTimeoutMs: number;
  healthTimeoutMs: number;
}

/** AWS takes minutes (RDS alone ~10): poll every 5 s. An emulator answers at once: poll every second. */
export function defaultWaits(endpointUrl: string | undefined): DeployWaits {
  return {
    pollMs: endpointUrl ? 1_000 : 5_000,
    stackTimeoutMs: 60 * 60_000,
    serviceTimeoutMs: 30 * 60_000,
    taskTimeoutMs: 20 * 60_000,
    healthTimeoutMs: 5 * 60_000,
  };
}

export interface RunnerOptions {
  report: Reporter;
  waits: DeployWaits;
  /** Default: the real clock. Tests pass a fake one (deploy/clock.ts). */
  clock?: Clock;
}

type Timeout = Exclude<keyof DeployWaits, "pollMs">;

/** The wait for one kind of operation: its timeout, the poll interval and the runner's clock. */
export function waitOf(options: RunnerOptions, timeout: Timeout): WaitOptions {
  return { pollMs: options.waits.pollMs, timeoutMs: options.waits[timeout], clock: options.clock ?? realClock };
}
