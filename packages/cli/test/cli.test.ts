import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../bin/mlflow-dev.js", import.meta.url));
const basic = fileURLToPath(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url));

function cli(args: string[], cwd = process.cwd()) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("mlflow-dev CLI", () => {
  it("--help lists the commands and exit codes", () => {
    const r = cli(["--help"]);
    expect(r.code).toBe(0);
    for (const c of [
      "init",
      "validate",
      "render",
      "schema",
      "up",
      "down",
      "status",
      "logs",
      "backup",
      "restore",
      "doctor",
      "parity",
    ])
      expect(r.stdout).toContain(`  ${c}`);
    expect(r.stdout).toContain("Exit codes");
  });

  it("restore needs a backup directory, and refuses one without a manifest before touching Docker (exit 2)", () => {
    const dir = tempDir("mlflow-dev-cli-");
    writeFileSync(join(dir, "mlflow-dev.yaml"), readFileSync(basic, "utf8"));
    const none = cli(["restore"], dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("restore: the backup directory is required");
    const empty = mkdtempSync(join(dir, "backup-"));
    const r = cli(["restore", empty], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(empty, "manifest.json")} is missing`);
    expect(r.stderr).toContain("Nothing was changed.");
  });

  it("backup refuses an existing --out directory before touching Docker (exit 2)", () => {
    const dir = tempDir("mlflow-dev-cli-");
    writeFileSync(join(dir, "mlflow-dev.yaml"), readFileSync(basic, "utf8"));
    const out = mkdtempSync(join(dir, "out-"));
    const r = cli(["backup", "--out", out], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${out} exists: a backup is written to a new directory only`);
  });

  it("--version prints the version", () => {
    const r = cli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("suggests the nearest command for a typo, exit 2", () => {
    const r = cli(["valdate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Did you mean "validate"?');
  });

  it("rejects an unknown flag with exit 2", () => {
    const r = cli(["validate", "--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: validate: unknown flag --bogus\n/);
  });

  it("validate: a valid spec exits 0", () => {
    const r = cli(["validate", "-f", basic]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("is valid (environments: local, staging)");
  });

  it("validate: an invalid spec prints every issue with positions, no stack trace, exit 2", () => {
    const dir = tempDir("mlflow-dev-cli-");
    writeFileSync(
      join(dir, "mlflow-dev.yaml"),
      "name: tracking\nmlfow: {}\nartifacts:\n  bucket: ab\nenvironments:\n  local: {}\n",
    );
    const r = cli(["validate"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'mlflow-dev.yaml:2:1 mlfow: unknown key "mlfow". Did you mean "mlflow"?\n' +
        'mlflow-dev.yaml:4:11 artifacts.bucket: must be a valid S3 bucket name (3-63 chars, a-z 0-9 . -) (got "ab")\n',
    );
    expect(r.stdout).toBe("");
    const json = cli(["validate", "--json"], dir);
    expect(json.code).toBe(2);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.valid).toBe(false);
    expect(parsed.issues[0]).toEqual({
      file: "mlflow-dev.yaml",
      line: 2,
      col: 1,
      path: "mlfow",
      message: 'unknown key "mlfow". Did you mean "mlflow"?',
    });
  });

  it("a missing spec file says how to create one", () => {
    const dir = tempDir("mlflow-dev-cli-");
    const r = cli(["validate"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("spec file mlflow-dev.yaml not found");
    expect(r.stderr).toContain("mlflow-dev init");
  });

  it("init writes a valid spec pointing yaml-language-server at its schema, and refuses to overwrite", () => {
    const dir = tempDir("mlflow-dev-cli-");
    const r = cli(["init", "--name", "demo"], dir);
    expect(r.code).toBe(0);
    const text = readFileSync(join(dir, "mlflow-dev.yaml"), "utf8");
    expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=./mlflow-dev.schema.json");
    expect(JSON.parse(readFileSync(join(dir, "mlflow-dev.schema.json"), "utf8")).type).toBe("object");
    expect(cli(["validate"], dir).code).toBe(0);
    // Its AWS environment, uncommented as the starter says, is valid, warns about nothing, and is internal.
    writeFileSync(
      join(dir, "mlflow-dev.yaml"),
      text.replace(/^ {2}# ?/gm, "  ").replace(/^ {2}An AWS environment.*\n/m, ""),
    );
    const aws = cli(["validate"], dir);
    expect(aws.code, aws.stderr).toBe(0);
    expect(aws.stderr).not.toContain("warning");
    expect(readFileSync(join(dir, "mlflow-dev.yaml"), "utf8")).toContain("    access:\n      loadBalancer: internal\n");
    const again = cli(["init"], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
  });

  it("schema prints the JSON Schema", () => {
    const r = cli(["schema"]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema.required).toContain("name");
    expect(Object.keys(schema.properties)).toContain("environments");
  });

  it("render --env local prints compose.yaml; --out writes it with a 0600 .env", () => {
    const r = cli(["render", "--env", "local", "-f", basic]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("services:");
    const out = tempDir("mlflow-dev-out-");
    const w = cli(["render", "--env", "local", "-f", basic, "--out", out]);
    expect(w.code).toBe(0);
    expect(existsSync(join(out, "compose.yaml"))).toBe(true);
    expect(statSync(join(out, ".env")).mode & 0o777).toBe(0o600);
    // Secrets are never printed.
    const env = readFileSync(join(out, ".env"), "utf8");
    for (const line of env.split("\n").filter((l) => l.includes("=")))
      expect(w.stdout).not.toContain(line.split("=")[1]);
  });

  it("render --env staging --out writes the AWS artifacts", () => {
    const out = tempDir("mlflow-dev-out-");
    const r = cli(["render", "--env", "staging", "-f", basic, "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ["template.yaml", "task-definition.json", "migration-task-definition.json", "rollout-plan.json"])
      expect(existsSync(join(out, f)), f).toBe(true);
    const td = JSON.parse(readFileSync(join(out, "task-definition.json"), "utf8"));
    expect(td.requiresCompatibilities).toEqual(["FARGATE"]);
  });

  it("plan --cost prints the monthly estimate with no credentials and no AWS call", () => {
    // No credentials at all, and an endpoint that refuses every connection: any AWS call would fail.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_")));
    const run = (args: string[]) =>
      spawnSync(process.execPath, [bin, ...args], {
        encoding: "utf8",
        env: { ...env, NO_COLOR: "1", AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_CONFIG_FILE: "/nonexistent" },
      });
    const text = run(["plan", "--env", "staging", "--cost", "-f", basic]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^monthly cost \(an estimate in USD: eu-west-1 /);
    expect(text.stdout).toMatch(/\n {2}total +\$\d+\.\d\d {2}a month\n/);
    const json = run(["plan", "--env", "staging", "--cost", "--json", "-f", basic]);
    expect(json.status, json.stderr).toBe(0);
    const estimate = JSON.parse(json.stdout);
    expect(estimate.region).toBe("eu-west-1");
    expect(estimate.levers.map((l: { lever: string }) => l.lever).sort()).toEqual(["arm", "egress", "multi-az"]);
    // Flags that only choose an AWS account are refused with --cost, as is the local environment.
    expect(run(["plan", "--env", "staging", "--cost", "--profile", "x", "-f", basic]).status).toBe(2);
    expect(run(["plan", "--env", "local", "--cost", "-f", basic]).status).toBe(2);
  });

  it("render without --env is a usage error; an unknown env names the defined ones", () => {
    expect(cli(["render", "-f", basic]).code).toBe(2);
    const r = cli(["render", "--env", "prod", "-f", basic]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Defined: local, staging");
  });

  it("lists plan, promote, destroy and unlock, each with its own help", () => {
    const r = cli(["--help"]);
    for (const c of ["plan", "promote", "destroy", "unlock"]) {
      expect(r.stdout).toContain(`  ${c} --env <name>`);
      const h = cli([c, "--help"]);
      expect(h.code).toBe(0);
      expect(h.stdout).toContain(`Usage: mlflow-dev ${c} --env <name>`);
    }
  });

  it("help <command> shows that command's help; help of an unknown topic is an error with a suggestion", () => {
    const h = cli(["help", "promote"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("Usage: mlflow-dev promote --env <name>");
    const bad = cli(["help", "promot"]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain('unknown help topic "promot". Did you mean "promote"?');
  });

  it("AWS commands refuse bad input before talking to AWS, exit 2", () => {
    const noEnv = cli(["promote", "-f", basic]);
    expect(noEnv.code).toBe(2);
    expect(noEnv.stderr).toContain("promote: --env is required");
    const local = cli(["plan", "--env", "local", "-f", basic]);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('"local" is the Docker Compose stack, not an AWS environment');
    const unknown = cli(["promote", "--env", "prod", "-f", basic]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Defined: local, staging");
    const endpoint = cli(["plan", "--env", "staging", "-f", basic, "--endpoint-url", "localhost:4566"]);
    expect(endpoint.code).toBe(2);
    expect(endpoint.stderr).toContain('plan: --endpoint-url "localhost:4566" is not an http(s) URL');
    // The endpoint is never reached: destroy refuses without --yes first.
    const destroy = cli(["destroy", "--env", "staging", "-f", basic, "--endpoint-url", "http://127.0.0.1:9"]);
    expect(destroy.code).toBe(2);
    expect(destroy.stderr).toContain("refused without --yes");
    expect(destroy.stderr).toContain("Nothing was changed.");
  });

  it("destroy at a terminal asks for the environment's name: another answer is refused before AWS is reached", () => {
    // script(1) gives the command a terminal; the answer comes on its input.
    const run = (answer: string) => {
      const command = [process.execPath, bin, "destroy", "--env", "staging", "-f", basic]
        .concat(["--endpoint-url", "http://127.0.0.1:9"])
        .map((a) => `'${a}'`)
        .join(" ");
      const r = spawnSync("script", ["-qec", command, "/dev/null"], {
        input: `${answer}\n`,
        encoding: "utf8",
        env: { ...process.env, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" },
        timeout: 60_000,
      });
      return { code: r.status, out: r.stdout };
    };
    const wrong = run("prod");
    expect(wrong.out).toContain("Type the environment's name (staging) to destroy it:");
    expect(wrong.out).toContain('not confirmed (typed "prod")');
    expect(wrong.code).toBe(2);
    // The right name goes on to AWS (here an address nobody answers: exit 1).
    const right = run("staging");
    expect(right.out).not.toContain("not confirmed");
    expect(right.out).toContain("cannot reach http://127.0.0.1:9");
    expect(right.code).toBe(1);
  });
});
