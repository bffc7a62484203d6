import { parseCommandArgs } from "../args.ts";
import { EXIT } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";
import { withSpecFlag } from "../spec-file.ts";

export async function run(argv: string[]): Promise<number> {
  const { global } = parseCommandArgs("status", argv, {});
  const ctx = await localContext(global.file);
  try {
    const services = await ctx.runtime.localStackStatus({ model: ctx.model, docker: ctx.docker });
    const url = ctx.runtime.mlflowUrl(ctx.model);
    const healthy = ctx.runtime.stackHealthy(services);
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
