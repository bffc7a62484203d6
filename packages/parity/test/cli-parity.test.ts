import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import { EXAMPLES, ROOT, specWith } from "./helpers.ts";

const BIN = join(ROOT, "packages/cli/bin/mlflow-dev.js");

function cli(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1", ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, encoding: "utf8", env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function specDir(text: string): string {
  const dir = tempDir("mlflow-dev-parity-");
  writeFileSync(join(dir, "mlflow-dev.yaml"), text);
  return dir;
}

describe("mlflow-dev parity --env (static)", () => {
  it("examples/basic staging and examples/existing-vpc prod: no drift, exit 0", () => {
    for (const [example, env] of [
      ["basic", "staging"],
      ["existing-vpc", "prod"],
    ]) {
      const r = cli(["parity", "--env", env ?? "", "-f", `${EXAMPLES}${example}/mlflow-dev.yaml`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/settings compared: \d+ identical, \d+ declared, 0 drift/);
      expect(r.stdout).toContain("env.MLFLOW_S3_ENDPOINT_URL");
    }
  });

  it("an undeclared one-sided server env var is drift: exit 1, listed under drift in --json", () => {
    const dir = specDir(specWith({ staging: '    mlflow:\n      env: { MLFLOW_ENABLE_ASYNC_LOGGING: "true" }' }));
    const r = cli(["parity", "--env", "staging", "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.drift).toEqual([{ setting: "env.MLFLOW_ENABLE_ASYNC_LOGGING", local: null, remote: "true" }]);
    expect(report.declared.length).toBeGreaterThan(0);
    expect(Object.keys(report)).toEqual(expect.arrayContaining(["drift", "declared"]));
    const text = cli(["parity", "--env", "staging"], { cwd: dir });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/env\.MLFLOW_ENABLE_ASYNC_LOGGING\s+\(absent\)\s+true\s+DRIFT/);
  });

  it("an undeclared one-sided flag is drift; declared in the spec it is not", () => {
    const flag = "    mlflow:\n      extraArgs: [--dev]";
    expect(cli(["parity", "--env", "staging"], { cwd: specDir(specWith({ local: flag })) }).code).toBe(1);
    const declared = specDir(
      specWith({
        local: flag,
        parity:
          "parity:\n  declared:\n    - setting: arg.--dev\n      reason: the local server reloads on code changes",
      }),
    );
    const r = cli(["parity", "--env", "staging", "--json"], { cwd: declared });
    expect(r.code, r.stdout).toBe(0);
    expect(JSON.parse(r.stdout).declared).toContainEqual({
      setting: "arg.--dev",
      local: "(set)",
      remote: null,
      reason: "the local server reloads on code changes",
      declaredBy: "spec",
    });
  });

  it("bad input: --env local, an unknown env, a spec without local, missing --env: exit 2", () => {
    const basic = `${EXAMPLES}basic/mlflow-dev.yaml`;
    const local = cli(["parity", "--env", "local", "-f", basic]);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain("--env names the AWS environment to compare with local");
    expect(local.stderr).toContain(`mlflow-dev parity -f ${basic} --env staging`);
    const unknown = cli(["parity", "--env", "prod", "-f", basic]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Defined: local, staging");
    const noLocal = specDir(specWith().replace("  local:\n    ports: { mlflow: 5050 }\n", ""));
    const r = cli(["parity", "--env", "staging"], { cwd: noLocal });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("has no local environment");
    expect(cli(["parity", "-f", basic]).code).toBe(2);
    expect(cli(["parity", "--env", "staging", "--local", "http://x", "-f", basic]).code).toBe(2);
  });
});

describe("mlflow-dev parity --live (argument checks; the real run is in the integration tier)", () => {
  it("refuses credentials in a URL, since a URL shows in ps", () => {
    const r = cli(["parity", "--live", "--local", "http://admin:secret@127.0.0.1:1", "--remote", "http://127.0.0.1:2"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--local carries credentials in the URL");
    expect(r.stderr).toContain("MLFLOW_PARITY_LOCAL_USERNAME");
    expect(r.stderr).not.toContain("secret");
  });

  it("needs both URLs, valid ones, and both halves of a credential pair", () => {
    expect(cli(["parity", "--live", "--local", "http://127.0.0.1:1"]).stderr).toContain("--remote <url> is required");
    expect(cli(["parity", "--live", "--local", "nonsense", "--remote", "http://127.0.0.1:2"]).code).toBe(2);
    const half = cli(["parity", "--live", "--local", "http://127.0.0.1:1", "--remote", "http://127.0.0.1:2"], {
      env: { MLFLOW_PARITY_REMOTE_USERNAME: "admin", MLFLOW_PARITY_REMOTE_PASSWORD: undefined },
    });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("MLFLOW_PARITY_REMOTE_PASSWORD is not set");
  });

  it("--connect-to must be HOST:PORT:ADDRESS:PORT and match one of the two URLs", () => {
    const base = ["parity", "--live", "--local", "http://127.0.0.1:1", "--remote", "http://alb.example:80"];
    const bad = cli([...base, "--connect-to", "alb.example:127.0.0.1:4566"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not HOST:PORT:ADDRESS:PORT");
    const unmatched = cli([...base, "--connect-to", "other.example:80:127.0.0.1:4566"]);
    expect(unmatched.code).toBe(2);
    expect(unmatched.stderr).toContain("matches neither --local nor --remote");
    expect(cli(["parity", "--env", "staging", "--connect-to", "a:1:b:2"]).code).toBe(2);
  });

  it("an unreachable server is a clear error before anything is created, exit 1", () => {
    const r = cli(["parity", "--live", "--local", "http://127.0.0.1:1", "--remote", "http://127.0.0.1:2"], {
      env: { MLFLOW_TRACKING_USERNAME: undefined, MLFLOW_TRACKING_PASSWORD: undefined },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot reach the local server at http://127.0.0.1:1");
    expect(r.stderr).toContain("mlflow-dev up");
  });
});
