import { parseCommandArgs, requireString } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { loadSpec, resolveAwsEnv } from "../load-spec.ts";
import { allowReplaceOf, withAws } from "./aws-common.ts";

export async function run(argv: string[]): Promise<number> {
  if (argv.includes("--cost")) return costOnly(argv);
  return withAws("plan", argv, async ({ deploy, model, engine, report, waits, loaded, json, values }) => {
    const allowReplace = allowReplaceOf(values);
    const result = await deploy.plan(model, engine, { report, waits, specDir: loaded.dir, allowReplace });
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : deploy.formatPlan(result));
    // The plan is shown either way; a replacement promote would refuse makes plan exit 2 too.
    if (result.refused.length) throw deploy.statefulRefusal(result.refused, model.environment);
    return EXIT.ok;
  });
}

/** `plan --cost`: the monthly cost estimate alone, from the spec and the price table: no credentials, no AWS call. */
async function costOnly(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("plan", argv);
  const env = requireString(values, "env", "plan");
  if (values["allow-replace"] !== undefined)
    throw new UserError("plan: --allow-replace has no meaning with --cost (nothing is compared with AWS)", {
      exitCode: EXIT.invalidInput,
      hint: "Drop --cost to see the change set, or --allow-replace to see the cost alone.",
    });
  if (env === "local")
    throw new UserError(`plan: "local" is the Docker Compose stack, not an AWS environment`, {
      exitCode: EXIT.invalidInput,
      hint: "Pass --env with an AWS environment of the spec.",
    });
  refuseAwsFlagsWithCost(values);
  const model = resolveAwsEnv(loadSpec(global.file), env);
  const { estimateMonthlyCost, formatCost } = await import("@mlflow-dev/aws");
  const estimate = estimateMonthlyCost(model);
  process.stdout.write(global.json ? `${JSON.stringify(estimate, null, 2)}\n` : `${formatCost(estimate).join("\n")}\n`);
  return EXIT.ok;
}

/** --profile and --endpoint-url choose an AWS account or emulator, which --cost never calls. */
function refuseAwsFlagsWithCost(values: Record<string, unknown>): void {
  for (const flag of ["profile", "endpoint-url"])
    if (values[flag] !== undefined)
      throw new UserError(`plan: --${flag} has no meaning with --cost (the estimate makes no AWS call)`, {
        exitCode: EXIT.invalidInput,
        hint: `Drop --${flag}, or drop --cost to run the full plan against AWS.`,
      });
}
