import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  DockerContextError,
  DockerUnreachableError,
  dockerEndpoint,
  dockerodeOptions,
  dockerUnreachableHint,
  isConnectionError,
} from "../src/runtime/docker-engine.ts";

const home = "/home/u";
const metaDir = (name: string, config = `${home}/.docker`) =>
  `${config}/contexts/meta/${createHash("sha256").update(name).digest("hex")}`;

function lookup(env: Record<string, string>, files: Record<string, string> = {}, platform: NodeJS.Platform = "linux") {
  return {
    env,
    homeDir: home,
    platform,
    readFile: (p: string) => files[p],
    exists: (p: string) => Object.keys(files).some((f) => f.startsWith(`${p}/`)),
  };
}

const colima = {
  [`${home}/.docker/config.json`]: JSON.stringify({ currentContext: "colima", auths: {} }),
  [`${metaDir("colima")}/meta.json`]: JSON.stringify({
    Name: "colima",
    Metadata: {},
    Endpoints: { docker: { Host: "unix:///Users/u/.colima/default/docker.sock", SkipTLSVerify: false } },
  }),
};

describe("the Docker endpoint, found as the docker CLI finds it", () => {
  it("no DOCKER_HOST, no context: the platform's default socket", () => {
    expect(dockerEndpoint(lookup({}))).toEqual({ host: "unix:///var/run/docker.sock", source: "the default socket" });
    expect(dockerEndpoint(lookup({}, {}, "win32")).host).toBe("npipe:////./pipe/docker_engine");
  });

  it("the config's currentContext: its endpoint from contexts/meta/<sha256 of the name>/meta.json", () => {
    expect(dockerEndpoint(lookup({}, colima))).toEqual({
      host: "unix:///Users/u/.colima/default/docker.sock",
      source: 'docker context "colima"',
    });
  });

  it("DOCKER_HOST wins over the context; DOCKER_CONTEXT over the config's current context", () => {
    expect(dockerEndpoint(lookup({ DOCKER_HOST: "tcp://10.0.0.5:2375" }, colima))).toEqual({
      host: "tcp://10.0.0.5:2375",
      source: "DOCKER_HOST",
    });
    const files = {
      ...colima,
      [`${metaDir("orbstack")}/meta.json`]: JSON.stringify({
        Endpoints: { docker: { Host: "unix:///Users/u/.orbstack/run/docker.sock" } },
      }),
    };
    expect(dockerEndpoint(lookup({ DOCKER_CONTEXT: "orbstack" }, files)).host).toBe(
      "unix:///Users/u/.orbstack/run/docker.sock",
    );
    expect(dockerEndpoint(lookup({ DOCKER_CONTEXT: "default" }, files)).host).toBe("unix:///var/run/docker.sock");
  });

  it("DOCKER_CONFIG moves the config directory", () => {
    const files = {
      "/etc/dc/config.json": JSON.stringify({ currentContext: "remote" }),
      [`${metaDir("remote", "/etc/dc")}/meta.json`]: JSON.stringify({
        Endpoints: { docker: { Host: "tcp://build:2376" } },
      }),
      [`/etc/dc/contexts/tls/${createHash("sha256").update("remote").digest("hex")}/docker/ca.pem`]: "CA",
    };
    const e = dockerEndpoint(lookup({ DOCKER_CONFIG: "/etc/dc" }, files));
    expect(e.host).toBe("tcp://build:2376");
    expect(e.tlsDir).toMatch(/^\/etc\/dc\/contexts\/tls\/[0-9a-f]{64}\/docker$/);
    expect(dockerodeOptions(e, (p) => files[p])).toEqual({ protocol: "https", host: "build", port: 2376, ca: "CA" });
  });

  it("a context that does not exist, or a config that is not JSON, is a DockerContextError naming the fix", () => {
    const missing = () => dockerEndpoint(lookup({ DOCKER_CONTEXT: "gone" }));
    expect(missing).toThrow(DockerContextError);
    expect(missing).toThrow(/docker context "gone" \(DOCKER_CONTEXT\) does not exist/);
    expect(() => dockerEndpoint(lookup({}, { [`${home}/.docker/config.json`]: "{" }))).toThrow(/not valid JSON/);
  });

  it("dockerode options: socket path, named pipe, ssh, plain tcp; DOCKER_HOST is left to docker-modem", () => {
    expect(dockerodeOptions({ host: "unix:///run/user/1000/docker.sock", source: "x" })).toEqual({
      socketPath: "/run/user/1000/docker.sock",
    });
    expect(dockerodeOptions({ host: "npipe:////./pipe/docker_engine", source: "x" })).toEqual({
      socketPath: "\\\\.\\pipe\\docker_engine",
    });
    expect(dockerodeOptions({ host: "ssh://me@box:2222", source: "x" })).toEqual({
      protocol: "ssh",
      host: "box",
      port: 2222,
      username: "me",
    });
    expect(dockerodeOptions({ host: "tcp://box:2375", source: "x" })).toEqual({
      protocol: "http",
      host: "box",
      port: 2375,
    });
    expect(dockerodeOptions({ host: "tcp://box:2375", source: "DOCKER_HOST" })).toEqual({});
  });
});

describe("the engine not answering", () => {
  const endpoint = { host: "unix:///var/run/docker.sock", source: "the default socket" };
  it("the fix fits the platform, names where it looked, and how to choose another engine", () => {
    const mac = dockerUnreachableHint(endpoint, "darwin", "connect ENOENT /var/run/docker.sock");
    expect(mac).toMatch(/Docker Desktop, OrbStack or Rancher Desktop.*colima start/);
    expect(mac).not.toMatch(/systemctl|dockerd/);
    expect(mac).toContain("unix:///var/run/docker.sock (the default socket)");
    expect(mac).toContain("docker context use <name>");
    expect(dockerUnreachableHint(endpoint, "linux", "connect ENOENT")).toContain("sudo systemctl start docker");
    expect(dockerUnreachableHint(endpoint, "win32", "connect ENOENT")).toMatch(/^Start Docker Desktop/);
    expect(dockerUnreachableHint(endpoint, "linux", "connect EACCES /var/run/docker.sock")).toContain(
      "usermod -aG docker",
    );
  });

  it("connection failures are told apart from the engine's API errors", () => {
    const enoent = Object.assign(new Error("connect ENOENT /x.sock"), { code: "ENOENT", syscall: "connect" });
    expect(isConnectionError(enoent)).toBe(true);
    expect(isConnectionError(Object.assign(new Error("refused"), { code: "ECONNREFUSED", syscall: "connect" }))).toBe(
      true,
    );
    expect(isConnectionError(Object.assign(new Error("no such container"), { statusCode: 404 }))).toBe(false);
    expect(isConnectionError(new Error("something else"))).toBe(false);
    const e = new DockerUnreachableError(endpoint, enoent.message, "darwin");
    expect(e.message).toBe("cannot reach the Docker engine at unix:///var/run/docker.sock: connect ENOENT /x.sock");
    expect(e.hint).toContain("colima start");
  });
});
