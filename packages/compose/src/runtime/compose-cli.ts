import { existsSync } from "node:fs";
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
  logs(options: { service?: string; follow: boolean; tail?: number | "all" }): Promise<number>;
  version(): Promise<string>;
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
    const child = execa("docker", args, { all: true, reject: false, env: { COMPOSE_PROGRESS: "plain" } });
    let output = "";
    child.all?.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      for (const line of text.split("\n")) if (line.trim()) options.onOutput?.(line.trim());
    });
    const result = await child;
    if (result.exitCode !== 0)
      throw new ComposeCommandError(`docker compose up failed (exit ${result.exitCode})`, output);
  }

  async build(options: { service: string; onOutput?: (line: string) => void }): Promise<void> {
    const args = [...this.base(), "build", options.service];
    // Without buildx (Debian's engine 20.10 and a plain client) compose builds with the classic builder.
    const buildx = await execa("docker", ["buildx", "version"], { reject: false });
    const env = { COMPOSE_PROGRESS: "plain", ...(buildx.exitCode === 0 ? {} : { DOCKER_BUILDKIT: "0" }) };
    const child = execa("docker", args, { all: true, reject: false, env });
    let output = "";
    child.all?.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      for (const line of text.split("\n")) if (line.trim()) options.onOutput?.(line.trim());
    });
    const result = await child;
    if (result.exitCode !== 0)
      throw new ComposeCommandError(`docker compose build ${options.service} failed (exit ${result.exitCode})`, output);
  }

  async down(options: { volumes: boolean }): Promise<void> {
    const args = [...this.base(), "down", "--remove-orphans"];
    if (options.volumes) args.push("--volumes");
    const r = await execa("docker", args, { all: true, reject: false });
    if (r.exitCode !== 0) throw new ComposeCommandError(`docker compose down failed (exit ${r.exitCode})`, r.all ?? "");
  }

  async logs(options: { service?: string; follow: boolean; tail?: number | "all" }): Promise<number> {
    const args = [...this.base(), "logs", "--no-color"];
    if (options.follow) args.push("--follow");
    if (options.tail !== undefined) args.push("--tail", String(options.tail));
    if (options.service) args.push(options.service);
    const r = await execa("docker", args, { stdio: "inherit", reject: false });
    // The docker CLI missing is not compose failing: say which.
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
