import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { data, Evaluator, Lexer, Parser } from "@actions/expressions";
import type { FunctionDefinition } from "@actions/expressions/funcs/info";
import { truthy } from "@actions/expressions/result";
import { parse } from "yaml";

/**
 * A GitHub Actions workflow read and run on this machine the way a runner runs it, as far as a
 * test can: the YAML parsed (never matched with patterns), each job's `if:` and each step's
 * `if:` evaluated with GitHub's own expression library against contexts the test declares, every
 * `${{ ... }}` in a step's `run:`, `env:`, `with:` and name substituted from them, and the `run:`
 * steps executed one after another by bash as the runner's default shell does (`bash -e`). `uses:`
 * steps are the runner's (actions downloaded from GitHub): the test stands in for each of them
 * explicitly, and a `uses:` without a stand-in is an error.
 */

export interface WorkflowStep {
  name?: string;
  id?: string;
  if?: string | boolean;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string | number | boolean>;
  with?: Record<string, string | number | boolean>;
  "working-directory"?: string;
}

export interface WorkflowJob {
  name?: string;
  if?: string | boolean;
  needs?: string | string[];
  strategy?: { matrix?: Record<string, unknown> };
  env?: Record<string, string | number | boolean>;
  steps: WorkflowStep[];
}

export interface Workflow {
  name?: string;
  on: Record<string, unknown>;
  env?: Record<string, string | number | boolean>;
  jobs: Record<string, WorkflowJob>;
}

/** The contexts expressions read: github, vars, secrets, matrix, ... (plain data). */
export type Contexts = Record<string, unknown>;

/** The workflow file, parsed. */
export function readWorkflow(path: string): Workflow {
  const workflow = parse(readFileSync(path, "utf8")) as Workflow;
  if (!workflow?.jobs || typeof workflow.jobs !== "object") throw new Error(`${path}: no jobs`);
  return workflow;
}

/** Job or step status for the status functions: has a previous step (or a needed job) failed? */
export type Status = "success" | "failure";

const STATUS_FUNCTIONS = ["success", "failure", "cancelled", "always"] as const;

function statusFunctions(status: Status): Map<string, FunctionDefinition> {
  const fn = (name: string, value: boolean): [string, FunctionDefinition] => [
    name,
    { name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(value) },
  ];
  return new Map([
    fn("success", status === "success"),
    fn("failure", status === "failure"),
    fn("cancelled", false),
    fn("always", true),
  ]);
}

/** The value of one expression (without `${{ }}`) in `contexts`. */
export function evaluate(expression: string, contexts: Contexts, status: Status = "success"): data.ExpressionData {
  const lexed = new Lexer(expression).lex();
  const functions = statusFunctions(status);
  const expr = new Parser(lexed.tokens, Object.keys(contexts), [...functions.values()]).parse();
  const context = JSON.parse(JSON.stringify(contexts), data.reviver) as data.Dictionary;
  return new Evaluator(expr, context, functions).evaluate();
}

/** Every `${{ expression }}` in `text` replaced by its value as a string, as GitHub does before a step runs. */
export function substitute(text: string, contexts: Contexts): string {
  let out = "";
  let rest = text;
  for (let at = rest.indexOf("${{"); at >= 0; at = rest.indexOf("${{")) {
    const end = rest.indexOf("}}", at);
    if (end < 0) throw new Error(`an unclosed \${{ in: ${text}`);
    out += rest.slice(0, at) + evaluate(rest.slice(at + 3, end).trim(), contexts).coerceString();
    rest = rest.slice(end + 2);
  }
  return out + rest;
}

/**
 * A job's or step's `if:`: true when absent; written with or without `${{ }}`; without a status
 * function it holds only while nothing before it failed (GitHub's implicit `success() && ...`).
 */
export function condition(value: string | boolean | undefined, contexts: Contexts, status: Status): boolean {
  if (value === undefined) return status === "success";
  if (typeof value === "boolean") return value && status === "success";
  let expression = value.trim();
  if (expression.startsWith("${{") && expression.endsWith("}}")) expression = expression.slice(3, -2).trim();
  const hasStatus = STATUS_FUNCTIONS.some((f) => new RegExp(`\\b${f}\\s*\\(`).test(expression));
  const holds = truthy(evaluate(expression, contexts, status));
  return hasStatus ? holds : holds && status === "success";
}

/** The job's matrix combinations (one empty combination without a matrix); include/exclude are not expanded. */
export function matrixOf(job: WorkflowJob): Record<string, unknown>[] {
  const matrix = job.strategy?.matrix;
  if (!matrix) return [{}];
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(matrix)) {
    if (key === "include" || key === "exclude") throw new Error(`matrix ${key} is not expanded here`);
    if (!Array.isArray(values)) throw new Error(`matrix.${key} is not a list`);
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  return combos;
}

/** A step's `env:` or `with:` with its expressions substituted. */
export function substituted(
  values: Record<string, string | number | boolean> | undefined,
  contexts: Contexts,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values ?? {}).map(([k, v]) => [k, typeof v === "string" ? substitute(v, contexts) : String(v)]),
  );
}

/** The label a runner's log shows for a step: its name, else its `run:` first line or `uses:`. */
export function stepLabel(step: WorkflowStep, contexts: Contexts): string {
  if (step.name) return substitute(step.name, contexts);
  if (step.uses) return `uses ${step.uses}`;
  return `run ${(step.run ?? "").split("\n")[0]}`;
}

export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * A `run:` step's script (expressions already substituted) run as the runner's default shell on
 * Linux runs it: the script in a file, `bash -e <file>`, in `cwd` with `env`.
 */
export function runScript(
  script: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; scriptDir: string; timeout?: number },
): StepResult {
  const file = join(options.scriptDir, `step-${process.hrtime.bigint()}.sh`);
  writeFileSync(file, script);
  const started = Date.now();
  const r = spawnSync("bash", ["-e", file], {
    cwd: options.cwd,
    env: options.env,
    encoding: "utf8",
    timeout: options.timeout ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}
