import { AWS_LOG_SERVICES, type AwsLogService } from "@mlflow-dev/aws";
import type { LogLine } from "@mlflow-dev/aws/deploy";
import { AUTH_ADMIN_USER, gcArgv, nearest } from "@mlflow-dev/spec";
import { type AwsCommandContext, type ParsedArgs, withAwsContext } from "../commands/aws-common.ts";
import { EXIT, UserError } from "../errors.ts";
import { withSpecFlag } from "../spec-file.ts";
import { formatAwsBackup, formatAwsRestore, formatEnvironmentStatus } from "./report-text.ts";
import type { LogsOptions, OpenTarget, ServiceRuntime, Verb } from "./runtime.ts";

/** What the local services without a log on AWS are there. */
const NOT_ON_AWS: Readonly<Record<string, string>> = {
  postgres: "the database is an RDS instance on AWS: its logs are RDS's (aws rds describe-db-log-files)",
  minio: "artifacts are in S3 on AWS, which writes no service log",
  network: "the local stack's network holder has no counterpart on AWS",
};

/** How often `logs --env --follow` asks CloudWatch Logs for new events. */
const FOLLOW_INTERVAL_MS = 2000;

/**
 * An AWS environment of the spec (`--env <name>`), through aws/deploy. Each verb builds its
 * context (spec, Model, SDK clients: aws-common.ts), closes the clients when done, and turns
 * deploy errors into UserErrors.
 */
export function awsRuntime(environment: string, args: ParsedArgs): ServiceRuntime {
  const withAws = <T>(verb: Verb, fn: (ctx: AwsCommandContext) => Promise<T>) => withAwsContext(verb, args, fn);

  /** The message for a verb that needs a deployed stack and found none. */
  const nothingDeployed = (verb: Verb, { model, loaded }: AwsCommandContext, hint: string) =>
    new UserError(
      withSpecFlag(
        `${verb}: nothing deployed for ${model.environment}: run \`mlflow-dev promote --env ${model.environment}\``,
        loaded.shown,
      ),
      { exitCode: EXIT.failed, hint },
    );

  /** A one-off task from the running task definition, its progress on stderr. */
  const oneOff = (ctx: AwsCommandContext, command: string[], onLine: (line: string) => void) => {
    const { deploy, model, engine, waits, report } = ctx;
    return deploy.runOneOffTask(model, engine, command, {
      wait: { pollMs: waits.pollMs, timeoutMs: waits.taskTimeoutMs, clock: deploy.realClock },
      onLine,
      onStatus: (line) => report.info(line),
    });
  };

  return {
    kind: "aws",
    environment,

    status: () =>
      withAws("status", async (ctx) => {
        const { deploy, model, engine } = ctx;
        const status = await deploy.readEnvironmentStatus(model, engine);
        if (!status)
          throw nothingDeployed(
            "status",
            ctx,
            `There is no stack ${(await import("@mlflow-dev/aws")).stackName(model)} in ${model.target.region} of this account.`,
          );
        return {
          json: status,
          text: formatEnvironmentStatus(status),
          exitCode: status.healthy ? EXIT.ok : EXIT.failed,
        };
      }),

    async logs(options) {
      const known = Object.keys(AWS_LOG_SERVICES);
      const { service } = options;
      if (service !== undefined && NOT_ON_AWS[service] !== undefined)
        throw new UserError(`logs: no "${service}" logs for ${environment}: ${NOT_ON_AWS[service]}`, {
          exitCode: EXIT.invalidInput,
          hint: `Services on AWS: ${known.join(", ")} (every one when none is named).`,
        });
      if (service !== undefined && !known.includes(service)) {
        const guess = nearest(service, known);
        throw new UserError(`logs: unknown service "${service}"${guess ? `; did you mean "${guess}"?` : ""}`, {
          exitCode: EXIT.invalidInput,
          hint: `Services on AWS: ${known.join(", ")}`,
        });
      }
      return withAws("logs", (ctx) => awsLogs(ctx, options));
    },

    open: () =>
      withAws("open", async (ctx) => {
        const { deploy, model, engine } = ctx;
        const { OutputName, stackName } = await import("@mlflow-dev/aws");
        const stack = await engine.describeStack(stackName(model));
        const url = stack?.outputs[OutputName.serviceUrl];
        if (!stack || !url)
          throw nothingDeployed(
            "open",
            ctx,
            stack
              ? `The stack ${stack.name} is ${stack.status} and has no ServiceUrl output yet.`
              : `There is no stack ${stackName(model)} in ${model.target.region} of this account.`,
          );
        const target: OpenTarget = {
          environment: model.environment,
          url,
          auth: model.mlflow.auth,
          ...(model.mlflow.auth === "basic"
            ? {
                credentials: {
                  kind: "secrets-manager",
                  secret: deploy.authSecretName(model) ?? "",
                  region: model.target.region,
                  username: AUTH_ADMIN_USER,
                },
              }
            : {}),
        };
        return target;
      }),

    exec: (command) =>
      withAws("exec", async (ctx) => {
        ctx.report.step(`running \`${command.join(" ")}\` as a one-off task`);
        const result = await oneOff(ctx, [...command], (line) => process.stdout.write(`${line}\n`));
        ctx.report.info(`exit code ${result.exitCode}`);
        return result.exitCode;
      }),

    gc: ({ dryRun, onLine }) =>
      withAws("gc", async (ctx) => {
        const days = ctx.model.gc.olderThanDays;
        ctx.report.step(`${dryRun ? "counting" : "collecting"} runs and experiments deleted over ${days} day(s) ago`);
        return (await oneOff(ctx, gcArgv(days, dryRun), onLine)).exitCode;
      }),

    async backup({ out }) {
      if (out !== undefined)
        throw new UserError(`backup: --out is for a local backup; --env ${environment} takes an RDS snapshot`, {
          exitCode: EXIT.invalidInput,
          hint: `Run mlflow-dev backup --env ${environment} without --out. Nothing was changed.`,
        });
      return withAws("backup", async ({ deploy, model, engine, report, waits }) => {
        const r = await deploy.backupAws(model, engine, { report, waits });
        return { json: r, text: formatAwsBackup(model, r), exitCode: EXIT.ok };
      });
    },

    async restore({ dir, force, snapshot }) {
      if (dir)
        throw new UserError(`restore: a backup directory (${dir}) is for the local stack, not --env ${environment}`, {
          exitCode: EXIT.invalidInput,
          hint: `Example: mlflow-dev restore --env ${environment} --snapshot <RDS snapshot id>`,
        });
      return withAws("restore", async ({ deploy, model, engine, report, waits, loaded }) => {
        if (force)
          throw new UserError(
            "restore: --force is for a local restore; an AWS restore always swaps in a new database",
            {
              exitCode: EXIT.invalidInput,
              hint: "Leave --force out. The database it replaces is kept as a snapshot. Nothing was changed.",
            },
          );
        if (snapshot === undefined || snapshot === "")
          throw new UserError(`restore ${model.environment}: --snapshot <RDS snapshot id> is required`, {
            exitCode: EXIT.invalidInput,
            hint: `mlflow-dev backup --env ${model.environment} takes one; destroy keeps a final one. Nothing was changed.`,
          });
        const r = await deploy.restoreAws(model, engine, { report, waits, specDir: loaded.dir, snapshot });
        return { json: r, text: formatAwsRestore(model, r), exitCode: EXIT.ok };
      });
    },
  };
}

/** `logs --env <aws env>`: the tasks' CloudWatch Logs, printed as compose prints the local ones. */
async function awsLogs({ deploy, model, engine }: AwsCommandContext, options: LogsOptions): Promise<number> {
  const service = options.service as AwsLogService | undefined;
  const sources = await deploy.logSources(model, engine, service ? [service] : undefined);
  const lines = deploy.tailLines(await deploy.readLogLines(engine, sources, options.since?.startMs), options.tail);
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
    await deploy.followLogLines(engine, sources, {
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
