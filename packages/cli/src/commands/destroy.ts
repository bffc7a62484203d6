import { createInterface } from "node:readline/promises";
import { EXIT, UserError } from "../errors.ts";
import { withAws } from "./aws-common.ts";

export async function run(argv: string[]): Promise<number> {
  return withAws("destroy", argv, async ({ deploy, model, engine, report, waits, values, json }) => {
    const skipFinalSnapshot = values["skip-final-snapshot"] === true;
    const deleteData = values["delete-data"] === true;
    if (values.yes !== true) {
      const what = `It deletes the stack ${(await import("@mlflow-dev/aws")).stackName(model)}: the service, the database (${skipFinalSnapshot ? "WITHOUT a final snapshot" : "a final snapshot is kept"}), the network, roles, logs and task definitions; the bucket ${model.artifacts.bucket} ${deleteData ? `loses every object under ${model.artifacts.prefix}/ (DELETED), and is deleted when nothing else is in it` : "and its objects are kept"}; the secrets go only when nothing of the data is kept`;
      // A person at a terminal types the environment's name; a script passes --yes.
      if (!process.stdin.isTTY || json)
        throw new UserError(`destroy ${model.environment}: refused without --yes. ${what}`, {
          exitCode: EXIT.invalidInput,
          hint: "Add --yes to confirm (or run it at a terminal to type the environment's name). Nothing was changed.",
        });
      process.stderr.write(`${what}.\n`);
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`Type the environment's name (${model.environment}) to destroy it: `);
      rl.close();
      if (answer.trim() !== model.environment)
        throw new UserError(`destroy ${model.environment}: not confirmed (typed "${answer.trim()}")`, {
          exitCode: EXIT.invalidInput,
          hint: "Nothing was changed.",
        });
    }
    const result = await deploy.destroy(model, engine, { report, waits, skipFinalSnapshot, deleteData });
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const kept = [
        ...(result.finalSnapshot ? [`database snapshot ${result.finalSnapshot}`] : []),
        ...(result.bucketKept ? [`bucket ${result.bucketKept} with its objects`] : []),
      ];
      process.stdout.write(
        `${result.stackDeleted ? `destroyed ${result.stack}` : `no stack ${result.stack} to destroy`}${kept.length ? `; kept: ${kept.join(", ")}` : ""}\n`,
      );
    }
    return EXIT.ok;
  });
}
