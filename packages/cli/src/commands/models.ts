import { progress } from "@mlflow-dev/kernel/progress";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { loadSpec } from "../load-spec.ts";

const usage = (message: string, hint: string) =>
  new UserError(`models promote: ${message}`, { exitCode: EXIT.invalidInput, hint });

/** `models promote <name> (--version N | --alias A) --to <env> [--from <env>] [--set-alias A] [--dry-run]`. */
export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "promote")
    throw new UserError(`models: unknown subcommand ${JSON.stringify(sub ?? "")}`, {
      exitCode: EXIT.invalidInput,
      hint: "Usage: mlflow-dev models promote <name> (--version <n> | --alias <alias>) --to <env>",
    });
  const { values, positionals, global } = parseCommandArgs("models", rest);
  const name = positionals[0];
  if (!name)
    throw usage(
      "the registered model's name is missing",
      "Example: mlflow-dev models promote iris --version 3 --to staging",
    );
  const version = values.version as string | undefined;
  const alias = values.alias as string | undefined;
  if ((version === undefined) === (alias === undefined))
    throw usage(
      "give exactly one of --version <n> and --alias <alias>",
      `Example: mlflow-dev models promote ${name} --version 3 --to staging`,
    );
  if (version !== undefined && !/^[1-9]\d*$/.test(version))
    throw usage(`--version ${JSON.stringify(version)} is not a version number`, "Versions are 1, 2, 3, ...");
  const to = values.to as string | undefined;
  if (!to)
    throw usage("--to <env> is required", "Name the spec environment to copy the version into, such as staging.");
  const from = (values.from as string | undefined) ?? "local";
  const fromSpec = values["from-spec"] as string | undefined;
  if (from === to && fromSpec === undefined)
    throw usage(`--from and --to are both ${to}`, "A promotion copies a version between two environments.");
  const toLoaded = loadSpec(global.file);
  const fromLoaded = fromSpec === undefined ? toLoaded : loadSpec(fromSpec);
  if (fromSpec !== undefined && fromLoaded.path === toLoaded.path && from === to)
    throw usage(
      `--from and --to are both ${to} of ${toLoaded.shown}`,
      "A promotion copies a version between two environments.",
    );
  const aws = {
    ...(typeof values.profile === "string" ? { profile: values.profile } : {}),
    ...(typeof values["endpoint-url"] === "string" ? { endpointUrl: values["endpoint-url"] } : {}),
  };
  const { openEndpoint } = await import("../models/endpoints.ts");
  const { promoteModel, DestinationError, PlanError } = await import("../models/execute.ts");
  const { formatPromoteReport } = await import("../models/report.ts");
  const source = await openEndpoint(fromLoaded, from, aws);
  try {
    const destination = await openEndpoint(toLoaded, to, aws);
    try {
      const p = progress();
      const report = await promoteModel({
        // Lineage names an environment by its spec's name too: "tracking/local".
        from: { environment: `${fromLoaded.spec.name}/${from}`, client: source.client },
        to: { environment: `${toLoaded.spec.name}/${to}`, client: destination.client },
        name,
        ref: version !== undefined ? { version } : { alias: alias ?? "" },
        ...(typeof values["set-alias"] === "string" ? { setAlias: values["set-alias"] } : {}),
        dryRun: values["dry-run"] === true,
        progress: (line) => p.line(`  ${line}\n`),
      });
      process.stdout.write(global.json ? `${JSON.stringify(report, null, 2)}\n` : formatPromoteReport(report));
      return report.outcome === "verification-failed" ? EXIT.failed : EXIT.ok;
    } catch (e) {
      if (e instanceof PlanError)
        throw new UserError(`models promote: ${e.message}`, { exitCode: EXIT.invalidInput, hint: e.hint });
      if (e instanceof DestinationError)
        throw new UserError(`models promote: ${e.message}. Nothing was written`, {
          exitCode: e.invalidInput ? EXIT.invalidInput : EXIT.failed,
          hint: e.hint,
        });
      const { MlflowRestError, TransportError } = await import("@mlflow-dev/mlflow-client");
      if (e instanceof MlflowRestError || e instanceof TransportError)
        throw new UserError(`models promote: ${e.message}`, {
          exitCode: EXIT.failed,
          hint: "No version was registered. Run the same command again: it finds the interrupted copy and completes it.",
        });
      throw e;
    } finally {
      destination.close();
    }
  } finally {
    source.close();
  }
}
