import { SERVICE } from "@mlflow-dev/compose";
import { oneOffCommand } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";
import { withSpecFlag } from "../spec-file.ts";
import { refuseAwsFlags, withAws } from "./aws-common.ts";

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

export async function run(argv: string[]): Promise<number> {
  const { own, command } = splitExecArgs(argv);
  const { values, global } = parseCommandArgs("exec", own);
  if (typeof values.env === "string" && values.env !== "local")
    return withAws("exec", own, async ({ deploy, model, clients, waits, report }) => {
      report.step(`running \`${command.join(" ")}\` as a one-off task`);
      const result = await deploy.runOneOffTask(model, clients, command, {
        wait: { pollMs: waits.pollMs, timeoutMs: waits.taskTimeoutMs, clock: deploy.realClock },
        onLine: (line) => process.stdout.write(`${line}\n`),
        onStatus: (line) => report.info(line),
      });
      report.info(`exit code ${result.exitCode}`);
      return result.exitCode;
    });
  refuseAwsFlags("exec", values);
  const ctx = await localContext(global.file);
  try {
    const services = await ctx.runtime.localStackStatus({ model: ctx.model, docker: ctx.docker });
    const database = services.find((s) => s.service === SERVICE.postgres);
    if (database?.state !== "running")
      throw new UserError(
        withSpecFlag(
          "exec: the local stack's database is not running: start the stack with `mlflow-dev up`",
          global.file,
        ),
        {
          exitCode: EXIT.failed,
          hint: "exec runs the command beside the server, against the stack's database and artifact store.",
        },
      );
    const { DockerComposeCli, stackPaths, projectName } = ctx.runtime;
    const compose = new DockerComposeCli({ ...stackPaths(ctx.stateDir), projectName: projectName(ctx.model) });
    return await compose.run({
      service: SERVICE.mlflow,
      command: oneOffCommand(ctx.model.mlflow.server, command),
      tty: process.stdin.isTTY === true && process.stdout.isTTY === true,
    });
  } catch (e) {
    if (e instanceof ctx.runtime.ComposeCommandError)
      throw new UserError(e.message, {
        hint: "Install the Docker CLI with its compose plugin (`docker compose version` answers once it is).",
      });
    throw asUserError(e, global.file);
  }
}
