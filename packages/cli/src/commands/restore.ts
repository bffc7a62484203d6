import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, global } = parseCommandArgs("restore", argv, { force: { type: "boolean" } }, 1);
  const dir = positionals[0];
  if (!dir)
    throw new UserError("restore: the backup directory is required", {
      exitCode: EXIT.invalidInput,
      hint: "Example: mlflow-dev restore .mlflow-dev/backups/20260101T120000Z-backup",
    });
  const ctx = await localContext(global.file);
  try {
    const r = await ctx.runtime.restoreLocalStack(
      { model: ctx.model, stateDir: ctx.stateDir, docker: ctx.docker, progress: ctx.progress },
      { dir, force: values.force === true },
    );
    if (global.json) {
      process.stdout.write(
        `${JSON.stringify({ dir: r.dir, mlflowVersion: r.manifest.mlflowVersion, schemaRevision: r.manifest.schemaRevision, experiments: r.experiments, runs: r.runs, objects: r.objects, deletedObjects: r.deletedObjects }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(
        `restored ${r.dir} (MLflow ${r.manifest.mlflowVersion}, schema revision ${r.manifest.schemaRevision}, taken ${r.manifest.createdAt})\n` +
          `  database: ${r.experiments} experiment(s), ${r.runs} run(s)\n` +
          `  artifacts: ${r.objects} object(s)${r.deletedObjects > 0 ? `; ${r.deletedObjects} object(s) not in the backup deleted` : ""}\n` +
          `MLflow is up: ${ctx.runtime.mlflowUrl(ctx.model)}\n`,
      );
    }
    return EXIT.ok;
  } catch (e) {
    throw asUserError(e, global.file);
  }
}
