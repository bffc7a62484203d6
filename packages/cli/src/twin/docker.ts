import { spawn } from "node:child_process";

/** One `docker` CLI call: its exit code and output (the twin is run as localstack/start.sh runs it). */
export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Docker = (args: string[], options?: { env?: NodeJS.ProcessEnv; stream?: boolean }) => Promise<DockerResult>;

/** Runs `docker <args>`; `stream` passes its output to stderr as it comes (a build). Never throws on an exit code. */
export const docker: Docker = (args, options = {}) =>
  new Promise((resolve) => {
    const child = spawn("docker", args, { env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (options.stream) process.stderr.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (options.stream) process.stderr.write(d);
    });
    child.on("error", (e) => resolve({ code: 127, stdout, stderr: `${stderr}${e.message}` }));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
