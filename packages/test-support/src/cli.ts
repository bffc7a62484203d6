import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { BIN } from "./root.ts";

/**
 * The one way tests run the workspace's `mlflow-dev` (packages/cli/bin/mlflow-dev.js on this Node):
 * `cli()` to its end, `cliInBackground()` for a test that watches the system while a command runs.
 * (The package tier runs the installed package instead: `npx()` of ./package.ts.)
 */

export interface CliOptions {
  /** The directory it runs in (where it looks for mlflow-dev.yaml). */
  cwd: string;
  /** Variables on top of the caller's environment; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /**
   * Leave out the caller's AWS_* and MLFLOW_DEV_* variables before `env` is applied, so none of a
   * developer's credentials or image overrides leaks into the run.
   */
  isolate?: boolean;
  /** Milliseconds before the command is killed (default 10 minutes). */
  timeout?: number;
}

export interface CliResult {
  /** The exit code; null when a signal (or the timeout) ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** How long it ran. */
  ms: number;
}

const DEFAULT_TIMEOUT_MS = 600_000;

/** The environment a run gets: the caller's (isolated or not) with `env` applied. */
export function cliEnv(options: Pick<CliOptions, "env" | "isolate">): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!options.isolate || !(k.startsWith("AWS_") || k.startsWith("MLFLOW_DEV_"))) env[k] = v;
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs `mlflow-dev <args>` to its end. */
export function cli(args: readonly string[], options: CliOptions): CliResult {
  const started = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    encoding: "utf8",
    env: cliEnv(options),
    timeout: options.timeout ?? DEFAULT_TIMEOUT_MS,
    maxBuffer: 256 * 2 ** 20,
  });
  if (r.error && r.status === null && r.signal === null) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

export interface CliInBackground {
  child: ChildProcess;
  /** What it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Its end. */
  done: Promise<CliResult>;
}

/** Starts `mlflow-dev <args>` and returns at once: for a test that observes the system meanwhile. */
export function cliInBackground(args: readonly string[], options: CliOptions): CliInBackground {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: cliEnv(options) });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? DEFAULT_TIMEOUT_MS);
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    }),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** A run for an assertion's message: its exit code, then what it printed (the last `tail` characters of each). */
export function showRun(r: Pick<CliResult, "code" | "stdout" | "stderr">, tail?: number): string {
  const cut = (text: string) => (tail === undefined ? text : text.slice(-tail));
  return `exit ${r.code}\n--- stdout\n${cut(r.stdout)}\n--- stderr\n${cut(r.stderr)}`;
}
