import { Writable } from "node:stream";
import { compareCodeUnits } from "@mlflow-dev/spec";
import type Dockerode from "dockerode";

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

/** The slice of the Docker engine API the local runtime reads (dockerode-backed). */
export interface ContainerClient {
  ping(): Promise<void>;
  serverVersion(): Promise<string>;
  imageExists(ref: string): Promise<boolean>;
  volumeExists(name: string): Promise<boolean>;
  projectServices(project: string): Promise<ServiceState[]>;
  restartContainer(name: string): Promise<void>;
  /** The last `tail` lines a container wrote (stdout and stderr). */
  containerLogs(name: string, tail: number): Promise<string>;
  /** Pulls an image; rejects with the registry's reason when it cannot. */
  pullImage(ref: string): Promise<void>;
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

export async function connectDocker(): Promise<ContainerClient> {
  const { default: Docker } = await import("dockerode");
  return new DockerEngine(new Docker());
}

export class DockerEngine implements ContainerClient {
  readonly docker: Dockerode;
  constructor(docker: Dockerode) {
    this.docker = docker;
  }

  async ping(): Promise<void> {
    await this.docker.ping();
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

  async pullImage(ref: string): Promise<void> {
    const stream = await this.docker.pull(ref);
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()));
    });
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
    let info = await exec.inspect();
    // The stream can end a moment before Docker records the exit code.
    for (let i = 0; info.Running && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      info = await exec.inspect();
    }
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
