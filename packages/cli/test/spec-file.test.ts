import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import { findSpec, withSpecFlag } from "../src/spec-file.ts";

const bin = fileURLToPath(new URL("../bin/mlflow-dev.js", import.meta.url));
const basic = readFileSync(fileURLToPath(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url)), "utf8");

/** A directory tree under a fresh temporary root that holds `.git`, so no search leaves it. */
function tree(files: Record<string, string>): string {
  const root = tempDir("mlflow-dev-find-");
  mkdirSync(join(root, ".git"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    if (path.endsWith("/")) mkdirSync(join(root, path), { recursive: true });
    else writeFileSync(join(root, path), text);
  }
  return root;
}

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("findSpec: the spec is looked up from the current directory upward", () => {
  it("finds ./mlflow-dev.yaml", () => {
    const root = tree({ "mlflow-dev.yaml": "name: x\n" });
    expect(findSpec(root)).toBe("mlflow-dev.yaml");
  });

  it("finds the nearest parent's, as a path relative to the current directory", () => {
    const root = tree({ "mlflow-dev.yaml": "", "a/mlflow-dev.yaml": "", "a/b/c/": "" });
    expect(findSpec(join(root, "a/b/c"))).toBe(join("..", "..", "mlflow-dev.yaml"));
    expect(findSpec(join(root, "a/b"))).toBe(join("..", "mlflow-dev.yaml"));
  });

  it("stops at a repository root: a spec above the directory holding .git is not the project's", () => {
    const root = tree({ "mlflow-dev.yaml": "", "repo/.git/": "", "repo/src/": "" });
    expect(findSpec(join(root, "repo/src"))).toBeUndefined();
  });

  it("a .git file (a worktree or submodule) is a repository root too", () => {
    const root = tree({ "mlflow-dev.yaml": "", "wt/.git": "gitdir: elsewhere\n", "wt/sub/": "" });
    expect(findSpec(join(root, "wt/sub"))).toBeUndefined();
  });

  it("the repository root's own spec counts", () => {
    const root = tree({ "repo/.git/": "", "repo/mlflow-dev.yaml": "", "repo/notebooks/": "" });
    expect(findSpec(join(root, "repo/notebooks"))).toBe(join("..", "mlflow-dev.yaml"));
  });

  it("skips a directory named mlflow-dev.yaml", () => {
    const root = tree({ "mlflow-dev.yaml": "", "a/mlflow-dev.yaml/": "" });
    expect(findSpec(join(root, "a"))).toBe(join("..", "mlflow-dev.yaml"));
  });

  it("finds none: undefined", () => {
    expect(findSpec(tree({ "a/b/": "" }))).toBeUndefined();
  });
});

describe("withSpecFlag: every suggested command works from the current directory", () => {
  it("leaves hints alone for ./mlflow-dev.yaml", () => {
    const hint = "See `mlflow-dev logs mlflow`; then run `mlflow-dev up` again.";
    expect(withSpecFlag(hint, "mlflow-dev.yaml")).toBe(hint);
  });

  it("adds -f at the end of a quoted command", () => {
    expect(withSpecFlag("See `mlflow-dev logs mlflow`; then run `mlflow-dev up` again.", "../mlflow-dev.yaml")).toBe(
      "See `mlflow-dev logs mlflow -f ../mlflow-dev.yaml`; then run `mlflow-dev up -f ../mlflow-dev.yaml` again.",
    );
  });

  it("adds -f right after the command name in prose", () => {
    expect(withSpecFlag("release the lock with: mlflow-dev unlock --env staging", "../mlflow-dev.yaml")).toBe(
      "release the lock with: mlflow-dev unlock -f ../mlflow-dev.yaml --env staging",
    );
  });

  it("quotes a path the shell would split", () => {
    expect(withSpecFlag("`mlflow-dev up`", "my specs/mlflow-dev.yaml")).toBe(
      "`mlflow-dev up -f 'my specs/mlflow-dev.yaml'`",
    );
  });

  it("leaves help, init, --live and commands that already pass -f alone", () => {
    const text =
      "Run `mlflow-dev render --help`, `mlflow-dev init`, `mlflow-dev parity --live --local <url> --remote <url>` or `mlflow-dev up -f x.yaml`.";
    expect(withSpecFlag(text, "../mlflow-dev.yaml")).toBe(text);
  });
});

describe("the CLI run from a subdirectory of the project", () => {
  it("validate and render find the parent's spec without -f and name it relative to here", () => {
    const root = tree({ "mlflow-dev.yaml": basic, "notebooks/exp/": "" });
    const here = join(root, "notebooks/exp");
    const v = cli(["validate"], here);
    expect(v.stdout).toBe(`${join("..", "..", "mlflow-dev.yaml")} is valid (environments: local, staging)\n`);
    expect(v.code).toBe(0);
    const r = cli(["render", "--env", "local"], here);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# Rendered by mlflow-dev /);
    expect(r.stdout).toContain("name: mlflow-dev-tracking");
  });

  it("a hint names a command that works from here: -f with the spec's path", () => {
    const root = tree({ "mlflow-dev.yaml": basic, "src/": "" });
    const r = cli(["parity", "--env", "local"], join(root, "src"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Example: mlflow-dev parity -f ${join("..", "mlflow-dev.yaml")} --env staging`);
  });

  it("init writes ./mlflow-dev.yaml where it is run (no lookup), and tells the next commands", () => {
    const root = tree({ "mlflow-dev.yaml": basic, "service/": "" });
    const r = cli(["init", "--name", "inner"], join(root, "service"));
    expect(r.code).toBe(0);
    expect(readFileSync(join(root, "service/mlflow-dev.yaml"), "utf8")).toContain("name: inner");
    expect(r.stdout).toContain("next: `mlflow-dev validate`, then `mlflow-dev up`");
    expect(cli(["validate"], join(root, "service")).stdout).toBe("mlflow-dev.yaml is valid (environments: local)\n");
  });

  it("init -f <path> repeats the path in the commands it suggests", () => {
    const root = tree({ "ml/": "" });
    const r = cli(["init", "--name", "demo", "-f", "ml/mlflow-dev.yaml"], root);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "next: `mlflow-dev validate -f ml/mlflow-dev.yaml`, then `mlflow-dev up -f ml/mlflow-dev.yaml`",
    );
  });

  it("with no spec up to the repository root, says where it looked", () => {
    const root = tree({ "a/": "" });
    const r = cli(["validate"], join(root, "a"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("spec file mlflow-dev.yaml not found (looked in this directory and its parents");
  });
});
