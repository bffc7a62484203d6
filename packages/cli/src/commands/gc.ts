import { type GcReport, parseGcReport } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { type RuntimeFor, runtimeFor } from "../runtimes/runtime.ts";

/**
 * `gc [--env <name>] [--dry-run]`: MLflow's garbage collection of runs and experiments deleted
 * more than gc.olderThanDays ago, through exec's one-off path (spec/gc-command.ts), with a report
 * of what was found and what is gone (rows counted in PostgreSQL, objects listed in the bucket).
 */

export async function run(argv: string[], runtimes: RuntimeFor = runtimeFor): Promise<number> {
  const { values, global } = parseCommandArgs("gc", argv);
  let report: GcReport | undefined;
  // The program's own lines are progress (stderr); its report line is parsed.
  const onLine = (line: string) => {
    const parsed = parseGcReport(line);
    if (parsed) report = parsed;
    else process.stderr.write(`  ${line}\n`);
  };
  const exitCode = await runtimes({ values, global }).gc({ dryRun: values["dry-run"] === true, onLine });
  if (!report)
    throw new UserError(`gc: the gc task ended (exit ${exitCode}) without its report`, {
      exitCode: EXIT.failed,
      hint: "Its output is above; nothing is known to be removed.",
    });
  process.stdout.write(global.json ? `${JSON.stringify(report, null, 2)}\n` : formatGcReport(report));
  return exitCode === 0 ? EXIT.ok : EXIT.failed;
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
