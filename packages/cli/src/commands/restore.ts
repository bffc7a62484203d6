import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";
import { refuseAwsFlags, withAws } from "./aws-common.ts";

/** `restore <dir>` into the local stack, or `restore --env <aws env> --snapshot <id>`. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, global } = parseCommandArgs("restore", argv);
  const dir = positionals[0];
  const aws = typeof values.env === "string" && values.env !== "local";
  if (aws && dir)
    throw new UserError(`restore: a backup directory (${dir}) is for the local stack, not --env ${values.env}`, {
      exitCode: EXIT.invalidInput,
      hint: `Example: mlflow-dev restore --env ${values.env} --snapshot <RDS snapshot id>`,
    });
  if (!aws && values.snapshot !== undefined)
    throw new UserError("restore: --snapshot restores an AWS environment and needs --env <name>", {
      exitCode: EXIT.invalidInput,
      hint: "Example: mlflow-dev restore --env staging --snapshot <RDS snapshot id>",
    });
  if (aws) return restoreAws(argv);
  refuseAwsFlags("restore", values);
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
        `${JSON.stringify({ dir: r.dir, mlflowVersion: r.manifest.mlflowVersion, schemaRevision: r.manifest.schemaRevision, experiments: r.experiments, runs: r.runs, objects: r.objects, deletedObjects: r.deletedObjects, safetyBackup: r.safetyBackup ?? null }, null, 2)}\n`,
      );
    } else {
      const esc = ctx.runtime.escapeForTerminal;
      process.stdout.write(
        `restored ${esc(r.dir)} (MLflow ${r.manifest.mlflowVersion}, schema revision ${r.manifest.schemaRevision}, taken ${r.manifest.createdAt})\n` +
          `  database: ${r.experiments} experiment(s), ${r.runs} run(s)\n` +
          `  artifacts: ${r.objects} object(s)${r.deletedObjects > 0 ? `; ${r.deletedObjects} object(s) not in the backup deleted` : ""}\n` +
          (r.safetyBackup ? `  the stack as it was before: ${esc(r.safetyBackup)} (a backup you can restore)\n` : "") +
          `MLflow is up: ${ctx.runtime.mlflowUrl(ctx.model)}\n`,
      );
    }
    return EXIT.ok;
  } catch (e) {
    throw asUserError(e, global.file);
  }
}

function restoreAws(argv: string[]): Promise<number> {
  return withAws("restore", argv, async ({ deploy, model, clients, report, waits, loaded, values, json }) => {
    if (values.force !== undefined)
      throw new UserError("restore: --force is for a local restore; an AWS restore always swaps in a new database", {
        exitCode: EXIT.invalidInput,
        hint: "Leave --force out. The database it replaces is kept as a snapshot. Nothing was changed.",
      });
    const snapshot = values.snapshot;
    if (typeof snapshot !== "string" || snapshot === "")
      throw new UserError(`restore ${model.environment}: --snapshot <RDS snapshot id> is required`, {
        exitCode: EXIT.invalidInput,
        hint: `mlflow-dev backup --env ${model.environment} takes one; destroy keeps a final one. Nothing was changed.`,
      });
    const r = await deploy.restoreAws(model, clients, { report, waits, specDir: loaded.dir, snapshot });
    if (json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else
      process.stdout.write(
        `restored ${model.environment} from ${r.snapshot}${r.snapshotMlflowVersion ? ` (MLflow ${r.snapshotMlflowVersion})` : ""}` +
          `${r.previousDatabaseSnapshot ? `; the database it replaced is the snapshot ${r.previousDatabaseSnapshot}` : ""}\n` +
          `MLflow is up: ${r.promote.url}\n`,
      );
    return EXIT.ok;
  });
}
