import { formatTwinFidelity, TWIN_DOES_NOT_ENFORCE, TWIN_ENFORCES, type TwinBehaviour } from "../twin/fidelity.ts";

/** What a rehearsal did and found (pure data; `rehearse --json` prints it). */
export interface RehearsalResult {
  environment: string;
  verdict: "passed" | "failed";
  twin: { endpoint: string; image: string; started: boolean };
  /** What the rehearsal's copy of the spec changes for the twin (stand-ins, deletion protection). */
  changes: string[];
  staticParity: { drift: number };
  rollout: { ok: boolean; stack?: string; url?: string; cause?: string };
  liveParity?: { ok: boolean; differences: number; incomplete: number; report: string; recordings: string };
  /** What was removed afterwards, or kept with --keep. */
  teardown: string[];
  kept: boolean;
  enforced: readonly TwinBehaviour[];
  notEnforced: readonly TwinBehaviour[];
}

export function rehearsalVerdict(
  r: Pick<RehearsalResult, "staticParity" | "rollout" | "liveParity">,
): "passed" | "failed" {
  return r.staticParity.drift === 0 && r.rollout.ok && r.liveParity?.ok === true ? "passed" : "failed";
}

export const FIDELITY = { enforced: TWIN_ENFORCES, notEnforced: TWIN_DOES_NOT_ENFORCE } as const;

/**
 * The failed revision's cause from promote's error output: its `error:` line and what follows it
 * (the stopped tasks' reasons, the last log lines, the rollback), at most `max` lines.
 */
export function rolloutCause(stderr: string, max = 25): string {
  const lines = stderr.replace(/\r/g, "").split("\n");
  const start = lines.findIndex((l) => l.startsWith("error: "));
  const picked = (start >= 0 ? lines.slice(start) : lines.filter(Boolean).slice(-max)).slice(0, max);
  return picked.join("\n").trim();
}

export function formatRehearsal(r: RehearsalResult): string {
  const out: string[] = [];
  out.push(`rehearsal of ${r.environment} on the AWS twin (${r.twin.endpoint}): ${r.verdict.toUpperCase()}`);
  out.push(
    `  static parity:  ${r.staticParity.drift === 0 ? "no drift" : `${r.staticParity.drift} drift(s) (run mlflow-dev parity --env ${r.environment})`}`,
  );
  if (r.rollout.ok)
    out.push(`  rollout:        promoted to the twin, smoke test passed (${r.rollout.stack}, ${r.rollout.url})`);
  else {
    out.push("  rollout:        FAILED on the twin");
    for (const l of (r.rollout.cause ?? "").split("\n")) out.push(`    ${l}`);
  }
  if (r.liveParity)
    out.push(
      `  live parity:    ${r.liveParity.ok ? "no difference" : `${r.liveParity.differences} difference(s), ${r.liveParity.incomplete} incomplete step(s)`} between the local stack and the rehearsed service`,
      `                  report ${r.liveParity.report}`,
      `                  recordings ${r.liveParity.recordings}`,
    );
  else out.push("  live parity:    not run (no rehearsed service)");
  if (r.changes.length) {
    out.push("  for the twin, the rehearsal's copy of the spec changes:");
    for (const c of r.changes) out.push(`    - ${c}`);
  }
  out.push(r.kept ? "  kept for inspection (--keep):" : "  torn down:");
  for (const t of r.teardown) out.push(`    - ${t}`);
  out.push("", formatTwinFidelity("text"));
  return `${out.join("\n")}\n`;
}
