import type { RuleProblem } from "./parse.ts";
import type { Spec } from "./schema.ts";

/**
 * Settings that work but are risky: printed as warnings by every command that reads the spec, which
 * stays valid (exit 0). Pure.
 */
export function specWarnings(spec: Spec): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const local = spec.environments.local;
  if (local !== undefined && !local.bindAddress.startsWith("127.")) {
    const where =
      local.bindAddress === "0.0.0.0"
        ? "every network interface of this machine"
        : `${local.bindAddress}, not loopback`;
    problems.push({
      setting: "environments.local.bindAddress",
      message: `publishes the local stack's ports (MLflow, MinIO and PostgreSQL) on ${where}, so other machines on the network can reach them, with the generated passwords in .env as their only guard. Keep 127.0.0.1 unless they must`,
    });
  }
  return problems;
}
