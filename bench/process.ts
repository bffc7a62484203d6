import { spawnSync } from "node:child_process";

/** Process helpers the benchmarks share. */

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** Runs a command to its end; its stdout, trimmed. A non-zero exit throws with the end of stderr. */
export function run(cmd: string, args: string[], options: RunOptions = {}): string {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    cwd: options.cwd,
    env: options.env ?? process.env,
    input: options.input,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${(r.stderr ?? "").slice(-2000)}`);
  return r.stdout.trim();
}

/** The id of the running container of one compose service of a project (`docker ps` by compose's labels). */
export function serviceContainer(project: string, service: string): string {
  return run("docker", [
    "ps",
    "-q",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--filter",
    `label=com.docker.compose.service=${service}`,
  ]);
}

/** A command's wall time in milliseconds, stdout discarded; a non-zero exit throws. */
export function timed(cmd: string, args: string[], options: RunOptions = {}): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
    cwd: options.cwd,
    env: options.env ?? process.env,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${(r.stderr ?? "").slice(-2000)}`);
  return ms;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** A numeric command-line flag of the benchmark (`--rounds 3`), or its default. */
export function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** The p-th percentile of the samples (nearest rank). */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}
