import { existsSync } from "node:fs";
import { AWS_LOG_SERVICES, type AwsLogService } from "@mlflow-dev/aws";
import type { LogLine } from "@mlflow-dev/aws/deploy";
import { SERVICE } from "@mlflow-dev/compose";
import { nearest } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";
import { parseSince, type Since } from "../since.ts";
import { type AwsCommandContext, refuseAwsFlags, withAws } from "./aws-common.ts";

/** The services `logs` takes: every service of the local stack. */
export const LOG_SERVICES: readonly string[] = Object.values(SERVICE);

/**
 * `-f` is the spec file in every command, but `docker compose logs -f` follows: in `logs`, a `-f`
 * that ends the arguments, comes before another flag, or comes before a service name (that is no
 * file here) means --follow, as compose users type it. `-f <file>` still names the spec.
 */
export function followShorthand(argv: readonly string[], isFile: (p: string) => boolean = existsSync): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (a === "-f" && (next === undefined || next.startsWith("-") || (LOG_SERVICES.includes(next) && !isFile(next))))
      out.push("--follow");
    else out.push(a);
  }
  return out;
}

/** --tail: a whole number of lines, or `all` (as compose takes it). */
export function parseTail(value: string): number | "all" {
  if (value === "all") return "all";
  if (/^\d+$/.test(value)) return Number(value);
  throw new UserError(`logs: --tail must be a whole number of lines or "all", not "${value}"`, {
    exitCode: EXIT.invalidInput,
    hint: "Example: mlflow-dev logs mlflow --tail 100",
  });
}

/** The services `logs --env <aws env>` reads, and what the other local services are on AWS. */
const NOT_ON_AWS: Readonly<Record<string, string>> = {
  postgres: "the database is an RDS instance on AWS: its logs are RDS's (aws rds describe-db-log-files)",
  minio: "artifacts are in S3 on AWS, which writes no service log",
  network: "the local stack's network holder has no counterpart on AWS",
};

export async function run(argv: string[]): Promise<number> {
  const args = followShorthand(argv);
  const { values, positionals, global } = parseCommandArgs("logs", args);
  const aws = typeof values.env === "string" && values.env !== "local";
  const known = aws ? Object.keys(AWS_LOG_SERVICES) : LOG_SERVICES;
  const service = positionals[0];
  if (service !== undefined && aws && NOT_ON_AWS[service] !== undefined)
    throw new UserError(`logs: no "${service}" logs for ${values.env}: ${NOT_ON_AWS[service]}`, {
      exitCode: EXIT.invalidInput,
      hint: `Services on AWS: ${known.join(", ")} (every one when none is named).`,
    });
  if (service !== undefined && !known.includes(service)) {
    const guess = nearest(service, [...known]);
    throw new UserError(`logs: unknown service "${service}"${guess ? `; did you mean "${guess}"?` : ""}`, {
      exitCode: EXIT.invalidInput,
      hint: `Services${aws ? " on AWS" : ""}: ${known.join(", ")}`,
    });
  }
  const tail = typeof values.tail === "string" ? parseTail(values.tail) : undefined;
  const since = typeof values.since === "string" ? parseSince(values.since, Date.now()) : undefined;
  const timestamps = values.timestamps === true;
  const follow = values.follow === true;
  if (aws)
    return withAws("logs", args, (ctx) =>
      awsLogs(ctx, { ...(service ? { service: service as AwsLogService } : {}), tail, since, timestamps, follow }),
    );
  refuseAwsFlags("logs", values);
  const ctx = await localContext(global.file);
  const { DockerComposeCli, stackPaths, projectName } = ctx.runtime;
  const compose = new DockerComposeCli({ ...stackPaths(ctx.stateDir), projectName: projectName(ctx.model) });
  try {
    const code = await compose.logs({
      ...(service ? { service } : {}),
      follow,
      ...(tail !== undefined ? { tail } : {}),
      ...(since ? { since: since.compose } : {}),
      timestamps,
    });
    return code === 0 ? EXIT.ok : EXIT.failed;
  } catch (e) {
    if (e instanceof ctx.runtime.ComposeCommandError)
      throw new UserError(e.message, {
        hint: "Install the Docker CLI with its compose plugin (`docker compose version` answers once it is).",
      });
    throw asUserError(e, global.file);
  }
}

/** How often `logs --env --follow` asks CloudWatch Logs for new events. */
const FOLLOW_INTERVAL_MS = 2000;

/** `logs --env <aws env>`: the tasks' CloudWatch Logs, printed as compose prints the local ones. */
async function awsLogs(
  { deploy, model, clients }: AwsCommandContext,
  options: {
    service?: AwsLogService;
    tail: number | "all" | undefined;
    since: Since | undefined;
    timestamps: boolean;
    follow: boolean;
  },
): Promise<number> {
  const sources = await deploy.logSources(model, clients, options.service ? [options.service] : undefined);
  const lines = deploy.tailLines(
    await deploy.readLogLines(clients.logs, sources, options.since?.startMs),
    options.tail,
  );
  const print = (batch: LogLine[]) => {
    if (batch.length > 0)
      process.stdout.write(
        `${batch.map((l) => deploy.formatLogLine(l, { timestamps: options.timestamps, width: 15 })).join("\n")}\n`,
      );
  };
  print(lines);
  if (!options.follow) return EXIT.ok;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await deploy.followLogLines(clients.logs, sources, {
      clock: deploy.realClock,
      intervalMs: FOLLOW_INTERVAL_MS,
      signal: stop.signal,
      fromMs: options.since?.startMs ?? Date.now(),
      shown: lines,
      onLines: print,
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return EXIT.ok;
}
