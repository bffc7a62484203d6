import type { Difference, StaticParityReport } from "./compare.ts";

function clip(s: string | null, width: number): string {
  const v = (s ?? "(absent)").replaceAll("\n", "\\n");
  return v.length <= width ? v : `${v.slice(0, width - 1)}…`;
}

function table(rows: string[][], widths: number[]): string {
  return rows
    .map((cells) =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The report as a readable table (drift first), then the reasons of the declared differences. */
export function formatStaticReport(report: StaticParityReport, options: { width?: number } = {}): string {
  const env = report.environment;
  const valueWidth = Math.max(24, Math.floor(((options.width ?? 140) - 52) / 2));
  const rows: string[][] = [["SETTING", "LOCAL", env.toUpperCase(), "VERDICT"]];
  const add = (d: Difference, verdict: string) =>
    rows.push([d.setting, clip(d.local, valueWidth), clip(d.remote, valueWidth), verdict]);
  for (const d of report.drift) add(d, "DRIFT");
  report.declared.forEach((d, i) => {
    add(d, `declared [${i + 1}]${d.declaredBy === "spec" ? " (spec)" : ""}`);
  });
  const widths = [0, 1, 2].map((col) => Math.max(...rows.map((r) => (r[col] ?? "").length)));
  const lines = [
    `static parity: local vs ${env} (compose mlflow service vs ECS container definition)`,
    "",
    table(rows, widths),
    "",
  ];
  if (report.declared.length > 0) {
    lines.push("declared differences:");
    report.declared.forEach((d, i) => {
      lines.push(`  [${i + 1}] ${d.setting}: ${d.reason}${d.declaredBy === "spec" ? " (parity.declared)" : ""}`);
    });
    lines.push("");
  }
  for (const u of report.unusedDeclarations)
    lines.push(`note: parity.declared lists ${u.setting}, but it does not differ: remove the entry`);
  if (report.unusedDeclarations.length > 0) lines.push("");
  lines.push(
    `${report.compared} settings compared: ${report.same.length} identical, ${report.declared.length} declared, ${report.drift.length} drift`,
  );
  if (report.drift.length > 0)
    lines.push(
      `drift: make the setting the same on both sides, or declare it in the spec with a reason:\n  parity:\n    declared:\n      - setting: ${report.drift[0]?.setting}\n        reason: <why local and ${env} differ>`,
    );
  return `${lines.join("\n")}\n`;
}
