import { parseCommandArgs } from "../args.ts";
import { EXIT } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";

export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("backup", argv, { out: { type: "string" } });
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
