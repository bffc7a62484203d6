import type { StepResult, WorkloadResults } from "./results.ts";

/**
 * Normalization and comparison of two workload recordings. Pure: the same two recordings always
 * give the same differences. The rules, each a known source of harmless variation:
 *
 * 1. the run's token (in every name the workload created) becomes `<token>`;
 * 2. ids (experiment_id, run_id, run_uuid, experiment_ids) become `<experiment:N>` / `<run:N>`,
 *    numbered in order of first appearance, also where they are path segments of a URI
 *    (artifact_uri, artifact_location, root_uri, source, ...);
 * 3. server-assigned times (keys ending in `time` or `timestamp`) become `<time>`; the times the
 *    workload sets itself (start_time, end_time, a metric's timestamp) are compared as they are;
 * 4. user_id becomes `<user>` (each side may log in as another user);
 * 5. a non-empty next_page_token becomes `<page-token>` (opaque, encodes ids);
 * 6. unordered collections are sorted: lists of {key}, {alias}, {path} objects (params, metrics,
 *    tags, aliases, artifact listings). Search results keep their order (ordering is compared).
 *
 * Everything else is compared as is: HTTP status, MLflow error_code, values, and the order of
 * search results.
 */

export interface LiveDifference {
  step: string;
  /** JSON path inside the step's recorded value (`status`, `errorCode`, `value.run.info.status`, ...). */
  path: string;
  local: unknown;
  remote: unknown;
}

const ID_KEYS: Record<string, "experiment" | "run"> = {
  experiment_id: "experiment",
  experiment_ids: "experiment",
  run_id: "run",
  run_uuid: "run",
};
/** A string with a URI scheme (mlflow-artifacts:/, s3://, runs:/, models:/, http://, ...). */
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const TIME_KEY = /(time|timestamp)$/i;
const CLIENT_TIME_KEYS = new Set(["start_time", "end_time", "timestamp"]);
const UNORDERED_BY = ["key", "alias", "path"] as const;

class IdTable {
  readonly #ids = new Map<string, string>();
  readonly #count = { experiment: 0, run: 0 };
  add(kind: "experiment" | "run", id: string): void {
    if (id === "" || this.#ids.has(id)) return;
    this.#count[kind] += 1;
    this.#ids.set(id, `<${kind}:${this.#count[kind]}>`);
  }
  get(id: string): string | undefined {
    return this.#ids.get(id);
  }
}

function collectIds(value: unknown, table: IdTable, key?: string): void {
  if (Array.isArray(value)) {
    for (const v of value) collectIds(v, table, key);
    return;
  }
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) collectIds(v, table, k);
    return;
  }
  const kind = key ? ID_KEYS[key] : undefined;
  if (kind && (typeof value === "string" || typeof value === "number")) table.add(kind, String(value));
}

function replaceToken(s: string, token: string): string {
  return token ? s.replaceAll(token, "<token>") : s;
}

function normalizeValue(value: unknown, table: IdTable, token: string, key?: string): unknown {
  if (Array.isArray(value)) {
    const items = value.map((v) => normalizeValue(v, table, token, key));
    return sortUnordered(items);
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalizeValue(v, table, token, k);
    return out;
  }
  if (key && ID_KEYS[key] && (typeof value === "string" || typeof value === "number"))
    return table.get(String(value)) ?? value;
  if (
    key &&
    TIME_KEY.test(key) &&
    !CLIENT_TIME_KEYS.has(key) &&
    (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value)))
  )
    return "<time>";
  if (key === "user_id" && typeof value === "string") return "<user>";
  if (key === "next_page_token" && typeof value === "string" && value !== "") return "<page-token>";
  if (typeof value === "string") {
    let s = replaceToken(value, token);
    if (URI.test(s))
      s = s
        .split("/")
        .map((seg) => table.get(seg) ?? seg)
        .join("/");
    return s;
  }
  return value;
}

function sortUnordered(items: unknown[]): unknown[] {
  if (items.length < 2) return items;
  for (const field of UNORDERED_BY) {
    if (
      items.every(
        (i) => i !== null && typeof i === "object" && typeof (i as Record<string, unknown>)[field] === "string",
      )
    )
      return [...items].sort((a, b) => {
        const x = (a as Record<string, string>)[field] ?? "";
        const y = (b as Record<string, string>)[field] ?? "";
        return x < y ? -1 : x > y ? 1 : JSON.stringify(a) < JSON.stringify(b) ? -1 : 1;
      });
  }
  return items;
}

/** The recording with ids, times, tokens and unordered collections normalized (rules above). */
export function normalize(results: WorkloadResults): StepResult[] {
  const table = new IdTable();
  for (const s of results.steps) collectIds(s.value, table);
  return results.steps.map((s) => {
    const out: StepResult = { step: s.step };
    if (s.status !== undefined) out.status = s.status;
    if (s.errorCode !== undefined) out.errorCode = s.errorCode;
    if (s.value !== undefined) out.value = normalizeValue(s.value, table, results.token);
    if (s.skipped !== undefined) out.skipped = s.skipped;
    if (s.failure !== undefined) out.failure = "<transport failure>";
    return out;
  });
}

function diffValues(step: string, path: string, a: unknown, b: unknown, out: LiveDifference[]): void {
  if (a === b) return;
  const bothObjects = a !== null && b !== null && typeof a === "object" && typeof b === "object";
  if (bothObjects && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length) {
        out.push({ step, path: `${path}.length`, local: a.length, remote: b.length });
      }
      for (let i = 0; i < Math.min(a.length, b.length); i++) diffValues(step, `${path}[${i}]`, a[i], b[i], out);
      return;
    }
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort();
    for (const k of keys) diffValues(step, path ? `${path}.${k}` : k, ao[k], bo[k], out);
    return;
  }
  out.push({ step, path, local: a, remote: b });
}

/**
 * Every difference between two recordings after normalization: a step on one side only, a
 * different HTTP status or MLflow error code, a different value, a step skipped or failed on one
 * side. Empty when the two servers behaved the same.
 */
export function compare(local: WorkloadResults, remote: WorkloadResults): LiveDifference[] {
  const a = normalize(local);
  const b = normalize(remote);
  const bByStep = new Map(b.map((s) => [s.step, s]));
  const aSteps = new Set(a.map((s) => s.step));
  const out: LiveDifference[] = [];
  for (const sa of a) {
    const sb = bByStep.get(sa.step);
    if (!sb) {
      out.push({ step: sa.step, path: "", local: "ran", remote: "(step missing)" });
      continue;
    }
    const { step: _a, ...restA } = sa;
    const { step: _b, ...restB } = sb;
    diffValues(sa.step, "", restA, restB, out);
  }
  for (const sb of b)
    if (!aSteps.has(sb.step)) out.push({ step: sb.step, path: "", local: "(step missing)", remote: "ran" });
  return out;
}
