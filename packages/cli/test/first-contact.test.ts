import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/temp-dir.ts";
import { followShorthand, parseTail } from "../src/commands/logs.ts";
import { UserError } from "../src/errors.ts";

const bin = fileURLToPath(new URL("../bin/mlflow-dev.js", import.meta.url));
const basicText = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");

/** The CLI in a fresh project, with the Docker endpoint of `env` (no engine unless it says so). */
function cli(args: string[], cwd: string, env: Record<string, string> = {}) {
  const { DOCKER_HOST: _h, DOCKER_CONTEXT: _c, DOCKER_CONFIG: _d, ...rest } = process.env;
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: "utf8",
    timeout: 20_000,
    env: { ...rest, NO_COLOR: "1", ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function project(): string {
  const dir = tempDir("mlflow-dev-first-contact-");
  writeFileSync(join(dir, "mlflow-dev.yaml"), basicText);
  return dir;
}

function expectNoBug(r: ReturnType<typeof cli>) {
  expect(r.stderr).not.toContain("internal error");
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("without a Docker engine, every local command is exit 1 with a fix (never 70)", () => {
  const noEngine = { DOCKER_HOST: "unix:///nonexistent/mlflow-dev-test.sock" };
  it.each([["status"], ["logs"], ["logs", "mlflow", "--tail", "5"], ["up"], ["down"], ["backup"]])("%s", (...args) => {
    const r = cli(args, project(), noEngine);
    expectNoBug(r);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("cannot reach the Docker engine at unix:///nonexistent/mlflow-dev-test.sock");
    expect(r.stderr).toContain("(DOCKER_HOST)");
    expect(r.stderr).toContain("docker context use");
  });

  it("a docker context that names a dead socket is where the CLI looks (DOCKER_CONFIG, currentContext)", () => {
    const config = tempDir("mlflow-dev-docker-config-");
    const id = createHash("sha256").update("laptop").digest("hex");
    mkdirSync(join(config, "contexts", "meta", id), { recursive: true });
    writeFileSync(join(config, "config.json"), JSON.stringify({ currentContext: "laptop" }));
    writeFileSync(
      join(config, "contexts", "meta", id, "meta.json"),
      JSON.stringify({ Name: "laptop", Endpoints: { docker: { Host: "unix:///nonexistent/laptop.sock" } } }),
    );
    const r = cli(["status"], project(), { DOCKER_CONFIG: config });
    expectNoBug(r);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('unix:///nonexistent/laptop.sock (docker context "laptop")');
  });

  it("a DOCKER_CONTEXT that does not exist: exit 1, naming the context and `docker context ls`", () => {
    const r = cli(["status"], project(), { DOCKER_CONTEXT: "nosuch", DOCKER_CONFIG: tempDir("mlflow-dev-dc-") });
    expectNoBug(r);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('docker context "nosuch" (DOCKER_CONTEXT) does not exist');
    expect(r.stderr).toContain("docker context ls");
  });
});

describe("logs: compose habits and bad input", () => {
  it("-f before a service name, alone, or before a flag means --follow; -f <file> is the spec", () => {
    const none = () => false;
    expect(followShorthand(["-f", "mlflow"], none)).toEqual(["--follow", "mlflow"]);
    expect(followShorthand(["mlflow", "-f"], none)).toEqual(["mlflow", "--follow"]);
    expect(followShorthand(["-f", "--tail", "5"], none)).toEqual(["--follow", "--tail", "5"]);
    expect(followShorthand(["-f", "other.yaml", "mlflow"], none)).toEqual(["-f", "other.yaml", "mlflow"]);
    // A file named like a service is the spec, as in every other command.
    expect(followShorthand(["-f", "mlflow"], () => true)).toEqual(["-f", "mlflow"]);
  });

  it("--tail takes a whole number or all; anything else is exit 2 before Docker is asked", () => {
    expect(parseTail("20")).toBe(20);
    expect(parseTail("all")).toBe("all");
    for (const bad of ["abc", "-1", "1.5", ""]) expect(() => parseTail(bad)).toThrow(UserError);
    const r = cli(["logs", "--tail", "abc"], project(), { DOCKER_HOST: "unix:///nonexistent/x.sock" });
    expectNoBug(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tail must be a whole number of lines or "all", not "abc"');
  });

  it("an unknown service is exit 2 with the nearest one and the list", () => {
    const r = cli(["logs", "mlfow"], project());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown service "mlfow"; did you mean "mlflow"?');
    expect(r.stderr).toContain("Services: network, postgres, versitygw, versitygw-setup, minio, migrate, mlflow");
  });

  it("help shows the flags logs takes", () => {
    const top = cli(["--help"], project());
    expect(top.stdout).toContain("logs [service] [--follow] [--tail <n>]");
    expect(top.stdout).not.toContain("[-f]");
    expect(cli(["logs", "--help"], project()).stdout).toContain("mlflow-dev logs -f mlflow");
  });
});

describe(".mlflow-dev/ stays out of git", () => {
  it("render --out .mlflow-dev writes .gitignore (*) first: in a fresh git repository, only the spec is to add", () => {
    const dir = project();
    expect(spawnSync("git", ["init", "-q"], { cwd: dir }).status).toBe(0);
    const r = cli(["render", "--env", "local", "--out", ".mlflow-dev"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, ".mlflow-dev/.gitignore"), "utf8")).toMatch(/^\*$/m);
    expect(spawnSync("git", ["check-ignore", "-q", ".mlflow-dev/.env"], { cwd: dir }).status).toBe(0);
    const status = spawnSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: dir, encoding: "utf8" });
    expect(status.stdout).toBe("?? mlflow-dev.yaml\n");
  });

  it("a user's own .gitignore there is kept; --out elsewhere writes none", () => {
    const dir = project();
    mkdirSync(join(dir, ".mlflow-dev"));
    writeFileSync(join(dir, ".mlflow-dev/.gitignore"), ".env\n");
    expect(cli(["render", "--env", "local", "--out", ".mlflow-dev"], dir).code).toBe(0);
    expect(readFileSync(join(dir, ".mlflow-dev/.gitignore"), "utf8")).toBe(".env\n");
    expect(cli(["render", "--env", "local", "--out", "deploy"], dir).code).toBe(0);
    expect(existsSync(join(dir, "deploy/.gitignore"))).toBe(false);
  });
});

describe("did you mean, and option errors in the tool's own words (exit 2)", () => {
  const dir = project();
  it.each([
    [["deploy"], 'unknown command "deploy". Did you mean "promote"?'],
    [["ps"], 'unknown command "ps". Did you mean "status"?'],
    [["start"], 'Did you mean "up"?'],
    [["stop"], 'Did you mean "down"?'],
    [["statsu"], 'Did you mean "status"?'],
    [
      ["render", "--env", "stagin"],
      /environment "stagin" is not defined in the spec\. Defined: local, staging\nDid you mean --env staging\?/,
    ],
    [["plan", "--env", "prod"], 'environment "prod" is not defined'],
    [["status", "--bogus"], /^error: status: unknown flag --bogus\n/],
    [["render", "--envv", "staging"], "render: unknown flag --envv; did you mean --env?"],
    [["render", "--env"], "render: --env needs a value"],
    [["validate", "--json=yes"], "validate: --json is a switch and takes no value"],
  ])("%j", (args, message) => {
    const r = cli(args, dir);
    expectNoBug(r);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain("To specify a positional argument");
    expect(r.stderr).not.toMatch(/Unknown option|argument missing|does not take an argument/);
  });

  it("an environment name nothing like a defined one gets the list, not a guess", () => {
    const r = cli(["plan", "--env", "prod"], dir);
    expect(r.stderr).toContain("Pass --env with one of the names under environments:.");
    expect(r.stderr).not.toContain("Did you mean");
  });
});

describe("what an ML engineer needs after up and promote", () => {
  it("the export lines: the tracking URI, and with basic auth the user and a command that reads the password", async () => {
    const { trackingExports, shellQuote } = await import("../src/tracking.ts");
    expect(trackingExports("http://127.0.0.1:5050")).toBe("  export MLFLOW_TRACKING_URI=http://127.0.0.1:5050\n");
    const local = trackingExports("http://127.0.0.1:5050", {
      user: "admin",
      passwordIn: ".mlflow-dev/.env",
      readCommand: `sed -n 's/^MLFLOW_DEV_AUTH_ADMIN_PASSWORD=//p' ${shellQuote(".mlflow-dev/.env")}`,
    });
    expect(local).toBe(
      [
        "  export MLFLOW_TRACKING_URI=http://127.0.0.1:5050",
        "  export MLFLOW_TRACKING_USERNAME=admin",
        `  export MLFLOW_TRACKING_PASSWORD="$(sed -n 's/^MLFLOW_DEV_AUTH_ADMIN_PASSWORD=//p' .mlflow-dev/.env)"`,
        "",
      ].join("\n"),
    );
    expect(shellQuote("my project/.mlflow-dev/.env")).toBe("'my project/.mlflow-dev/.env'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it("the local read command gives the password from a generated .env", () => {
    const dir = project();
    writeFileSync(join(dir, "mlflow-dev.yaml"), basicText.replace("auth: none", "auth: basic"));
    expect(cli(["render", "--env", "local", "--out", ".mlflow-dev"], dir).code).toBe(0);
    const env = readFileSync(join(dir, ".mlflow-dev/.env"), "utf8");
    const password = /^MLFLOW_DEV_AUTH_ADMIN_PASSWORD=(.+)$/m.exec(env)?.[1];
    // A generated secret: 32 characters of the URL- and shell-safe alphabet.
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const r = spawnSync("sh", ["-c", "sed -n 's/^MLFLOW_DEV_AUTH_ADMIN_PASSWORD=//p' .mlflow-dev/.env"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(r.stdout).toBe(`${password}\n`);
  });
});
