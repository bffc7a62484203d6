import { execa } from "execa";

/**
 * The one process runner for programs whose output is watched line by line and kept for the
 * error message (docker compose up and build, docker build, tag and push), on execa.
 */

export interface RunResult {
  /** undefined when the program did not start (see `startError`). */
  exitCode: number | undefined;
  /** stdout and stderr, interleaved as they came. */
  output: string;
  /** Why the program could not be started (`spawn docker ENOENT`); undefined when it ran. */
  startError?: string;
}

export interface RunOptions {
  /** Variables added to this process's environment. */
  env?: Record<string, string | undefined>;
  /** Each non-empty output line, trimmed, as it comes. */
  onLine?: (line: string) => void;
}

/** Runs `file args`, streaming its output lines; resolves whatever the exit code (never rejects on a failure of the program). */
export async function runStreaming(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const child = execa(file, args, {
    all: true,
    reject: false,
    stdin: "ignore",
    ...(options.env ? { env: options.env } : {}),
  });
  let output = "";
  child.all?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  // Lines are cut per stream, so a partial line of one is never joined to a line of the other.
  const flushes = [child.stdout, child.stderr].map((stream) => {
    let rest = "";
    stream?.on("data", (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) options.onLine?.(line.trim());
    });
    return () => {
      if (rest.trim()) options.onLine?.(rest.trim());
    };
  });
  const r = await child;
  for (const flush of flushes) flush();
  const started = !(r.failed && r.exitCode === undefined);
  return {
    exitCode: r.exitCode,
    output,
    ...(started ? {} : { startError: r.originalMessage || r.shortMessage || r.message }),
  };
}

/** Whether `file args` runs and exits 0 (output discarded): a probe such as `docker buildx version`. */
export async function succeeds(file: string, args: readonly string[]): Promise<boolean> {
  const r = await execa(file, args, { reject: false, stdio: "ignore" });
  return r.exitCode === 0;
}

/** The last `count` non-empty lines of an output, for an error message. */
export function lastLines(output: string, count: number): string[] {
  return output
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => l.trimEnd())
    .slice(-count);
}

/** Starts a program and does not wait for it (a browser); a missing or failing program is no error. */
export function startDetached(file: string, args: readonly string[]): void {
  try {
    execa(file, args, { detached: true, stdio: "ignore", reject: false }).unref();
  } catch {}
}

export interface CapturedResult {
  /** The exit code; 127 when the program could not be started (its reason ends `stderr`). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface CaptureOptions {
  /** The whole environment of the program (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Copy the program's stderr (and with `"both"` its stdout) to this process's stderr as it comes. */
  echo?: "stderr" | "both";
  /**
   * Run the program in a process group of its own, so a Ctrl-C at the terminal reaches this
   * process only; with `onSpawn`, the caller passes signals on to it.
   */
  detached?: boolean;
  /** Called once the program started, with a way to send it a signal. */
  onSpawn?: (child: { kill(signal: NodeJS.Signals): boolean }) => void;
}

/** Runs `file args` and keeps stdout and stderr apart (a command whose stdout is data, such as `--json` or `docker inspect`); never rejects on a failure of the program. */
export async function runCaptured(
  file: string,
  args: readonly string[],
  options: CaptureOptions = {},
): Promise<CapturedResult> {
  const child = execa(file, args, {
    reject: false,
    stdin: "ignore",
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
    ...(options.detached ? { detached: true } : {}),
  });
  options.onSpawn?.({ kill: (signal) => child.kill(signal) });
  if (options.echo) child.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
  if (options.echo === "both") child.stdout?.on("data", (d: Buffer) => process.stderr.write(d));
  const r = await child;
  const started = !(r.failed && r.exitCode === undefined);
  const stdout = typeof r.stdout === "string" ? r.stdout : "";
  const stderr = typeof r.stderr === "string" ? r.stderr : "";
  if (!started) return { code: 127, stdout, stderr: `${stderr}${r.originalMessage || r.shortMessage || r.message}` };
  return { code: r.exitCode ?? 1, stdout, stderr };
}
