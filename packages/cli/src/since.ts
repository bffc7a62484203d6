import { EXIT, UserError } from "./errors.ts";

/**
 * `--since` of `logs`, the same on both runtimes: a duration back from now (`30s`, `10m`,
 * `1h30m`, `2d`) or a point in time (`2026-12-07`, `2026-12-07T09:30:00Z`, with an offset or
 * without one, read as UTC). Pure: the caller passes the time it is now.
 */
export interface Since {
  /** The first moment wanted, in milliseconds since the epoch (CloudWatch Logs' startTime). */
  startMs: number;
  /** The same for `docker compose logs --since`: a Go duration in seconds, or an RFC 3339 time. */
  compose: string;
}

const UNIT_MS: Readonly<Record<string, number>> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

export function parseSince(value: string, nowMs: number, command = "logs"): Since {
  const v = value.trim();
  const d = DURATION.exec(v);
  if (v !== "" && d) {
    const ms = [d[1], d[2], d[3], d[4]].reduce(
      (sum, n, i) => sum + Number(n ?? 0) * UNIT_MS[["d", "h", "m", "s"][i]!]!,
      0,
    );
    return { startMs: nowMs - ms, compose: `${ms / 1000}s` };
  }
  if (DATE.test(v) || TIME.test(v)) {
    const iso = DATE.test(v) ? `${v}T00:00:00Z` : TIME.exec(v)?.[1] ? v.replace(" ", "T") : `${v.replace(" ", "T")}Z`;
    const ms = Date.parse(iso);
    if (!Number.isNaN(ms)) return { startMs: ms, compose: new Date(ms).toISOString() };
  }
  throw new UserError(`${command}: --since "${value}" is neither a duration nor a date and time`, {
    exitCode: EXIT.invalidInput,
    hint: "Give a duration back from now in days, hours, minutes and seconds (30s, 10m, 1h30m, 2d), or a UTC time (2026-12-07T09:30:00Z).",
  });
}
