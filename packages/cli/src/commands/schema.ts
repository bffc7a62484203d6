import { specJsonSchema } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT } from "../errors.ts";

export async function run(argv: string[]): Promise<number> {
  parseCommandArgs("schema", argv);
  process.stdout.write(`${JSON.stringify(specJsonSchema(), null, 2)}\n`);
  return EXIT.ok;
}
