import { EXIT } from "../errors.ts";
import { ALLOW_REPLACE_OPTION, allowReplaceOf, withAws } from "./aws-common.ts";

export async function run(argv: string[]): Promise<number> {
  return withAws(
    "promote",
    argv,
    ALLOW_REPLACE_OPTION,
    async ({ deploy, model, clients, report, waits, loaded, json, values }) => {
      const allowReplace = allowReplaceOf(values);
      const result = await deploy.promote(model, clients, { report, waits, specDir: loaded.dir, allowReplace });
      if (result.timings) {
        const { totalMs, waitingMs } = result.timings;
        const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
        report.info(
          `took ${s(totalMs)}: ${s(waitingMs)} waiting on CloudFormation, ECS and the load balancer, ${s(totalMs - waitingMs)} mlflow-dev's own work and API calls`,
        );
      }
      if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else if (!result.changed)
        process.stdout.write(`no changes: ${result.stack} is up to date. MLflow is up: ${result.url}\n`);
      else process.stdout.write(`MLflow is up: ${result.url}\n`);
      return EXIT.ok;
    },
  );
}
