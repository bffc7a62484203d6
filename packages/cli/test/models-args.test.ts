import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../bin/mlflow-dev.js", import.meta.url));
const basic = fileURLToPath(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-models-args-"));
// Local stacks on ports where nothing listens: a refusal must come before any request.
writeFileSync(join(dir, "mlflow-dev.yaml"), readFileSync(basic, "utf8").replace("mlflow: 5050", "mlflow: 59991"));
writeFileSync(join(dir, "source.yaml"), readFileSync(basic, "utf8").replace("mlflow: 5050", "mlflow: 59992"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("models promote: usage errors exit 2 before anything is read or written", () => {
  it.each([
    [["models"], 'models: unknown subcommand ""'],
    [["models", "copy"], 'models: unknown subcommand "copy"'],
    [
      ["models", "promote", "--to", "staging", "--version", "1"],
      "models promote: the registered model's name is missing",
    ],
    [
      ["models", "promote", "iris", "--to", "staging"],
      "models promote: give exactly one of --version <n> and --alias <alias>",
    ],
    [
      ["models", "promote", "iris", "--to", "staging", "--version", "1", "--alias", "a"],
      "models promote: give exactly one of --version <n> and --alias <alias>",
    ],
    [
      ["models", "promote", "iris", "--to", "staging", "--version", "x1"],
      'models promote: --version "x1" is not a version number',
    ],
    [["models", "promote", "iris", "--version", "1"], "models promote: --to <env> is required"],
    [
      ["models", "promote", "iris", "--version", "1", "--to", "local"],
      "models promote: --from and --to are both local",
    ],
    [["models", "promote", "iris", "--version", "1", "--to", "prod"], 'mlflow-dev.yaml has no environment "prod"'],
  ])("%j", (args, message) => {
    const r = cli(args);
    expect(r.stderr.split("\n")[0]).toMatch(/^error: models/);
    expect(r.stderr.split("\n")[0]).toContain(message);
    expect(r.code).toBe(2);
  });

  it("an unreachable source is exit 1, with where", () => {
    const r = cli([
      "models",
      "promote",
      "iris",
      "--version",
      "1",
      "--to",
      "local",
      "--from-spec",
      "source.yaml",
      "--dry-run",
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("127.0.0.1:59992");
    expect(r.stderr).toContain("ECONNREFUSED");
  });

  it("--help describes the command", () => {
    const r = cli(["models", "promote", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: mlflow-dev models promote <name> (--version <n> | --alias <alias>) --to <env>");
  });
});
