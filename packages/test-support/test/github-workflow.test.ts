import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { condition, evaluate, matrixOf, readWorkflow, substitute } from "../src/github-workflow.ts";
import { ROOT } from "../src/root.ts";

const workflow = readWorkflow(join(ROOT, "examples/github-actions/mlflow-dev.yml"));
const repository = { default_branch: "main" };
const pullRequest = { event_name: "pull_request", ref: "refs/pull/1/merge", event: { repository } };
const push = (ref: string) => ({ event_name: "push", ref, event: { repository } });

function jobsRun(github: object, vars: Record<string, string> = {}): string[] {
  return Object.entries(workflow.jobs)
    .filter(([, job]) => condition(job.if, { github, vars, secrets: {} }, "success"))
    .map(([id]) => id);
}

describe("a workflow's expressions, evaluated as GitHub does", () => {
  it("mlflow-dev.yml: which jobs run for a pull request, a push to the default branch and to another", () => {
    expect(jobsRun(pullRequest)).toEqual(["check", "rehearse"]);
    expect(jobsRun(pullRequest, { AWS_PLAN_ROLE_ARN: "arn:aws:iam::123456789012:role/plan" })).toEqual([
      "check",
      "rehearse",
      "plan",
    ]);
    expect(jobsRun(push("refs/heads/main"))).toEqual(["check", "promote"]);
    expect(jobsRun(push("refs/heads/feature"))).toEqual(["check"]);
  });

  it("status functions: a step without one runs only while nothing failed, always() regardless", () => {
    expect(condition(undefined, {}, "failure")).toBe(false);
    expect(condition("always()", {}, "failure")).toBe(true);
    expect(condition("${{ failure() }}", {}, "failure")).toBe(true);
    expect(condition("github.event_name == 'push'", { github: push("refs/heads/main") }, "failure")).toBe(false);
  });

  it("substitutes ${{ }} in text, an unset variable as the empty string", () => {
    expect(substitute('rehearse --env "${{ matrix.environment }}"', { matrix: { environment: "prod" } })).toBe(
      'rehearse --env "prod"',
    );
    expect(substitute("role=${{ vars.AWS_DEPLOY_ROLE_ARN }}.", { vars: {} })).toBe("role=.");
    expect(evaluate("format('refs/heads/{0}', 'main')", {}).coerceString()).toBe("refs/heads/main");
    expect(() => substitute("${{ matrix.environment", { matrix: {} })).toThrow("unclosed");
  });

  it("expands a matrix into its combinations", () => {
    expect(matrixOf({ steps: [], strategy: { matrix: { env: ["a", "b"], node: [22, 24] } } })).toEqual([
      { env: "a", node: 22 },
      { env: "a", node: 24 },
      { env: "b", node: 22 },
      { env: "b", node: 24 },
    ]);
    expect(matrixOf({ steps: [] })).toEqual([{}]);
    expect(() => matrixOf({ steps: [], strategy: { matrix: { include: [{ env: "a" }] } } })).toThrow("not expanded");
  });
});
