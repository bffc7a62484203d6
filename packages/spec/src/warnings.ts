import { closeGaps, openEndpointGaps } from "./access.ts";
import { healthCheckWarnings } from "./health-check.ts";
import type { RuleProblem } from "./parse.ts";
import type { AwsEnv, Spec } from "./schema.ts";
import { awsEnvironmentNames } from "./task-size.ts";

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
  for (const name of awsEnvironmentNames(spec)) {
    const env = spec.environments[name] as AwsEnv;
    const acknowledged = env.access.openToInternet;
    const exposure = { ...env, auth: spec.mlflow.auth };
    const gaps = openEndpointGaps(exposure);
    if (acknowledged === undefined || gaps === undefined) continue;
    problems.push({
      setting: `environments.${name}.access.openToInternet`,
      message: `the whole internet reaches this MLflow, with ${gaps.join(" and ")} (acknowledged: ${JSON.stringify(acknowledged.reason.trim())}). To close it, ${closeGaps(exposure)}, or list narrower access.sourceCidrs`,
    });
  }
  problems.push(...healthCheckWarnings(spec));
  return problems;
}
