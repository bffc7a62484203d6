import { parseCommandArgs } from "../args.ts";
import { type RuntimeFor, runtimeFor } from "../runtimes/runtime.ts";

/** `restore <dir>` into the local stack, or `restore --env <aws env> --snapshot <id>`. */
export async function run(argv: string[], runtimes: RuntimeFor = runtimeFor): Promise<number> {
  const { values, positionals, global } = parseCommandArgs("restore", argv);
  const report = await runtimes({ values, global }).restore({
    ...(positionals[0] !== undefined ? { dir: positionals[0] } : {}),
    ...(values.force === true ? { force: true } : {}),
    ...(typeof values.snapshot === "string" ? { snapshot: values.snapshot } : {}),
  });
  process.stdout.write(global.json ? `${JSON.stringify(report.json, null, 2)}\n` : report.text);
  return report.exitCode;
}
