import type { AwsModel } from "@mlflow-dev/aws";
import { stepReporter } from "@mlflow-dev/kernel/progress";
import { parseCommandArgs, requireString } from "../args.ts";
import { findCommand } from "../command-table.js";
import { EXIT, UserError } from "../errors.ts";
import { deployImageOverride, type LoadedSpec, loadSpec, resolveAwsEnv } from "../load-spec.ts";
import { writeShippedContext } from "../shipped-image.ts";
import { withSpecFlag } from "../spec-file.ts";

/** What plan, promote, destroy and unlock share: flags, the spec, the Model, the AWS engine. */

/** The commands that run or show an image (the others leave MLFLOW_DEV_IMAGES unmentioned). */
const IMAGE_COMMANDS = new Set(["plan", "promote", "restore"]);

export type Deploy = typeof import("@mlflow-dev/aws/deploy");

export interface AwsCommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  json: boolean;
  loaded: LoadedSpec;
  model: AwsModel;
  deploy: Deploy;
  /** The SDK clients the engine holds (closed when the command ends). */
  clients: import("@mlflow-dev/aws/deploy").AwsClients;
  /** The AWS engine the operations take: built here, at the CLI's edge, and nowhere else. */
  engine: import("@mlflow-dev/aws/deploy").AwsEngine;
  report: import("@mlflow-dev/aws/deploy").Reporter;
  waits: import("@mlflow-dev/aws/deploy").DeployWaits;
}

/** A command's flags as parseCommandArgs reads them. */
export type ParsedArgs = Pick<ReturnType<typeof parseCommandArgs>, "values" | "global">;

/** An AWS command's context: its flags as the command table declares them, the spec, the Model, clients. */
export function awsCommand(command: string, argv: string[]): Promise<AwsCommandContext> {
  return awsContext(command, parseCommandArgs(command, argv));
}

/** awsCommand for flags already parsed. */
export async function awsContext(command: string, { values, global }: ParsedArgs): Promise<AwsCommandContext> {
  const env = requireString(values, "env", command);
  const loaded = loadSpec(global.file);
  if (env === "local")
    throw new UserError(`${command}: "local" is the Docker Compose stack, not an AWS environment`, {
      exitCode: EXIT.invalidInput,
      hint: "Use mlflow-dev up/down for the local stack, or pass --env with an AWS environment of the spec.",
    });
  const image = deployImageOverride();
  if (image.ignored && IMAGE_COMMANDS.has(command)) process.stderr.write(`note: ${image.ignored}\n`);
  const model = resolveAwsEnv(loaded, env, image.overrides);
  // plan tags and promote builds the default image from the shipped context, beside the spec.
  if (IMAGE_COMMANDS.has(command)) await writeShippedContext(loaded.dir, model.mlflow.image);
  const deploy = await import("@mlflow-dev/aws/deploy");
  const endpointUrl = deploy.endpointUrlFrom(values["endpoint-url"] as string | undefined);
  if (endpointUrl && !/^https?:\/\/[^/\s]+(\/\S*)?$/.test(endpointUrl))
    throw new UserError(
      `${command}: ${values["endpoint-url"] === undefined ? "AWS_ENDPOINT_URL" : "--endpoint-url"} "${endpointUrl}" is not an http(s) URL`,
      {
        exitCode: EXIT.invalidInput,
        hint: "Point it at an emulator, for example http://127.0.0.1:4566, or leave it unset to use AWS.",
      },
    );
  const target = model.target.kind === "aws" ? model.target : undefined;
  const report = stepReporter(`${command} ${env}`);
  const { clients, engine } = await openAwsEngine(
    deploy,
    { region: target?.region ?? "", profile: values.profile as string | undefined, endpointUrl },
    report,
  );
  return { values, json: global.json, loaded, model, deploy, clients, engine, report, waits: engine.waits };
}

/**
 * The one place the CLI opens AWS: the SDK clients for a region (a profile, an emulator's endpoint
 * or fixed credentials as given) and the engine on them, waiting as fits the endpoint. The caller
 * closes the clients (`deploy.destroyAwsClients`) when it is done. Every AWS command, `rehearse`
 * and `models promote` go through here.
 */
export async function openAwsEngine(
  deploy: Deploy,
  options: Parameters<Deploy["createAwsClients"]>[0],
  report: import("@mlflow-dev/aws/deploy").Reporter = stepReporter("aws"),
): Promise<{
  clients: import("@mlflow-dev/aws/deploy").AwsClients;
  engine: import("@mlflow-dev/aws/deploy").AwsEngine;
}> {
  const clients = await deploy.createAwsClients(options);
  const waits = deploy.defaultWaits(options.endpointUrl);
  return { clients, engine: deploy.createAwsEngine(clients, { report, waits }) };
}

/**
 * For a command with a local and an AWS form: its AWS-only flags (the command table's, but --env)
 * without an AWS --env are refused.
 */
export function refuseAwsFlags(command: string, values: Record<string, unknown>): void {
  const awsOnly = (findCommand(command)?.options ?? []).filter((o) => o.runtime === "aws" && o.name !== "env");
  for (const flag of awsOnly.map((o) => o.name))
    if (values[flag] !== undefined)
      throw new UserError(`${command}: --${flag} is for an AWS environment and needs --env <name>`, {
        exitCode: EXIT.invalidInput,
        hint: `Example: mlflow-dev ${command} --env staging --${flag} <value>. Nothing was changed.`,
      });
}

/** `--allow-replace Database --allow-replace ArtifactBucket` or `--allow-replace Database,ArtifactBucket`. */
export function allowReplaceOf(values: Record<string, unknown>): string[] {
  const v = values["allow-replace"];
  const list = Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
  return list
    .flatMap((s) => String(s).split(","))
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A DeployError as a UserError: `input` is exit 2 (nothing changed), anything else exit 1. */
export function asUserError(command: string, model: AwsModel, e: unknown, deploy?: Deploy, endpoint?: string): unknown {
  if (deploy?.isNetworkError(e))
    return new UserError(
      `${command} ${model.environment}: cannot reach ${endpoint ?? "AWS"}: ${(e as Error).message}. What was done before stays done`,
      {
        exitCode: EXIT.failed,
        hint: `Check the network${endpoint ? " and that the emulator is running" : ""}, then run the command again (a held deploy lock is released with mlflow-dev unlock --env ${model.environment}).`,
      },
    );
  // The AWS SDK's own class (@smithy/property-provider, not a dependency of the CLI): by its name.
  if (e instanceof Error && e.name === "CredentialsProviderError")
    return new UserError(`${command} ${model.environment}: no usable AWS credentials: ${e.message.split("\n")[0]}`, {
      exitCode: EXIT.invalidInput,
      hint: "Set AWS_PROFILE or pass --profile <name> (for SSO profiles run `aws sso login --profile <name>` first), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
    });
  // An answer from an AWS service the runner did not expect (access denied, throttling, ...).
  if (e instanceof Error && "$metadata" in e)
    return new UserError(`${command} ${model.environment}: AWS answered ${e.name}: ${e.message}`, {
      exitCode: EXIT.failed,
      hint: `Fix the cause, then run the command again (a held deploy lock is released with mlflow-dev unlock --env ${model.environment}).`,
    });
  if (deploy && e instanceof deploy.DeployError) {
    return new UserError(`${command} ${model.environment}: ${e.message}`, {
      exitCode: e.kind === "input" ? EXIT.invalidInput : EXIT.failed,
      ...(e.hint ? { hint: e.hint } : {}),
    });
  }
  return e;
}

/** Runs fn with the command's context, closing the AWS clients and mapping errors. */
export function withAws<T>(command: string, argv: string[], fn: (ctx: AwsCommandContext) => Promise<T>): Promise<T> {
  return withAwsContext(command, parseCommandArgs(command, argv), fn);
}

/** withAws for flags already parsed. */
export async function withAwsContext<T>(
  command: string,
  args: ParsedArgs,
  fn: (ctx: AwsCommandContext) => Promise<T>,
): Promise<T> {
  const ctx = await awsContext(command, args);
  try {
    return await fn(ctx);
  } catch (e) {
    const mapped = asUserError(command, ctx.model, e, ctx.deploy, ctx.clients.endpointUrl);
    // Every command a hint suggests works from here: with -f when the spec is not ./mlflow-dev.yaml.
    throw mapped instanceof UserError && mapped.hint !== undefined
      ? new UserError(mapped.message, { exitCode: mapped.exitCode, hint: withSpecFlag(mapped.hint, ctx.loaded.shown) })
      : mapped;
  } finally {
    ctx.deploy.destroyAwsClients(ctx.clients);
  }
}
