import { existsSync } from "node:fs";
import { runStreaming, succeeds } from "@mlflow-dev/kernel/process";
import { execa } from "execa";

/** The narrow slice of `docker compose` the local runtime uses. */
export interface ComposeClient {
  /** `docker compose up --detach` (of `services` only, when given). */
  up(options: {
    wait: boolean;
    timeoutSeconds: number;
    onOutput?: (line: string) => void;
    services?: string[];
  }): Promise<void>;
  down(options: { volumes: boolean }): Promise<void>;
  /** `docker compose build SERVICE`: the image of a service with a `build:` section. */
  build(options: { service: string; onOutput?: (line: string) => void }): Promise<void>;
  /** Streams the logs to this process's output; resolves with compose's exit code. */
  logs(options: LogsOptions): Promise<number>;
  version(): Promise<string>;
}

/** What `docker compose logs` is asked for: `since` as compose takes it (a duration such as `600s`, or an RFC 3339 time). */
export interface LogsOptions {
  service?: string;
  follow: boolean;
  tail?: number | "all";
  since?: string;
  timestamps?: boolean;
}

export class ComposeCommandError extends Error {
  readonly output: string;
  constructor(message: string, output: string) {
    super(message);
    this.name = "ComposeCommandError";
    this.output = output;
  }
}

/** `docker compose` on a rendered file, with a pinned project name and env file. */
export class DockerComposeCli implements ComposeClient {
  readonly composeFile: string;
  readonly projectName: string;
  readonly envFile: string;
  constructor(options: { composeFile: string; projectName: string; envFile: string }) {
    this.composeFile = options.composeFile;
    this.projectName = options.projectName;
    this.envFile = options.envFile;
  }

  private base(): string[] {
    // Without the rendered files (never started here), compose finds the project by its labels.
    if (!existsSync(this.composeFile) || !existsSync(this.envFile))
      return ["compose", "--project-name", this.projectName];
    return ["compose", "--project-name", this.projectName, "--file", this.composeFile, "--env-file", this.envFile];
  }

  async up(options: {
    wait: boolean;
    timeoutSeconds: number;
    onOutput?: (line: string) => void;
    services?: string[];
  }): Promise<void> {
    const args = [...this.base(), "up", "--detach", "--pull", "missing"];
    if (!options.services) args.push("--remove-orphans");
    if (options.wait) args.push("--wait", "--wait-timeout", String(options.timeoutSeconds));
    args.push(...(options.services ?? []));
    await streamed(args, { COMPOSE_PROGRESS: "plain" }, "docker compose up", options.onOutput);
  }

  async build(options: { service: string; onOutput?: (line: string) => void }): Promise<void> {
    const args = [...this.base(), "build", options.service];
    // Without buildx (Debian's engine 20.10 and a plain client) compose builds with the classic builder.
    const buildx = await succeeds("docker", ["buildx", "version"]);
    const env = { COMPOSE_PROGRESS: "plain", ...(buildx ? {} : { DOCKER_BUILDKIT: "0" }) };
    await streamed(args, env, `docker compose build ${options.service}`, options.onOutput);
  }

  async down(options: { volumes: boolean }): Promise<void> {
    const args = [...this.base(), "down", "--remove-orphans"];
    if (options.volumes) args.push("--volumes");
    const r = await execa("docker", args, { all: true, reject: false });
    if (r.exitCode !== 0) throw new ComposeCommandError(`docker compose down failed (exit ${r.exitCode})`, r.all ?? "");
  }

  async logs(options: LogsOptions): Promise<number> {
    const args = [...this.base(), "logs", "--no-color"];
    if (options.follow) args.push("--follow");
    if (options.tail !== undefined) args.push("--tail", String(options.tail));
    if (options.since !== undefined) args.push("--since", options.since);
    if (options.timestamps) args.push("--timestamps");
    if (options.service) args.push(options.service);
    const r = await execa("docker", args, { stdio: "inherit", reject: false });
    // The docker CLI missing is not compose failing: say which.
    if (r.failed && r.exitCode === undefined)
      throw new ComposeCommandError(`cannot run the docker CLI: ${r.shortMessage ?? r.message}`, "");
    return r.exitCode ?? 1;
  }

  /**
   * `docker compose run --rm --no-deps`: `command` once in a new container of `service` (its image,
   * environment, secrets and networks, no published ports), this process's stdin and output its
   * own; a terminal only when `tty`. Resolves with the command's exit code.
   */
  async run(options: {
    service: string;
    command: readonly string[];
    tty: boolean;
    /** Takes the command's stdout line by line instead of this process's stdout. */
    onLine?: (line: string) => void;
  }): Promise<number> {
    const args = [...this.base(), "run", "--rm", "--no-deps", "--quiet-pull"];
    if (!options.tty || options.onLine) args.push("-T");
    args.push(options.service, ...options.command);
    const onLine = options.onLine;
    const child = execa("docker", args, {
      stdin: onLine ? "ignore" : "inherit",
      stdout: onLine ? "pipe" : "inherit",
      stderr: "inherit",
      reject: false,
    });
    let rest = "";
    if (onLine) {
      child.stdout?.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) onLine(line);
      });
    }
    const r = await child;
    // execa resolves once the output has ended: the last line without a newline.
    if (onLine && rest) onLine(rest);
    if (r.failed && r.exitCode === undefined)
      throw new ComposeCommandError(`cannot run the docker CLI: ${r.shortMessage ?? r.message}`, "");
    return r.exitCode ?? 1;
  }

  async version(): Promise<string> {
    const r = await execa("docker", ["compose", "version", "--short"], { reject: false });
    if (r.exitCode !== 0) throw new ComposeCommandError("docker compose is not installed", r.stderr);
    return r.stdout.trim();
  }
}

/** Runs `docker <args>`, passing each non-empty output line on as it comes; a failure carries the whole output. */
async function streamed(
  args: string[],
  env: Record<string, string>,
  what: string,
  onOutput?: (line: string) => void,
): Promise<void> {
  const result = await runStreaming("docker", args, { env, ...(onOutput ? { onLine: onOutput } : {}) });
  if (result.exitCode !== 0) throw new ComposeCommandError(`${what} failed (exit ${result.exitCode})`, result.output);
}
