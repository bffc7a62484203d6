import { parseCommandArgs } from "../args.ts";
import { type RuntimeFor, runtimeFor } from "../runtimes/runtime.ts";

/** `status` of the local stack, or with `--env <aws env>` of that environment's stack and service. */
export async function run(argv: string[], runtimes: RuntimeFor = runtimeFor): Promise<number> {
  const { values, global } = parseCommandArgs("status", argv);
  const report = await runtimes({ values, global }).status();
  process.stdout.write(global.json ? `${JSON.stringify(report.json, null, 2)}\n` : report.text);
  return report.exitCode;
}
