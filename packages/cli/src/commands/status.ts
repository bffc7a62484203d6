import type { EnvironmentStatus } from "@mlflow-dev/aws/deploy";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";
import { withSpecFlag } from "../spec-file.ts";
import { refuseAwsFlags, withAws } from "./aws-common.ts";

/** `status` of the local stack, or with `--env <aws env>` of that environment's stack and service. */
export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("status", argv);
  if (typeof values.env === "string" && values.env !== "local") return statusAws(argv);
  refuseAwsFlags("status", values);
  const ctx = await localContext(global.file);
  try {
    const services = await ctx.runtime.localStackStatus({ model: ctx.model, docker: ctx.docker });
    const url = ctx.runtime.mlflowUrl(ctx.model);
    const healthy = ctx.runtime.stackHealthy(services, ctx.model.target.objectStore);
    if (global.json) {
      process.stdout.write(
        `${JSON.stringify({ project: ctx.runtime.projectName(ctx.model), url, healthy, services }, null, 2)}\n`,
      );
    } else if (services.length === 0) {
      process.stdout.write(
        withSpecFlag("the local stack is not running (start it with `mlflow-dev up`)\n", global.file),
      );
    } else {
      const rows = [
        ["SERVICE", "STATE", "HEALTH", "PORTS"],
        ...services.map((s) => [
          s.service,
          s.state + (s.exitCode !== undefined ? ` (${s.exitCode})` : ""),
          s.health,
          s.ports.join(", "),
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows)
        process.stdout.write(
          `${r
            .map((c, i) => c.padEnd(widths[i]!))
            .join("  ")
            .trimEnd()}\n`,
        );
      process.stdout.write(
        healthy ? `\nhealthy: ${url}\n` : withSpecFlag("\nnot healthy: see `mlflow-dev logs <service>`\n", global.file),
      );
    }
    return healthy ? EXIT.ok : EXIT.failed;
  } catch (e) {
    throw asUserError(e, global.file);
  }
}

function statusAws(argv: string[]): Promise<number> {
  return withAws("status", argv, async ({ deploy, model, clients, json, loaded }) => {
    const status = await deploy.readEnvironmentStatus(model, clients);
    if (!status)
      throw new UserError(
        withSpecFlag(
          `status: nothing deployed for ${model.environment}: run \`mlflow-dev promote --env ${model.environment}\``,
          loaded.shown,
        ),
        {
          exitCode: EXIT.failed,
          hint: `There is no stack ${(await import("@mlflow-dev/aws")).stackName(model)} in ${model.target.region} of this account.`,
        },
      );
    process.stdout.write(json ? `${JSON.stringify(status, null, 2)}\n` : formatEnvironmentStatus(status));
    return status.healthy ? EXIT.ok : EXIT.failed;
  });
}

/** The environment's status as text (pure). */
export function formatEnvironmentStatus(s: EnvironmentStatus): string {
  const svc = s.service;
  const lines = [
    `stack:        ${s.stack.name} ${s.stack.status}${s.stack.reason ? ` (${s.stack.reason})` : ""}`,
    svc
      ? `service:      ${svc.name} ${svc.status}, revision ${svc.taskDefinition ?? "(none)"}, rollout ${svc.rolloutState ?? "(unknown)"}${svc.rolloutStateReason ? ` (${svc.rolloutStateReason})` : ""}`
      : "service:     (none)",
    ...(svc
      ? [`tasks:        ${svc.running}/${svc.desired} running${svc.pending ? `, ${svc.pending} pending` : ""}`]
      : []),
    ...s.tasks.map((t) => `  ${t.id}  ${t.lastStatus}  ${t.health}${t.revision ? `  ${t.revision}` : ""}`),
    `url:          ${s.url ?? "(none)"}`,
    `image:        ${s.image ? `${s.image} (${s.imageOrigin === "build" ? "built, in the stack's ECR repository" : "pulled as the spec names it"})` : "(none)"}`,
    `mlflow:       ${s.mlflowVersion} (from the ${s.mlflowVersionFrom === "spec" ? "spec" : "running task definition"})`,
    `last rollout: ${lastRollout(s.lastRollout)}`,
  ];
  const verdict = s.healthy
    ? `\nhealthy: ${s.url ?? s.environment}\n`
    : `\nnot healthy:\n${s.problems.map((p) => `  - ${p}`).join("\n")}\nThe tasks' output is in the CloudWatch log group ${s.logGroup ?? "of the stack"}; the ECS service's events say why tasks stopped.\n`;
  return `${lines.join("\n")}\n${verdict}`;
}

function lastRollout(r: EnvironmentStatus["lastRollout"]): string {
  if (!r || (r.createdAt === undefined && r.updatedAt === undefined)) return "(not reported)";
  return [r.createdAt ? `started ${r.createdAt}` : "", r.updatedAt ? `updated ${r.updatedAt}` : ""]
    .filter(Boolean)
    .join(", ");
}
