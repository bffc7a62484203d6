import { SERVICE } from "@mlflow-dev/compose";
import { type GcReport, gcArgv, oneOffCommand, parseGcReport } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";
import { withSpecFlag } from "../spec-file.ts";
import { refuseAwsFlags, withAws } from "./aws-common.ts";

/**
 * `gc [--env <name>] [--dry-run]`: MLflow's garbage collection of runs and experiments deleted
 * more than gc.olderThanDays ago, through exec's one-off path (spec/gc-command.ts), with a report
 * of what was found and what is gone (rows counted in PostgreSQL, objects listed in the bucket).
 */

export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("gc", argv);
  const dryRun = values["dry-run"] === true;
  const json = global.json;
  let report: GcReport | undefined;
  // The program's own lines are progress (stderr); its report line is parsed.
  const onLine = (line: string) => {
    const parsed = parseGcReport(line);
    if (parsed) report = parsed;
    else process.stderr.write(`  ${line}\n`);
  };
  const finish = (exitCode: number): number => {
    if (!report)
      throw new UserError(`gc: the gc task ended (exit ${exitCode}) without its report`, {
        exitCode: EXIT.failed,
        hint: "Its output is above; nothing is known to be removed.",
      });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatGcReport(report));
    return exitCode === 0 ? EXIT.ok : EXIT.failed;
  };
  if (typeof values.env === "string" && values.env !== "local")
    return withAws("gc", argv, async ({ deploy, model, clients, waits, report: progress }) => {
      progress.step(
        `${dryRun ? "counting" : "collecting"} runs and experiments deleted over ${model.gc.olderThanDays} day(s) ago`,
      );
      const result = await deploy.runOneOffTask(model, clients, gcArgv(model.gc.olderThanDays, dryRun), {
        wait: { pollMs: waits.pollMs, timeoutMs: waits.taskTimeoutMs, clock: deploy.realClock },
        onLine,
        onStatus: (line) => progress.info(line),
      });
      return finish(result.exitCode);
    });
  refuseAwsFlags("gc", values);
  const ctx = await localContext(global.file);
  try {
    const services = await ctx.runtime.localStackStatus({ model: ctx.model, docker: ctx.docker });
    if (services.find((s) => s.service === SERVICE.postgres)?.state !== "running")
      throw new UserError(
        withSpecFlag(
          "gc: the local stack's database is not running: start the stack with `mlflow-dev up`",
          global.file,
        ),
        { exitCode: EXIT.failed },
      );
    const { DockerComposeCli, stackPaths, projectName } = ctx.runtime;
    const compose = new DockerComposeCli({ ...stackPaths(ctx.stateDir), projectName: projectName(ctx.model) });
    const code = await compose.run({
      service: SERVICE.mlflow,
      command: oneOffCommand(ctx.model.mlflow.server, gcArgv(ctx.model.gc.olderThanDays, dryRun)),
      tty: false,
      onLine,
    });
    return finish(code);
  } catch (e) {
    if (e instanceof ctx.runtime.ComposeCommandError)
      throw new UserError(e.message, {
        hint: "Install the Docker CLI with its compose plugin (`docker compose version` answers once it is).",
      });
    throw asUserError(e, global.file);
  }
}

/** The report as text (pure). */
export function formatGcReport(r: GcReport): string {
  const verb = r.dryRun ? "would remove" : "removed";
  const n = (found: number, removed: number) => (r.dryRun ? `${found}` : `${removed} of ${found}`);
  const lines = [
    `gc (${r.dryRun ? "dry run: nothing removed" : "mlflow gc"}): runs and experiments deleted before ${r.cutoff} (gc.olderThanDays: ${r.olderThanDays})`,
    `  runs:             ${n(r.runs.found, r.runs.removed)}`,
    `  experiments:      ${n(r.experiments.found, r.experiments.removed)}`,
    `  artifact objects: ${n(r.artifactObjects.found, r.artifactObjects.removed)}`,
    `  bytes:            ${r.dryRun ? r.bytes.found : `${r.bytes.freed} of ${r.bytes.found}`} ${verb === "removed" ? "freed" : "to free"}`,
  ];
  if (r.gcExitCode !== undefined && r.gcExitCode !== 0)
    lines.push(`mlflow gc exited ${r.gcExitCode}: what it did not remove stays (see its output above)`);
  return `${lines.join("\n")}\n`;
}
