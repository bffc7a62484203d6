import { runCaptured } from "@mlflow-dev/kernel/process";

/** One `docker` CLI call: its exit code and output (the twin is run as localstack/start.sh runs it). */
export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Docker = (args: string[], options?: { env?: NodeJS.ProcessEnv; stream?: boolean }) => Promise<DockerResult>;

/** Runs `docker <args>`; `stream` passes its output to stderr as it comes (a build). Never throws on an exit code. */
export const docker: Docker = (args, options = {}) =>
  runCaptured("docker", args, {
    ...(options.env ? { env: options.env } : {}),
    ...(options.stream ? { echo: "both" } : {}),
  });
