import { EXIT } from "../errors.ts";
import { withAws } from "./aws-common.ts";

export async function run(argv: string[]): Promise<number> {
  return withAws("plan", argv, {}, async ({ deploy, model, clients, report, waits, loaded, json }) => {
    const result = await deploy.plan(model, clients, { report, waits, specDir: loaded.dir });
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : deploy.formatPlan(result));
    return EXIT.ok;
  });
}
