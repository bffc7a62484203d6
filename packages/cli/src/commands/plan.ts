import { EXIT } from "../errors.ts";
import { ALLOW_REPLACE_OPTION, allowReplaceOf, withAws } from "./aws-common.ts";

export async function run(argv: string[]): Promise<number> {
  return withAws(
    "plan",
    argv,
    ALLOW_REPLACE_OPTION,
    async ({ deploy, model, clients, report, waits, loaded, json, values }) => {
      const allowReplace = allowReplaceOf(values);
      const result = await deploy.plan(model, clients, { report, waits, specDir: loaded.dir, allowReplace });
      process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : deploy.formatPlan(result));
      // The plan is shown either way; a replacement promote would refuse makes plan exit 2 too.
      if (result.refused.length) throw deploy.statefulRefusal(result.refused, model.environment);
      return EXIT.ok;
    },
  );
}
