import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { type RuntimeFor, runtimeFor } from "../runtimes/runtime.ts";

/**
 * `exec [--env <name>] -- <command...>`: the command once, beside the server, with its image,
 * environment and secrets (spec/one-off-command.ts). Locally a `compose run` container on the
 * stack's network; on AWS a one-off Fargate task from the running task definition. The exit code
 * is the command's.
 */

/** The words after `--`, and the flags before it; no `--` or no command is exit 2. */
export function splitExecArgs(argv: readonly string[]): { own: string[]; command: string[] } {
  const at = argv.indexOf("--");
  const example = "Example: mlflow-dev exec --env staging -- mlflow db upgrade --help";
  if (at < 0)
    throw new UserError("exec: put the command after --, so its flags are not read as mlflow-dev's", {
      exitCode: EXIT.invalidInput,
      hint: example,
    });
  const command = argv.slice(at + 1);
  if (command.length === 0 || command[0] === "")
    throw new UserError("exec: no command after --", { exitCode: EXIT.invalidInput, hint: example });
  return { own: argv.slice(0, at), command };
}

export async function run(argv: string[], runtimes: RuntimeFor = runtimeFor): Promise<number> {
  const { own, command } = splitExecArgs(argv);
  const { values, global } = parseCommandArgs("exec", own);
  return runtimes({ values, global }).exec(command);
}
