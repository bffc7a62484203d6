import type { PromoteReport } from "./execute.ts";

/** The text `models promote` prints (pure). */
export function formatPromoteReport(r: PromoteReport): string {
  const lines: string[] = [];
  const what = `${r.model} version ${r.sourceVersion} of ${r.from}`;
  switch (r.outcome) {
    case "already-promoted":
      lines.push(
        `${what}: already promoted as version ${r.version} in ${r.to} (digest ${r.digest.slice(0, 12)}); nothing copied`,
      );
      if (r.writes > 0) lines.push(`  set alias ${r.alias} -> version ${r.version}`);
      break;
    case "dry-run":
      lines.push(`${what} -> ${r.to}: dry run, nothing written. The plan:`);
      for (const s of r.steps) lines.push(`  ${s}`);
      if (r.version) lines.push(`  (already promoted as version ${r.version})`);
      break;
    case "promoted":
      lines.push(
        `${what} -> ${r.to}: promoted as version ${r.version} (run ${r.runId}${r.modelId ? `, logged model ${r.modelId}` : ""})`,
      );
      if (r.copied)
        lines.push(
          `  copied ${r.copied.params} params, ${r.copied.tags} tags, ${r.copied.metricPoints} metric points, ${r.copied.datasets} dataset input(s), ${r.copied.files} files (${r.copied.bytes} bytes), verified by sha256`,
        );
      if (r.alias) lines.push(`  alias ${r.alias} -> version ${r.version}`);
      break;
    case "verification-failed":
      lines.push(
        `${what} -> ${r.to}: the copy did not verify; no version was registered (run ${r.runId} tagged failed-verification)`,
      );
      for (const p of r.problems) lines.push(`  ${p}`);
      break;
  }
  if (r.notPreserved.length && r.outcome !== "already-promoted") {
    lines.push("  not preserved exactly:");
    for (const n of r.notPreserved) lines.push(`    ${n}`);
  }
  return `${lines.join("\n")}\n`;
}
