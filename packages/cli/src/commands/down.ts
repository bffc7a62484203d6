import { createInterface } from "node:readline/promises";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";

export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("down", argv);
  const volumes = values.volumes === true;
  const ctx = await localContext(global.file);
  if (volumes && values.yes !== true) {
    const project = ctx.project;
    if (!process.stdin.isTTY)
      throw new UserError(`down --volumes deletes every run, metric and artifact of ${project}`, {
        exitCode: EXIT.invalidInput,
        hint: "Add --yes to confirm. Nothing was stopped.",
      });
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(
      `Delete all data of ${project} (runs, metrics, artifacts)? Type the project name to confirm: `,
    );
    rl.close();
    if (answer.trim() !== project) {
      process.stderr.write("not confirmed; nothing was stopped\n");
      return EXIT.failed;
    }
  }
  try {
    const before = await ctx.runtime.downLocalStack(ctx.stack, { volumes });
    process.stdout.write(
      before.length === 0
        ? "the local stack was not running\n"
        : `stopped ${before.length} container(s)${volumes ? " and deleted the data volumes" : "; data volumes kept (down --volumes --yes deletes them)"}\n`,
    );
    return EXIT.ok;
  } catch (e) {
    throw asUserError(e, global.file);
  }
}
