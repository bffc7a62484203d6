import { secretName } from "@mlflow-dev/aws";
import { AUTH_ADMIN_USER } from "@mlflow-dev/spec";
import { EXIT } from "../errors.ts";
import { trackingExports } from "../tracking.ts";
import { allowReplaceOf, withAws } from "./aws-common.ts";

export async function run(argv: string[]): Promise<number> {
  return withAws("promote", argv, async ({ deploy, model, engine, report, waits, loaded, json, values }) => {
    const allowReplace = allowReplaceOf(values);
    const result = await deploy.promote(model, engine, { report, waits, specDir: loaded.dir, allowReplace });
    if (result.timings) {
      const { totalMs, waitingMs } = result.timings;
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      report.info(
        `took ${s(totalMs)}: ${s(waitingMs)} waiting on CloudFormation, ECS and the load balancer, ${s(totalMs - waitingMs)} mlflow-dev's own work and API calls`,
      );
    }
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(
        result.changed
          ? `MLflow is up: ${result.url}\n`
          : `no changes: ${result.stack} is up to date. MLflow is up: ${result.url}\n`,
      );
      process.stdout.write(`image: ${result.image} (${result.imageOrigin})\n`);
      // Where the admin's password is (Secrets Manager), never the password itself.
      const secret = model.mlflow.auth === "basic" ? secretName(model, "auth-admin-password") : undefined;
      const region = model.target.region;
      if (secret)
        process.stdout.write(
          `basic auth: user ${AUTH_ADMIN_USER}, password in Secrets Manager secret ${secret} (${region})\n`,
        );
      process.stdout.write(
        `\nfor MLflow clients in this shell:\n${trackingExports(
          result.url,
          secret
            ? {
                user: AUTH_ADMIN_USER,
                passwordIn: secret,
                readCommand: `aws secretsmanager get-secret-value --region ${region} --secret-id ${secret} --query SecretString --output text`,
              }
            : undefined,
        )}`,
      );
    }
    return EXIT.ok;
  });
}
