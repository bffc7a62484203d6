/**
 * `gc.schedule`: when an AWS environment runs `gc` by itself, as an EventBridge Scheduler
 * expression (UTC). Pure: the grammar the schema checks, and how often a valid expression runs
 * (what `plan --cost` counts). Two forms, as EventBridge Scheduler writes them:
 *
 * - `rate(<n> <unit>)`: every n minutes, hours or days (the unit singular for 1: `rate(1 day)`,
 *   `rate(12 hours)`);
 * - `cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)`: six fields, one of the
 *   two day fields `?` (for example `cron(0 3 * * ? *)`, every day at 03:00 UTC).
 *
 * A one-time `at(...)` is refused (it is not a schedule), and so is anything more often than once
 * an hour: each run is a Fargate task that takes minutes, and runs would overlap.
 */

/** An example of each form, for error messages and documentation. */
export const GC_SCHEDULE_EXAMPLES = { rate: "rate(1 day)", cron: "cron(0 3 * * ? *)" } as const;

const MINUTES_PER_UNIT = { minute: 1, hour: 60, day: 1440 } as const;
type RateUnit = keyof typeof MINUTES_PER_UNIT;

/** The shortest interval between two runs the spec may ask for (minutes). */
export const GC_SCHEDULE_MIN_INTERVAL_MINUTES = 60;

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface CronField {
  name: string;
  min: number;
  max: number;
  /** Three-letter names the field takes (1-based: JAN is 1, SUN is 1). */
  names?: readonly string[];
}

const CRON_FIELDS: readonly CronField[] = [
  { name: "minutes", min: 0, max: 59 },
  { name: "hours", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day-of-week", min: 1, max: 7, names: DAYS },
  { name: "year", min: 1970, max: 2199 },
];

const HOW_TO_FIX = `Use rate(<n> minutes|hours|days), such as ${GC_SCHEDULE_EXAMPLES.rate}, or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) with ? in one day field, such as ${GC_SCHEDULE_EXAMPLES.cron} (03:00 UTC every day)`;

/** A parsed schedule: how many minutes apart its runs are (rate), or its cron fields. */
export type GcSchedule =
  | { kind: "rate"; value: number; unit: RateUnit; minutes: number }
  | { kind: "cron"; fields: readonly string[] };

/** The expression parsed, or the reason it is not a valid gc schedule (what is wrong and how to fix it). */
export function parseGcSchedule(
  expression: string,
): { ok: true; schedule: GcSchedule } | { ok: false; message: string } {
  const fail = (why: string) => ({ ok: false as const, message: `${why}. ${HOW_TO_FIX}` });
  const text = expression.trim();
  if (text !== expression) return fail(`"${expression}" has spaces around it`);
  if (/^at\(/.test(text))
    return fail(
      `"${text}" runs once (at): gc.schedule is a recurring schedule; run \`mlflow-dev gc --env <name>\` for one run`,
    );
  const rate = /^rate\((.*)\)$/.exec(text);
  if (rate) return parseRate(rate[1] ?? "", fail);
  const cron = /^cron\((.*)\)$/.exec(text);
  if (cron) return parseCron(cron[1] ?? "", fail);
  return fail(`"${text}" is neither rate(...) nor cron(...)`);
}

function parseRate(body: string, fail: (why: string) => { ok: false; message: string }) {
  const m = /^([1-9][0-9]{0,5}) (minutes?|hours?|days?)$/.exec(body);
  if (!m) return fail(`rate(${body}) is not "<positive whole number> <unit>"`);
  const value = Number(m[1]);
  const word = m[2] ?? "";
  const unit = word.replace(/s$/, "") as RateUnit;
  if (value === 1 && word !== unit) return fail(`rate(${body}) needs the singular unit for 1: rate(1 ${unit})`);
  if (value !== 1 && word === unit) return fail(`rate(${body}) needs the plural unit: rate(${value} ${unit}s)`);
  const minutes = value * MINUTES_PER_UNIT[unit];
  if (minutes < GC_SCHEDULE_MIN_INTERVAL_MINUTES)
    return fail(
      `rate(${body}) runs gc more than once an hour: each run is a one-off Fargate task that takes minutes, and runs would overlap`,
    );
  return { ok: true as const, schedule: { kind: "rate" as const, value, unit, minutes } };
}

function parseCron(body: string, fail: (why: string) => { ok: false; message: string }) {
  const fields = body.split(" ");
  if (fields.length !== 6 || fields.some((f) => f === ""))
    return fail(
      `cron(${body}) has ${body.trim() === "" ? 0 : body.trim().split(/\s+/).length} fields, separated by single spaces; it needs 6`,
    );
  for (const [i, field] of CRON_FIELDS.entries()) {
    const problem = cronFieldProblem(fields[i] ?? "", field, i);
    if (problem) return fail(`cron(${body}): ${problem}`);
  }
  const dom = fields[2];
  const dow = fields[4];
  if ((dom === "?") === (dow === "?"))
    return fail(
      `cron(${body}): exactly one of day-of-month and day-of-week must be ?, the other says which days (* for every day)`,
    );
  if (!/^[0-9]+$/.test(fields[0] ?? ""))
    return fail(
      `cron(${body}) runs gc more than once an hour (minutes is "${fields[0]}"): give one minute, such as 0; each run is a one-off Fargate task that takes minutes, and runs would overlap`,
    );
  return { ok: true as const, schedule: { kind: "cron" as const, fields } };
}

/** What is wrong with one cron field, or undefined. */
function cronFieldProblem(text: string, field: CronField, index: number): string | undefined {
  const bad = `the ${field.name} field "${text}"`;
  const isDay = index === 2 || index === 4;
  if (text === "?") return isDay ? undefined : `${bad} cannot be ?: only day-of-month and day-of-week take ?`;
  if (index === 2 && /^(L|LW|([1-9]|[12][0-9]|3[01])W)$/.test(text)) return undefined;
  if (index === 4 && /^(L|[1-7]L|[1-7]#[1-5]|(SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5]))$/.test(text)) return undefined;
  const value = (v: string): number | undefined => {
    if (/^[0-9]+$/.test(v)) return Number(v);
    const named = field.names?.indexOf(v.toUpperCase()) ?? -1;
    return named >= 0 ? named + 1 : undefined;
  };
  for (const item of text.split(",")) {
    const [range = "", step, extra] = item.split("/");
    if (extra !== undefined || (step !== undefined && !/^[1-9][0-9]*$/.test(step)))
      return `${bad} has a bad step "${item}": use <start>/<step> with a positive step`;
    if (range === "*") continue;
    const ends = range.split("-");
    if (ends.length > 2) return `${bad} has a bad range "${range}"`;
    for (const end of ends) {
      const v = value(end);
      if (v === undefined || v < field.min || v > field.max)
        return `${bad} has "${end}", outside ${field.min}-${field.max}${field.names ? ` (or ${field.names[0]}-${field.names[field.names.length - 1]})` : ""}`;
    }
  }
  return undefined;
}

/** How many values a cron field takes (an estimate for L, W and #: one). */
function cronFieldCount(text: string, field: CronField): number {
  if (text === "*" || text === "?") return field.max - field.min + 1;
  let count = 0;
  for (const item of text.split(",")) {
    const [range = "", step = "1"] = item.split("/");
    if (/[LW#]/.test(range)) {
      count += 1;
      continue;
    }
    const at = (v: string) => (/^[0-9]+$/.test(v) ? Number(v) : (field.names?.indexOf(v.toUpperCase()) ?? 0) + 1);
    const [from, to] =
      range === "*"
        ? [field.min, field.max]
        : [
            at(range.split("-")[0] ?? ""),
            range.includes("-") || item.includes("/") ? at(range.split("-")[1] ?? String(field.max)) : at(range),
          ];
    count += Math.floor((to - from) / Number(step)) + 1;
  }
  return count;
}

/** About how many times a month a valid schedule runs (pure; 30.4 days a month). */
export function gcRunsPerMonth(schedule: GcSchedule): number {
  const daysPerMonth = 365 / 12;
  if (schedule.kind === "rate") return (daysPerMonth * 1440) / schedule.minutes;
  const [minutes = "", hours = "", dom = "", month = "", dow = ""] = schedule.fields;
  const [fMin, fHour, fDom, fMonth, fDow] = CRON_FIELDS as [CronField, CronField, CronField, CronField, CronField];
  const days =
    dom === "?" ? (cronFieldCount(dow, fDow) * daysPerMonth) / 7 : Math.min(cronFieldCount(dom, fDom), daysPerMonth);
  const months = cronFieldCount(month, fMonth) / 12;
  return cronFieldCount(minutes, fMin) * cronFieldCount(hours, fHour) * days * months;
}
