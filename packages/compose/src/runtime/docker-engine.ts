import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { poll } from "@mlflow-dev/kernel/wait";
import { compareCodeUnits } from "@mlflow-dev/spec";
import type Dockerode from "dockerode";
import type { PullMessage } from "./pull-progress.ts";

export interface ServiceState {
  service: string;
  container: string;
  /** running, exited, restarting, ... */
  state: string;
  /** healthy, unhealthy, starting, or none when the service has no health check. */
  health: string;
  exitCode: number | undefined;
  /** How often Docker restarted the container (its restart policy). */
  restarts: number;
  ports: string[];
}

/** A host port a running container publishes. */
export interface PublishedPort {
  ip: string;
  port: number;
  container: string;
  /** compose's labels, when compose started it. */
  project?: string;
  service?: string;
  workingDir?: string;
}

/** The slice of the Docker engine API the local runtime reads (dockerode-backed). */
export interface ContainerClient {
  ping(): Promise<void>;
  serverVersion(): Promise<string>;
  imageExists(ref: string): Promise<boolean>;
  volumeExists(name: string): Promise<boolean>;
  projectServices(project: string): Promise<ServiceState[]>;
  /** compose's `com.docker.compose.project.working_dir` label of each of a project's containers (distinct). */
  projectWorkingDirs(project: string): Promise<string[]>;
  /** The host ports running containers publish, with the compose project and service that hold each. */
  publishedPorts(): Promise<PublishedPort[]>;
  restartContainer(name: string): Promise<void>;
  /** The last `tail` lines a container wrote (stdout and stderr). */
  containerLogs(name: string, tail: number): Promise<string>;
  /**
   * Pulls an image, passing each message of the engine's progress stream to `onMessage`; rejects
   * with the registry's reason when it cannot (also when the engine reports it inside the stream).
   */
  pullImage(ref: string, onMessage?: (message: PullMessage) => void): Promise<void>;
  /** Stops a running container (SIGTERM, then SIGKILL after `graceSeconds`). */
  stopContainer(name: string, graceSeconds: number): Promise<void>;
  /**
   * Runs a command in a running container (as `user`, default the image's), streaming its stdout
   * into `stdout` (not ended).
   */
  execToStream(
    name: string,
    cmd: string[],
    stdout: NodeJS.WritableStream,
    user?: string,
  ): Promise<{ exitCode: number; stderr: string }>;
  /**
   * Runs a command in a running container with `stdin` streamed to its standard input (closed at
   * the end of `stdin`), as `user` (default the image's); the last `keepBytes` of its stdout and
   * stderr are kept.
   */
  execWithStdin(
    name: string,
    cmd: string[],
    stdin: NodeJS.ReadableStream,
    options?: { keepBytes?: number; user?: string },
  ): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Starts a stopped container (no-op when it runs). */
  startContainer(name: string): Promise<void>;
}

/** Where the Docker engine is, found as the docker CLI finds it, and how that was decided. */
export interface DockerEndpoint {
  /** unix:///var/run/docker.sock, tcp://host:2376, ssh://user@host, npipe:////./pipe/docker_engine */
  host: string;
  /** `DOCKER_HOST`, `context "colima"` or `the default socket`, for messages. */
  source: string;
  /** The context's TLS material (ca.pem, cert.pem, key.pem), when it has some. */
  tlsDir?: string;
  skipTlsVerify?: boolean;
}

export interface EndpointLookup {
  env: Record<string, string | undefined>;
  homeDir: string;
  platform: NodeJS.Platform;
  /** The text of a file, or undefined when there is none. */
  readFile: (path: string) => string | undefined;
  exists: (path: string) => boolean;
}

/**
 * The engine the docker CLI would talk to: DOCKER_HOST; else the context named by DOCKER_CONTEXT,
 * else the config's currentContext (<DOCKER_CONFIG or ~/.docker>/config.json), its endpoint read
 * from contexts/meta/<sha256 of the name>/meta.json; else the platform's default socket. Docker
 * Desktop, Colima, OrbStack and Rancher Desktop each install a context of their own.
 */
export function dockerEndpoint(lookup: EndpointLookup): DockerEndpoint {
  const { env } = lookup;
  const fallback: DockerEndpoint = {
    host: lookup.platform === "win32" ? "npipe:////./pipe/docker_engine" : "unix:///var/run/docker.sock",
    source: "the default socket",
  };
  if (env.DOCKER_HOST) return { host: env.DOCKER_HOST, source: "DOCKER_HOST" };
  const configDir = env.DOCKER_CONFIG || join(lookup.homeDir, ".docker");
  let name = env.DOCKER_CONTEXT;
  let from = "DOCKER_CONTEXT";
  if (!name) {
    const text = lookup.readFile(join(configDir, "config.json"));
    try {
      name = text === undefined ? undefined : (JSON.parse(text) as { currentContext?: string }).currentContext;
    } catch {
      throw new DockerContextError(
        `${join(configDir, "config.json")} is not valid JSON`,
        "Fix or remove that file (the docker CLI reads it too).",
      );
    }
    from = "the docker CLI's current context";
  }
  if (!name || name === "default") return fallback;
  const id = createHash("sha256").update(name).digest("hex");
  const metaFile = join(configDir, "contexts", "meta", id, "meta.json");
  const meta = lookup.readFile(metaFile);
  if (meta === undefined)
    throw new DockerContextError(
      `docker context "${name}" (${from}) does not exist: no ${metaFile}`,
      "List the contexts with `docker context ls` and choose one with `docker context use <name>` (or unset DOCKER_CONTEXT).",
    );
  let endpoint: { Host?: string; SkipTLSVerify?: boolean } | undefined;
  try {
    endpoint = (JSON.parse(meta) as { Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } } }).Endpoints
      ?.docker;
  } catch {
    throw new DockerContextError(
      `${metaFile} (docker context "${name}") is not valid JSON`,
      "Recreate the context with `docker context create`, or choose another with `docker context use <name>`.",
    );
  }
  if (!endpoint?.Host)
    throw new DockerContextError(
      `docker context "${name}" has no Docker endpoint (${metaFile})`,
      "Recreate the context with `docker context create`, or choose another with `docker context use <name>`.",
    );
  const tlsDir = join(configDir, "contexts", "tls", id, "docker");
  return {
    host: endpoint.Host,
    source: `docker context "${name}"`,
    ...(lookup.exists(tlsDir) ? { tlsDir } : {}),
    ...(endpoint.SkipTLSVerify ? { skipTlsVerify: true } : {}),
  };
}

/** The context the docker CLI would use is broken: a usage problem of the machine, exit 1. */
export class DockerContextError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = "DockerContextError";
    this.hint = hint;
  }
}

/** dockerode's connection options for an endpoint (DOCKER_HOST is read by docker-modem itself, TLS variables too). */
export function dockerodeOptions(
  endpoint: DockerEndpoint,
  readFile: (path: string) => string | undefined = () => undefined,
): Dockerode.DockerOptions {
  if (endpoint.source === "DOCKER_HOST") return {};
  const url = new URL(endpoint.host);
  switch (url.protocol) {
    case "unix:":
      return { socketPath: decodeURIComponent(url.pathname) };
    case "npipe:":
      return { socketPath: endpoint.host.slice("npipe://".length).replaceAll("/", "\\") };
    case "ssh:":
      return {
        protocol: "ssh",
        host: url.hostname,
        port: url.port ? Number(url.port) : 22,
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      };
    default: {
      const tls = endpoint.tlsDir;
      const file = (n: string) => (tls ? readFile(join(tls, n)) : undefined);
      const [ca, cert, key] = [file("ca.pem"), file("cert.pem"), file("key.pem")];
      const https = url.protocol === "https:" || ca !== undefined || cert !== undefined;
      return {
        protocol: https ? "https" : "http",
        host: url.hostname,
        port: url.port ? Number(url.port) : https ? 2376 : 2375,
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
      };
    }
  }
}

/** The endpoint of this machine's docker CLI (dockerEndpoint with the real environment and files). */
export function localDockerEndpoint(): DockerEndpoint {
  return dockerEndpoint({
    env: process.env,
    homeDir: homedir(),
    platform: process.platform,
    readFile: readIfExists,
    exists: existsSync,
  });
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * What to do when the engine does not answer, for this platform and endpoint: where mlflow-dev
 * looked, how to start an engine there, and how to point at another one.
 */
export function dockerUnreachableHint(endpoint: DockerEndpoint, platform: NodeJS.Platform, cause: string): string {
  const where = `mlflow-dev looked where the docker CLI does: ${endpoint.host} (${endpoint.source}).`;
  if (/EACCES|permission denied/i.test(cause) && platform === "linux")
    return `${where} Your user may not use that socket: add it to the docker group (\`sudo usermod -aG docker $USER\`, then log in again), or use rootless Docker.`;
  const start =
    platform === "darwin"
      ? "Start your Docker engine: Docker Desktop, OrbStack or Rancher Desktop from Applications, or `colima start`."
      : platform === "win32"
        ? "Start Docker Desktop (or Rancher Desktop) and wait until it says the engine is running."
        : "Start the Docker engine (`sudo systemctl start docker`, or Docker Desktop / Rancher Desktop if you use one).";
  return `${start} ${where} If the engine runs elsewhere, \`docker context ls\` lists the engines and \`docker context use <name>\` picks one (or set DOCKER_HOST).`;
}

/** Docker's connection failures (no socket, refused, unreachable, TLS), as opposed to API errors. */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; syscall?: string; statusCode?: number; message?: string } | undefined;
  if (!err || typeof err !== "object" || err.statusCode !== undefined) return false;
  const codes = ["ENOENT", "ECONNREFUSED", "EACCES", "EPERM", "ECONNRESET", "EHOSTUNREACH", "ENOTFOUND", "ETIMEDOUT"];
  return (
    (err.code !== undefined && codes.includes(err.code) && (err.syscall === "connect" || err.syscall === undefined)) ||
    /(connect|socket hang up).*(ENOENT|ECONNREFUSED|EACCES)/.test(err.message ?? "")
  );
}

/** The engine does not answer: exit 1 with a fix that fits the platform. */
export class DockerUnreachableError extends Error {
  readonly hint: string;
  readonly endpoint: DockerEndpoint;
  constructor(endpoint: DockerEndpoint, cause: string, platform: NodeJS.Platform = process.platform) {
    super(`cannot reach the Docker engine at ${endpoint.host}: ${cause}`);
    this.name = "DockerUnreachableError";
    this.endpoint = endpoint;
    this.hint = `${dockerUnreachableHint(endpoint, platform, cause)} Nothing was started or changed.`;
  }
}

export async function connectDocker(endpoint: DockerEndpoint = localDockerEndpoint()): Promise<DockerEngine> {
  const { default: Docker } = await import("dockerode");
  return new DockerEngine(new Docker(dockerodeOptions(endpoint, readIfExists)), endpoint);
}

export class DockerEngine implements ContainerClient {
  readonly docker: Dockerode;
  readonly endpoint: DockerEndpoint;
  constructor(
    docker: Dockerode,
    endpoint: DockerEndpoint = { host: "unix:///var/run/docker.sock", source: "default" },
  ) {
    this.docker = docker;
    this.endpoint = endpoint;
  }

  /** Answers when the engine does; else a DockerUnreachableError with the platform's fix. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (e) {
      if (isConnectionError(e)) throw new DockerUnreachableError(this.endpoint, (e as Error).message);
      throw e;
    }
  }

  async serverVersion(): Promise<string> {
    const v = await this.docker.version();
    return `${v.Version} (API ${v.ApiVersion})`;
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.docker.getImage(ref).inspect();
      return true;
    } catch {
      return false;
    }
  }

  async volumeExists(name: string): Promise<boolean> {
    try {
      await this.docker.getVolume(name).inspect();
      return true;
    } catch {
      return false;
    }
  }

  async projectServices(project: string): Promise<ServiceState[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`com.docker.compose.project=${project}`] },
    });
    const out: ServiceState[] = [];
    for (const c of list) {
      const info = await this.docker.getContainer(c.Id).inspect();
      out.push({
        service: c.Labels["com.docker.compose.service"] ?? "?",
        container: (c.Names[0] ?? c.Id).replace(/^\//, ""),
        state: info.State.Status,
        health: info.State.Health?.Status ?? "none",
        exitCode: info.State.Status === "exited" ? info.State.ExitCode : undefined,
        restarts: info.RestartCount ?? 0,
        ports: (c.Ports ?? [])
          .filter((p) => p.PublicPort)
          .map((p) => `${p.IP}:${p.PublicPort}->${p.PrivatePort}`)
          .sort(),
      });
    }
    return out.sort((a, b) => compareCodeUnits(a.service, b.service));
  }

  async projectWorkingDirs(project: string): Promise<string[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`com.docker.compose.project=${project}`] },
    });
    const dirs = list.map((c) => c.Labels["com.docker.compose.project.working_dir"]).filter((d) => d !== undefined);
    return [...new Set(dirs)].sort(compareCodeUnits);
  }

  async publishedPorts(): Promise<PublishedPort[]> {
    const list = await this.docker.listContainers();
    return list.flatMap((c) =>
      (c.Ports ?? [])
        .filter((p) => p.PublicPort)
        .map((p) => {
          const project = c.Labels["com.docker.compose.project"];
          const service = c.Labels["com.docker.compose.service"];
          const workingDir = c.Labels["com.docker.compose.project.working_dir"];
          return {
            ip: p.IP,
            port: p.PublicPort,
            container: (c.Names[0] ?? c.Id).replace(/^\//, ""),
            ...(project ? { project } : {}),
            ...(service ? { service } : {}),
            ...(workingDir ? { workingDir } : {}),
          };
        }),
    );
  }

  async pullImage(ref: string, onMessage?: (message: PullMessage) => void): Promise<void> {
    const stream = await this.docker.pull(ref);
    // A pull that fails midway still answers 200: its error is a message of the stream.
    let failed: string | undefined;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(err) : resolve()),
        (m: PullMessage) => {
          if (failed === undefined && (m.errorDetail?.message || m.error)) failed = m.errorDetail?.message ?? m.error;
          onMessage?.(m);
        },
      );
    });
    if (failed !== undefined) throw new Error(failed);
  }

  async containerLogs(name: string, tail: number): Promise<string> {
    const raw = (await this.docker
      .getContainer(name)
      .logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
    return demuxLogs(raw);
  }

  async restartContainer(name: string): Promise<void> {
    await this.docker.getContainer(name).restart({ t: 10 });
  }

  async stopContainer(name: string, graceSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(name).stop({ t: graceSeconds });
    } catch (e) {
      // 304: already stopped.
      if ((e as { statusCode?: number }).statusCode !== 304) throw e;
    }
  }

  async execToStream(
    name: string,
    cmd: string[],
    stdout: NodeJS.WritableStream,
    user?: string,
  ): Promise<{ exitCode: number; stderr: string }> {
    const exec = await this.docker
      .getContainer(name)
      .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, ...(user ? { User: user } : {}) });
    const stream = await exec.start({ hijack: true, stdin: false });
    const errors: Buffer[] = [];
    const stderr = new Writable({
      write(chunk: Buffer, _encoding, done) {
        errors.push(chunk);
        done();
      },
    });
    this.docker.modem.demuxStream(stream, stdout, stderr);
    await new Promise<void>((resolve, reject) => {
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    const info = await exec.inspect();
    return { exitCode: info.ExitCode ?? -1, stderr: Buffer.concat(errors).toString("utf8") };
  }

  async execWithStdin(
    name: string,
    cmd: string[],
    stdin: NodeJS.ReadableStream,
    options: { keepBytes?: number; user?: string } = {},
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const keepBytes = options.keepBytes ?? 64 * 1024;
    const exec = await this.docker.getContainer(name).exec({
      Cmd: cmd,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      ...(options.user ? { User: options.user } : {}),
    });
    const stream = await exec.start({ hijack: true, stdin: true });
    const out = tailSink(keepBytes);
    const err = tailSink(keepBytes);
    this.docker.modem.demuxStream(stream, out.sink, err.sink);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (e?: Error) => {
        if (settled) return;
        settled = true;
        if (e) reject(e);
        else resolve();
      };
      stream.on("end", () => settle());
      stream.on("close", () => settle());
      stream.on("error", settle);
      stdin.on("error", (e: Error) => {
        stream.destroy();
        settle(e);
      });
      // Ending the hijacked connection's write side closes the command's standard input.
      stdin.pipe(stream);
    });
    // The stream can end a moment before Docker records the exit code: look again for up to 5 s.
    const info =
      (await poll({
        intervalMs: 100,
        timeoutMs: 5_000,
        maxAttempts: 51,
        check: async () => {
          const i = await exec.inspect();
          return i.Running ? undefined : i;
        },
      })) ?? (await exec.inspect());
    return { exitCode: info.ExitCode ?? -1, stdout: out.text(), stderr: err.text() };
  }

  async startContainer(name: string): Promise<void> {
    try {
      await this.docker.getContainer(name).start();
    } catch (e) {
      // 304: already running.
      if ((e as { statusCode?: number }).statusCode !== 304) throw e;
    }
  }
}

/** A sink that keeps only the last `limit` bytes written to it. */
function tailSink(limit: number): { sink: Writable; text: () => string } {
  let kept = Buffer.alloc(0);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      kept = Buffer.concat([kept, chunk]);
      if (kept.length > limit) kept = kept.subarray(kept.length - limit);
      done();
    },
  });
  return { sink, text: () => kept.toString("utf8") };
}

/**
 * The text of a container's log without Docker's stream framing: without a TTY, each chunk has an
 * 8-byte header (stream, 3 zero bytes, big-endian length). A TTY container's log has no frames.
 */
export function demuxLogs(raw: Buffer): string {
  const framed = raw.length >= 8 && raw[0] !== undefined && raw[0] <= 2 && raw[1] === 0 && raw[2] === 0 && raw[3] === 0;
  if (!framed) return raw.toString("utf8");
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const size = raw.readUInt32BE(at + 4);
    parts.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}
