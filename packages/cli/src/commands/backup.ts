import { parseCommandArgs } from "../args.ts";
import { type RuntimeFor, runtimeFor } from "../runtimes/runtime.ts";

/** `backup` of the local stack, or with `--env <aws env>` a snapshot of that environment's database. */
export async function run(argv: string[], runtimes: RuntimeFor = runtimeFor): Promise<number> {
  const { values, global } = parseCommandArgs("backup", argv);
  const report = await runtimes({ values, global }).backup({
    ...(typeof values.out === "string" ? { out: values.out } : {}),
  });
  process.stdout.write(global.json ? `${JSON.stringify(report.json, null, 2)}\n` : report.text);
  return report.exitCode;
}
