import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";
import { refuseAwsFlags, withAws } from "./aws-common.ts";

/** `backup` of the local stack, or with `--env <aws env>` a snapshot of that environment's database. */
export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("backup", argv);
  if (typeof values.env === "string" && values.env !== "local") {
    if (values.out !== undefined)
      throw new UserError(`backup: --out is for a local backup; --env ${values.env} takes an RDS snapshot`, {
        exitCode: EXIT.invalidInput,
        hint: `Run mlflow-dev backup --env ${values.env} without --out. Nothing was changed.`,
      });
    return backupAws(argv);
  }
  refuseAwsFlags("backup", values);
  const ctx = await localContext(global.file);
  try {
    const r = await ctx.runtime.backupLocalStack(
      { model: ctx.model, stateDir: ctx.stateDir, docker: ctx.docker, progress: ctx.progress },
      { out: typeof values.out === "string" ? values.out : undefined },
    );
    const m = r.manifest;
    const bytes = m.artifacts.objects.reduce((n, o) => n + o.bytes, 0);
    if (global.json) {
      process.stdout.write(
        `${JSON.stringify({ dir: r.dir, mlflowVersion: m.mlflowVersion, schemaRevision: m.schemaRevision, databaseBytes: m.database.bytes, objects: m.artifacts.objects.length, objectBytes: bytes }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(
        `backed up ${m.stack} (MLflow ${m.mlflowVersion}, schema revision ${m.schemaRevision}) to ${r.dir}\n` +
          `  database: ${m.database.file}, ${m.database.bytes} bytes (gzip)\n` +
          `  artifacts: ${m.artifacts.objects.length} object(s), ${bytes} bytes, from s3://${m.artifacts.bucket}/${m.artifacts.prefix}/\n`,
      );
    }
    return EXIT.ok;
  } catch (e) {
    throw asUserError(e, global.file);
  }
}

function backupAws(argv: string[]): Promise<number> {
  return withAws("backup", argv, async ({ deploy, model, clients, report, waits, json }) => {
    const r = await deploy.backupAws(model, clients, { report, waits });
    if (json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else
      process.stdout.write(
        `backed up ${model.environment}: RDS snapshot ${r.snapshot} of ${r.instance} (MLflow ${r.mlflowVersion})\n` +
          `  artifacts at ${r.artifacts.at}: ${r.artifacts.objects} object(s), ${r.artifacts.bytes} bytes in s3://${r.artifacts.bucket}/${r.artifacts.prefix}/ (bucket versioning: ${r.artifacts.versioning})\n` +
          `  restore with: mlflow-dev restore --env ${model.environment} --snapshot ${r.snapshot}\n`,
      );
    return EXIT.ok;
  });
}
