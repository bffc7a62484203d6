import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { commandHelp } from "@mlflow-dev/cli/help";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "./helpers.ts";
import { splitShellWords } from "./shell-words.ts";

/**
 * examples/github-actions/mlflow-dev.yml, the workflow a project that installed mlflow-dev with npm
 * copies: its triggers and jobs, every `npx mlflow-dev` invocation a real command with flags it
 * accepts (the pure ones run on examples/basic), short-lived credentials only, and the deploy
 * role's policy document.
 */
const DIR = join(ROOT, "examples/github-actions");
const BIN = join(ROOT, "packages/cli/bin/mlflow-dev.js");
const GLOBAL_FLAGS = ["-f", "--file", "--json", "-h", "--help"];

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  with?: Record<string, string>;
  if?: string;
}
interface Job {
  if?: string;
  needs?: string;
  permissions?: Record<string, string>;
  strategy?: { matrix?: { environment?: string[] } };
  steps: Step[];
}
const workflow = parse(readFileSync(join(DIR, "mlflow-dev.yml"), "utf8")) as {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
};

/** A job's `npx mlflow-dev` invocations, in order, with the matrix's first environment filled in. */
function invocations(job: Job): string[][] {
  const env = job.strategy?.matrix?.environment?.[0] ?? "staging";
  return job.steps
    .flatMap((s) => (s.run ? s.run.replaceAll("\\\n", " ").split(/\n|&&|\|\||;|\|/) : []))
    .map((l) => l.trim().replaceAll("${{ matrix.environment }}", env))
    .filter((l) => l.startsWith("npx mlflow-dev "))
    .map((l) => {
      const words = splitShellWords(l).map((w) => w.text);
      const redirect = words.findIndex((w) => /^\d?>/.test(w));
      return (redirect < 0 ? words : words.slice(0, redirect)).slice(2);
    });
}

describe("examples/github-actions/mlflow-dev.yml (a user's project)", () => {
  it("runs on pull requests and on pushes to the default branch, reading the repository only by default", () => {
    expect(Object.keys(workflow.on)).toEqual(expect.arrayContaining(["pull_request", "push"]));
    expect(workflow.permissions).toEqual({ contents: "read" });
  });

  it("on pull requests: validate and static parity, then rehearse per AWS environment with its reports as artifacts", () => {
    expect(invocations(workflow.jobs.check!).map((w) => w[0])).toEqual(["validate", "parity"]);
    const rehearse = workflow.jobs.rehearse!;
    expect(rehearse.if).toContain("pull_request");
    expect(invocations(rehearse)).toEqual([["rehearse", "--env", "staging", "--json"]]);
    const upload = rehearse.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"));
    expect(upload?.if).toBe("always()");
    expect(upload?.with?.path).toContain(".mlflow-dev/rehearse/");
    // No AWS credentials in the rehearsal: every AWS call goes to the twin.
    expect(rehearse.permissions).toBeUndefined();
    expect(rehearse.steps.some((s) => s.uses?.startsWith("aws-actions/"))).toBe(false);
  });

  it("plan runs only when a plan role is configured; promote only on the default branch; both with OIDC, never stored keys", () => {
    const { plan, promote } = workflow.jobs;
    expect(plan?.if).toContain("vars.AWS_PLAN_ROLE_ARN != ''");
    expect(promote?.if).toContain("github.event.repository.default_branch");
    expect(invocations(plan!)).toEqual([["plan", "--env", "staging"]]);
    expect(invocations(promote!)).toEqual([["promote", "--env", "staging", "--json"]]);
    for (const job of [plan!, promote!]) {
      expect(job.permissions).toEqual({ contents: "read", "id-token": "write" });
      const creds = job.steps.find((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials"));
      expect(creds?.with?.["role-to-assume"]).toMatch(/^\$\{\{ vars\.AWS_(PLAN|DEPLOY)_ROLE_ARN \}\}$/);
      expect(JSON.stringify(creds?.with)).not.toMatch(/access-key|secret/i);
    }
  });

  const all = Object.values(workflow.jobs).flatMap(invocations);
  it.each(all.map((w) => [w.join(" "), w]))("mlflow-dev %s: a real command with valid flags", (_, words) => {
    const [command, ...args] = words as string[];
    const help = commandHelp(command ?? "");
    expect(help, `unknown command ${command}`).toBeDefined();
    for (const arg of args.filter((a) => a.startsWith("-")))
      expect(GLOBAL_FLAGS.includes(arg) || (help ?? "").includes(arg), `${command} has no flag ${arg}`).toBe(true);
  });

  it.each(invocations(workflow.jobs.check!).map((w) => [w.join(" "), w]))(
    "mlflow-dev %s: runs and exits 0 on examples/basic",
    (_, words) => {
      const r = spawnSync(process.execPath, [BIN, ...(words as string[]), "-f", "examples/basic/mlflow-dev.yaml"], {
        cwd: ROOT,
        encoding: "utf8",
      });
      expect(r.status, r.stderr + r.stdout).toBe(0);
    },
  );
});

describe("examples/github-actions/iam-policy.json (the deploy role)", () => {
  const policy = JSON.parse(readFileSync(join(DIR, "iam-policy.json"), "utf8")) as {
    Version: string;
    Statement: { Sid: string; Effect: string; Action: string[]; Resource: string | string[] }[];
  };

  it("allows only, never everything, and scopes what names can scope to mlflow-dev's names", () => {
    expect(policy.Version).toBe("2012-10-17");
    const sids = policy.Statement.map((s) => s.Sid);
    expect(new Set(sids).size).toBe(sids.length);
    for (const s of policy.Statement) {
      expect(s.Effect).toBe("Allow");
      expect(s.Action).not.toContain("*");
      expect(
        s.Action.some((a) => a.startsWith("iam:") && s.Resource === "*"),
        s.Sid,
      ).toBe(false);
    }
    const resources = (prefix: string) =>
      policy.Statement.filter((s) => s.Action.every((a) => a.startsWith(prefix))).flatMap((s) => [s.Resource].flat());
    expect(resources("cloudformation:C")).toEqual([]);
    expect(policy.Statement.find((s) => s.Sid === "StacksNamedMlflowDev")?.Resource).toBe(
      "arn:aws:cloudformation:*:*:stack/mlflow-dev-*/*",
    );
    expect(resources("secretsmanager:")).toEqual(["arn:aws:secretsmanager:*:*:secret:mlflow-dev/*"]);
    expect(resources("ssm:")).toEqual(["arn:aws:ssm:*:*:parameter/mlflow-dev/*"]);
    const passRole = policy.Statement.find((s) => s.Action.includes("iam:PassRole"));
    expect(passRole?.Resource).toBe("arn:aws:iam::*:role/mlflow-dev-*");
  });
});
