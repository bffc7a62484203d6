import { EXIT } from "../errors.ts";
import { withAws } from "./aws-common.ts";

export async function run(argv: string[]): Promise<number> {
  return withAws("unlock", argv, async ({ deploy, model, engine, json }) => {
    const holder = await engine.forceUnlock(model);
    if (json)
      process.stdout.write(
        `${JSON.stringify({ environment: model.environment, released: holder ?? null }, null, 2)}\n`,
      );
    else
      process.stdout.write(
        holder
          ? `released the deploy lock of ${model.environment}, held by ${deploy.describeHolder(holder)}\n`
          : `${model.environment} was not locked\n`,
      );
    return EXIT.ok;
  });
}
