import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localDockerEndpoint } from "@mlflow-dev/compose/runtime";
import { cli, specFixture, tempDir } from "@mlflow-dev/test-support";
import { describe, expect, it } from "vitest";

/**
 * Docker Desktop, Colima, OrbStack and Rancher Desktop put their engine behind a docker context,
 * not /var/run/docker.sock: the CLI must find the engine where `docker context use` points, as
 * the docker CLI does. Here a context names this machine's real engine socket.
 */

/** A docker config directory whose current context (or DOCKER_CONTEXT) is `name` at `host`. */
function dockerConfig(name: string, host: string): string {
  const dir = tempDir("mlflow-dev-docker-config-");
  const id = createHash("sha256").update(name).digest("hex");
  mkdirSync(join(dir, "contexts", "meta", id), { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ currentContext: name }));
  writeFileSync(
    join(dir, "contexts", "meta", id, "meta.json"),
    JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }),
  );
  return dir;
}

function status(env: Record<string, string>) {
  const dir = tempDir("mlflow-dev-context-");
  specFixture("examples/basic").name("itcontext").write(dir);
  // Only the docker settings given here: none of the caller's.
  return cli(["status", "--json"], {
    cwd: dir,
    env: { DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined, DOCKER_CONFIG: undefined, ...env },
    timeout: 60_000,
  });
}

describe("docker contexts", () => {
  // The engine this machine's docker CLI reaches (DOCKER_HOST or its context), as a unix socket.
  const engine = localDockerEndpoint().host;

  it("the current context of DOCKER_CONFIG names the engine: status reaches it (no such stack: exit 1, not running)", () => {
    expect(engine).toMatch(/^unix:\/\//);
    const r = status({ DOCKER_CONFIG: dockerConfig("it-engine", engine) });
    expect(r.stderr).not.toContain("cannot reach the Docker engine");
    expect(r.stderr).not.toContain("internal error");
    expect(JSON.parse(r.stdout)).toMatchObject({ project: expect.stringContaining("itcontext"), services: [] });
  });

  it("DOCKER_CONTEXT picks a context over the current one; a dead one is exit 1 naming it", () => {
    const config = dockerConfig("it-engine", engine);
    const dead = dockerConfig("it-dead", "unix:///nonexistent/it-dead.sock");
    const id = createHash("sha256").update("it-dead").digest("hex");
    mkdirSync(join(config, "contexts", "meta", id), { recursive: true });
    writeFileSync(
      join(config, "contexts", "meta", id, "meta.json"),
      readFileSync(join(dead, "contexts", "meta", id, "meta.json")),
    );
    const r = status({ DOCKER_CONFIG: config, DOCKER_CONTEXT: "it-dead" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unix:///nonexistent/it-dead.sock (docker context "it-dead")');
  });
});
