import type { LiveDifference } from "./compare.ts";
import type { WorkloadResults } from "./results.ts";

export interface LiveParityReport {
  local: { url: string; mlflowVersion: string | null; steps: number; incomplete: string[] };
  remote: { url: string; mlflowVersion: string | null; steps: number; incomplete: string[] };
  differences: LiveDifference[];
}

const VERSION_STEP = "server: GET /version (the MLflow version)";

/** Steps that did not run or failed in transport: the workload did not complete on that side. */
export function incompleteSteps(results: WorkloadResults): string[] {
  return results.steps
    .filter((s) => s.skipped !== undefined || s.failure !== undefined)
    .map((s) => `${s.step}: ${s.failure ?? s.skipped}`);
}

export function liveReport(
  local: WorkloadResults,
  remote: WorkloadResults,
  differences: LiveDifference[],
): LiveParityReport {
  const side = (r: WorkloadResults) => {
    const v = r.steps.find((s) => s.step === VERSION_STEP);
    return {
      url: r.target,
      mlflowVersion: v?.status === 200 && typeof v.value === "string" ? v.value : null,
      steps: r.steps.length,
      incomplete: incompleteSteps(r),
    };
  };
  return { local: side(local), remote: side(remote), differences };
}

function show(v: unknown): string {
  const s = typeof v === "string" ? v : v === undefined ? "(absent)" : JSON.stringify(v);
  return s.length <= 60 ? s : `${s.slice(0, 59)}…`;
}

/** The report as text: both servers, then every difference as step / path / local / remote. */
export function formatLiveReport(report: LiveParityReport): string {
  const lines = [
    "live parity: the same MLflow workload against both servers, results normalized",
    `  local   ${report.local.url}  MLflow ${report.local.mlflowVersion ?? "(unknown)"}  ${report.local.steps} steps`,
    `  remote  ${report.remote.url}  MLflow ${report.remote.mlflowVersion ?? "(unknown)"}  ${report.remote.steps} steps`,
    "",
  ];
  for (const [name, s] of [
    ["local", report.local],
    ["remote", report.remote],
  ] as const) {
    if (s.incomplete.length === 0) continue;
    lines.push(`the workload did not complete on the ${name} server (${s.incomplete.length} steps):`);
    for (const i of s.incomplete.slice(0, 10)) lines.push(`  ${i}`);
    if (s.incomplete.length > 10) lines.push(`  ... and ${s.incomplete.length - 10} more`);
    lines.push("");
  }
  if (report.differences.length === 0) lines.push("no differences");
  else {
    const rows = [
      ["STEP", "WHERE", "LOCAL", "REMOTE"],
      ...report.differences.map((d) => [d.step, d.path || "(step)", show(d.local), show(d.remote)]),
    ];
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
    for (const r of rows)
      lines.push(
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
          .join("  ")
          .trimEnd(),
      );
    lines.push("", `${report.differences.length} difference${report.differences.length === 1 ? "" : "s"}`);
  }
  return `${lines.join("\n")}\n`;
}
