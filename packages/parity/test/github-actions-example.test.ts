import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { commandHelp } from "../../cli/src/help.js";
import { ROOT } from "./helpers.ts";
import { splitShellWords } from "./shell-words.ts";

/**
 * examples/github-actions cannot rot: every `mlflow-dev` invocation in its run steps is a real
 * command with flags that command accepts, the pure ones run for real, and every script and
 * package script it calls exists.
 */
const WORKFLOW = join(ROOT, "examples/github-actions/mlflow-dev-parity.yml");
const BIN = join(ROOT, "packages/cli/bin/mlflow-dev.js");
const GLOBAL_FLAGS = ["-f", "--file", "--json", "-h", "--help"];
/** Commands that read the spec and render, without Docker or AWS: run them for real. */
const PURE = (words: string[]) =>
  ["validate", "render", "schema"].includes(words[0] ?? "") || (words[0] === "parity" && !words.includes("--live"));

interface Workflow {
  on: Record<string, unknown>;
  env?: Record<string, string>;
  jobs: Record<string, { env?: Record<string, string>; steps: Array<{ name?: string; run?: string; uses?: string }> }>;
}

const workflow = parse(readFileSync(WORKFLOW, "utf8")) as Workflow;
const steps = Object.values(workflow.jobs).flatMap((j) => j.steps);
const runs = steps.flatMap((s) => (s.run ? [s.run] : []));

/** Each simple command of every run step, as shell words (up to a redirection). */
const commands: string[][] = runs
  .flatMap((script) => script.replaceAll("\\\n", " ").split(/\n|&&|\|\||;|\|/))
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"))
  .map((line) => {
    const words = splitShellWords(line.replace(/\$\(.*?\)/g, "SUBST")).map((w) => w.text);
    const redirect = words.findIndex((w) => /^\d?>/.test(w));
    return redirect < 0 ? words : words.slice(0, redirect);
  });

const invocations = commands.flatMap((words) => {
  const i = words.indexOf("mlflow-dev");
  return i < 0 ? [] : [words.slice(i + 1)];
});

function expand(word: string): string {
  const vars = { ...workflow.env, ...Object.values(workflow.jobs)[0]?.env };
  return word.replace(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g, (_, name: string) => vars[name] ?? `$${name}`);
}

describe("examples/github-actions/mlflow-dev-parity.yml", () => {
  it("runs on every pull request", () => {
    expect(Object.keys(workflow.on)).toContain("pull_request");
  });

  it("starts the emulator, runs mlflow-dev parity and the live suite", () => {
    expect(commands.some((c) => c.join(" ") === "bash localstack/start.sh")).toBe(true);
    expect(invocations.some((c) => c[0] === "parity")).toBe(true);
    expect(commands.some((c) => c[0] === "pnpm" && c[1] === "test:integration")).toBe(true);
  });

  it("has mlflow-dev invocations to check", () => {
    expect(invocations.length).toBeGreaterThanOrEqual(5);
  });

  it.each(invocations.map((words) => [words.join(" "), words]))(
    "mlflow-dev %s: a real command with valid flags",
    (_, words) => {
      const [command, ...args] = words as string[];
      const help = commandHelp(command ?? "");
      expect(help, `unknown command ${command}`).toBeDefined();
      const r = spawnSync(process.execPath, [BIN, command ?? "", "--help"], { encoding: "utf8" });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(help);
      for (const arg of args.filter((a) => a.startsWith("-"))) {
        const flag = arg.split("=")[0] ?? arg;
        expect(GLOBAL_FLAGS.includes(flag) || (help ?? "").includes(flag), `${command} has no flag ${flag}`).toBe(true);
      }
      if (command === "logs") expect(args, "logs -f follows forever in CI").not.toContain("-f");
      if (command === "down" && args.includes("--volumes")) expect(args).toContain("--yes");
    },
  );

  it.each(invocations.filter(PURE).map((words) => [words.join(" "), words]))(
    "mlflow-dev %s: runs and exits 0 on this repository",
    (_, words) => {
      const r = spawnSync(process.execPath, [BIN, ...(words as string[]).map(expand)], { cwd: ROOT, encoding: "utf8" });
      expect(r.status, r.stderr + r.stdout).toBe(0);
    },
  );

  it("every script it calls exists, and ./ scripts are executable", () => {
    const scripts = commands.flatMap((c) => {
      if (c[0] === "bash" && c[1]) return [{ path: c[1], exec: false }];
      if (c[0]?.startsWith("./")) return [{ path: c[0], exec: true }];
      return [];
    });
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    for (const s of scripts) {
      const path = join(ROOT, s.path);
      expect(existsSync(path), `${s.path} is missing`).toBe(true);
      if (s.exec) accessSync(path, constants.X_OK);
    }
  });

  it("every pnpm script it calls is defined", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    for (const c of commands.filter((c) => c[0] === "pnpm" && c[1] !== "install"))
      expect(Object.keys(pkg.scripts), `pnpm ${c[1]}`).toContain(c[1]);
  });
});
