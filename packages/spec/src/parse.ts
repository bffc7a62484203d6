import {
  type Document,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from "yaml";
import type { z } from "zod";
import { formatPath, revealNonAscii, SpecError, type SpecIssue } from "./issues.ts";
import { compareCodeUnits } from "./order.ts";
import { type Spec, SpecSchema } from "./schema.ts";
import { nearest } from "./suggest.ts";
import { specWarnings } from "./warnings.ts";

/**
 * A valid spec comes with its warnings (settings that work but are risky); an invalid one with every
 * issue found, errors and (when the schema passed) warnings, in the order of the file.
 */
export type ParseResult<S extends Spec = Spec> =
  | { ok: true; spec: S; warnings: SpecIssue[] }
  | { ok: false; issues: SpecIssue[] };

/** A problem a rule outside the schema found, at a dotted path of the spec (e.g. environments.staging.network.cidr). */
export interface RuleProblem {
  setting: string;
  message: string;
}

/**
 * A check run on a spec that passed the schema: the rules of the renderers' targets (AWS/ECS
 * compatibility), so every command refuses what `validate` refuses. It returns every problem, or
 * the spec narrowed to what it proved (for example a type the AWS renderers accept). Pure.
 */
export type SpecCheck<S extends Spec> = (spec: Spec) => { ok: true; spec: S } | { ok: false; problems: RuleProblem[] };

const RESERVED_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** The largest spec file mlflow-dev reads, in bytes. */
export const MAX_SPEC_BYTES = 1024 * 1024;

/**
 * Parses and validates the text of an mlflow-dev.yaml. Pure: no file system access;
 * `file` is only used in messages. Returns every issue found, each with its position.
 * `check` runs after the schema passed (see SpecCheck), and the spec returned is the one it narrowed.
 */
export function parseSpec(text: string, file?: string): ParseResult;
export function parseSpec<S extends Spec>(text: string, file: string, check: SpecCheck<S>): ParseResult<S>;
export function parseSpec(text: string, file = "mlflow-dev.yaml", check?: SpecCheck<Spec>): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number) => lineCounter.linePos(offset);

  // A tag mlflow-dev does not know (!Ref, !Sub) would silently become a string.
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === "TAG_RESOLVE_FAILED")];
  // The YAML parser reports running out of stack (deep nesting) as errors; one clear issue says it.
  const overflow = problems.find((e) => /call stack|stack overflow/i.test(e.message));
  if (overflow) {
    // Where the parser ran out of stack depends on the stack's size: point at the first bracket
    // too deep instead (or at the start, for nesting by indentation), so the same text gives the same issue.
    const { line, col } = pos(deepFlowOffset(text) ?? 0);
    return { ok: false, issues: [{ file, line, col, path: "", message: tooDeep }] };
  }
  if (problems.length > 0) {
    return {
      ok: false,
      issues: problems.map((e) => {
        const { line, col } = pos(e.pos[0]);
        return { file, line, col, path: "", message: yamlMessage(e.code, e.message) };
      }),
    };
  }
  if (doc.contents === null)
    return documentIssue(file, "the file is empty. Run `mlflow-dev init` to write a starting spec");
  if (!isMap(doc.contents)) {
    const { line, col } = pos(doc.contents.range?.[0] ?? 0);
    return {
      ok: false,
      issues: [
        {
          file,
          line,
          col,
          path: "",
          message: "the top level must be a mapping of keys (name:, mlflow:, environments:, ...)",
        },
      ],
    };
  }

  const deep = tooDeepNode(doc.contents);
  if (deep) {
    const { line, col } = pos(deep.range?.[0] ?? 0);
    return { ok: false, issues: [{ file, line, col, path: "", message: tooDeep }] };
  }

  // A key that names the object prototype would vanish when the YAML becomes an object.
  const reserved: SpecIssue[] = [];
  visit(doc, {
    Pair(_key, pair) {
      if (isScalar(pair.key) && RESERVED_KEYS.has(String(pair.key.value))) {
        const { line, col } = pos(pair.key.range?.[0] ?? 0);
        reserved.push({
          file,
          line,
          col,
          path: "",
          message: `the key ${JSON.stringify(pair.key.value)} cannot be used: it names JavaScript's object prototype, and would be dropped silently. Rename it`,
        });
      }
    },
  });
  if (reserved.length > 0) return { ok: false, issues: reserved };

  // No setting takes a control character, and one printed back (by parity, in a message) could
  // rewrite the terminal: refuse them wherever they are, tabs and line breaks aside.
  const controls: SpecIssue[] = [];
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== "string") return;
      const found = CONTROL_CHARACTER.exec(node.value);
      if (!found) return;
      const { line, col } = pos(node.range?.[0] ?? 0);
      const code = `\\u${found[0].charCodeAt(0).toString(16).padStart(4, "0")}`;
      const isKey = ancestors.some((a) => isPair(a) && a.key === node);
      controls.push({
        file,
        line,
        col,
        path: pathOf(ancestors, node),
        message: `${isKey ? "has a key that contains" : "contains"} the control character ${code}: no setting takes one, and printed back it could rewrite the terminal. Remove it`,
      });
    },
  });
  if (controls.length > 0) return { ok: false, issues: controls };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    return documentIssue(
      file,
      "invalid YAML: its aliases (*name) expand to too many values. Write the values out, or use fewer aliases",
    );
  }
  const result = SpecSchema.safeParse(data);
  if (result.success) {
    const checked = check ? check(result.data) : { ok: true as const, spec: result.data };
    const warnings = specWarnings(result.data).map((p) => ({
      ...ruleIssue(p, doc, file, pos),
      severity: "warning" as const,
    }));
    if (checked.ok) return { ok: true, spec: checked.spec, warnings };
    const issues = [...checked.problems.map((p) => ruleIssue(p, doc, file, pos)), ...warnings];
    issues.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, issues: dedupe(issues) };
  }

  const issues: SpecIssue[] = [];
  for (const zi of result.error.issues) issues.push(...toSpecIssues(zi, doc, file, pos));
  issues.sort((a, b) => a.line - b.line || a.col - b.col || compareCodeUnits(a.path, b.path));
  return { ok: false, issues: dedupe(issues) };
}

/** How deep a spec's values may nest; the deepest real setting is a handful of levels down. */
export const MAX_SPEC_DEPTH = 32;

const tooDeep = `invalid YAML: the values nest more than ${MAX_SPEC_DEPTH} levels deep, and no setting of a spec is that deep. Flatten the value`;

/** The first node nested deeper than MAX_SPEC_DEPTH, found without recursion. */
function tooDeepNode(root: Node): Node | undefined {
  const stack: [Node, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [Node, number];
    if (depth > MAX_SPEC_DEPTH) return node;
    if (isMap(node))
      for (const pair of node.items) {
        if (isNode(pair.key)) stack.push([pair.key, depth + 1]);
        if (isNode(pair.value)) stack.push([pair.value, depth + 1]);
      }
    else if (isSeq(node)) for (const item of node.items) if (isNode(item)) stack.push([item, depth + 1]);
  }
  return undefined;
}

/** The offset of the first [ or { nested deeper than MAX_SPEC_DEPTH, outside quotes and comments. */
function deepFlowOffset(text: string): number | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(text[i - 1] ?? ""))) {
      const end = text.indexOf("\n", i);
      i = end < 0 ? text.length : end;
    } else if (c === "[" || c === "{") {
      depth++;
      if (depth > MAX_SPEC_DEPTH) return i;
    } else if (c === "]" || c === "}") depth = Math.max(0, depth - 1);
  }
  return undefined;
}

/** C0 and C1 control characters but tab and line feed. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const CONTROL_CHARACTER = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** The dotted path of a node from visit's ancestors (a key's own path is its mapping's). */
function pathOf(ancestors: readonly unknown[], node: unknown): string {
  const parts: (string | number)[] = [];
  ancestors.forEach((a, i) => {
    const next = ancestors[i + 1] ?? node;
    if (isPair(a) && isScalar(a.key) && a.key !== next) parts.push(String(a.key.value));
    else if (isSeq(a)) parts.push(a.items.indexOf(next as never));
  });
  return formatPath(parts);
}

/** Whether a message already names the value, as a word of its own ("serve" is not in "server"). */
function mentions(message: string, value: string): boolean {
  const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`).test(message);
}

/** One problem with the document as a whole, at its start. */
function documentIssue(file: string, message: string): ParseResult {
  return { ok: false, issues: [{ file, line: 1, col: 1, path: "", message }] };
}

/** Like parseSpec, but throws a SpecError carrying every issue. */
export function parseSpecOrThrow(text: string, file = "mlflow-dev.yaml"): Spec {
  const r = parseSpec(text, file);
  if (!r.ok) throw new SpecError(r.issues);
  return r.spec;
}

/** A rule's problem at the position of its setting (or of the nearest part of it that is written). */
function ruleIssue(p: RuleProblem, doc: Document, file: string, pos: Pos): SpecIssue {
  const path = p.setting.split(".");
  const { node } = closestNode(doc, path);
  const { line, col } = pos(node?.range?.[0] ?? 0);
  return { file, line, col, path: p.setting, message: p.message };
}

function yamlMessage(code: string, message: string): string {
  const first = message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "") ?? message;
  switch (code) {
    case "MULTIPLE_DOCS":
      return "invalid YAML: the file holds more than one document (---). Keep one spec per file";
    case "TAG_RESOLVE_FAILED":
      return `invalid YAML: ${first.replace(/^Unresolved tag: /, "the tag ")} means nothing to mlflow-dev (it would be read as plain text). Remove the tag`;
    case "DUPLICATE_KEY":
      return "invalid YAML: a key appears twice in the same mapping. Keep one of them";
    case "TAB_AS_INDENT":
      return "invalid YAML: tabs cannot indent YAML. Indent with spaces";
    default:
      return `invalid YAML: ${first}`;
  }
}

type Pos = (offset: number) => { line: number; col: number };

function nodeAt(doc: Document, path: readonly PropertyKey[]): Node | undefined {
  const node = doc.getIn(path as unknown[], true);
  return node && typeof node === "object" ? (node as Node) : undefined;
}

/** The nearest existing node along the path (for missing keys: the parent mapping). */
function closestNode(doc: Document, path: readonly PropertyKey[]): { node: Node | undefined; depth: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? (doc.contents as Node) : nodeAt(doc, path.slice(0, depth));
    if (node) return { node, depth };
  }
  return { node: undefined, depth: 0 };
}

function keyNode(doc: Document, parent: readonly PropertyKey[], key: string): Node | undefined {
  const map = parent.length === 0 ? doc.contents : nodeAt(doc, parent);
  if (!isMap(map)) return undefined;
  for (const item of map.items) {
    if (isPair(item) && isScalar(item.key) && String(item.key.value) === key) return item.key;
  }
  return undefined;
}

/**
 * A value as messages show it: JSON-quoted (control characters escaped), cut when long. In a key,
 * or a value that mixes ASCII letters with others, each non-ASCII character is written \uXXXX:
 * "n\u0430me" shows the Cyrillic letter that "nаme" hides.
 */
function quoted(value: string, { key = false } = {}): string {
  const reveal = key || (/[A-Za-z]/.test(value) && /[^\u0020-\u007e]/u.test(value));
  const shown = (text: string) => {
    const json = JSON.stringify(text);
    return reveal ? revealNonAscii(json) : json;
  };
  if (value.length <= 80) return shown(value);
  return `${shown(value.slice(0, 60))}... (${value.length} characters)`;
}

function describeValue(value: unknown): string {
  if (value === null) return "null (an empty value)";
  // doc.getIn gives YAML collections as nodes, and !!binary as bytes.
  if (Array.isArray(value) || isSeq(value)) return "a list";
  if (value instanceof Uint8Array) return "binary data (a !!binary value)";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the string ${quoted(value)}`;
  return `the ${typeof value} ${String(value)}`;
}

const typeNames: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
  record: "a mapping",
};

function toSpecIssues(zi: z.core.$ZodIssue, doc: Document, file: string, pos: Pos): SpecIssue[] {
  const path = zi.path;
  const at = (node: Node | undefined) => pos(node?.range?.[0] ?? 0);

  if (zi.code === "unrecognized_keys") {
    const known = knownKeys(path);
    return zi.keys.map((key) => {
      const { line, col } = at(keyNode(doc, path, key) ?? closestNode(doc, path).node);
      const guess = nearest(key, known);
      const hint = guess
        ? `Did you mean "${guess}"?`
        : known.length > 0
          ? `Valid keys here: ${known.join(", ")}`
          : "Remove it";
      return {
        file,
        line,
        col,
        path: formatPath([...path, key]),
        message: `unknown key ${quoted(key, { key: true })}. ${hint}`,
      };
    });
  }

  const { node, depth } = closestNode(doc, path);
  let { line, col } = at(node);
  const missing = depth < path.length;
  const value = missing ? undefined : doc.getIn(path as unknown[]);
  const shown = formatPath(path);

  let message: string;
  switch (zi.code) {
    case "invalid_type": {
      const isInt = (zi as { expected: string; format?: string }).expected === "number" && isIntSchemaAt(path);
      const expected = isInt ? "an integer" : (typeNames[zi.expected] ?? zi.expected);
      if (missing || value === undefined) {
        message = `is required: add ${expected} here`;
      } else if ((zi.expected === "string" && (typeof value === "number" || typeof value === "boolean")) || false) {
        // Quote the text as written: 012345678901 read as a number lost its leading zero.
        const node = nodeAt(doc, path);
        const written = isScalar(node) && typeof node.source === "string" ? node.source : String(value);
        message = `must be ${expected}, got ${describeValue(value)}. Quote it as written: "${written}"`;
      } else if (zi.expected === "int" && typeof value === "number") {
        message = `must be ${expected}, got ${value}`;
      } else {
        message = `must be ${expected}, got ${describeValue(value)}`;
      }
      break;
    }
    case "invalid_value": {
      const values = zi.values.map((v) => JSON.stringify(v));
      const guess =
        typeof value === "string"
          ? nearest(
              value,
              zi.values.filter((v): v is string => typeof v === "string"),
            )
          : undefined;
      message = `must be one of ${values.join(", ")}, got ${describeValue(value)}${guess ? `. Did you mean "${guess}"?` : ""}`;
      break;
    }
    case "invalid_union": {
      message = `is not an accepted value (got ${describeValue(value)}). ${zi.message}`;
      break;
    }
    case "too_small": {
      const min = Number(zi.minimum);
      if (zi.origin === "array") message = `must list at least ${min} item${min === 1 ? "" : "s"}`;
      else if (zi.origin === "string") message = min <= 1 ? "must not be empty" : `must be at least ${min} characters`;
      else message = `must be at least ${min}, got ${String(value)}`;
      break;
    }
    case "too_big": {
      const max = Number(zi.maximum);
      if (zi.origin === "array") message = `must list at most ${max} items`;
      else if (zi.origin === "string")
        message = `must be at most ${max} characters${typeof value === "string" ? `, got ${value.length}` : ""}`;
      else message = `must be at most ${max}, got ${String(value)}`;
      break;
    }
    case "invalid_format":
    case "custom": {
      const base = zi.message;
      // A check of a mapping's key (an environment's name) points at the key, not at its value.
      const key = path[path.length - 1];
      if ((zi as { params?: { atKey?: boolean } }).params?.atKey === true && typeof key === "string") {
        const keyAt = keyNode(doc, path.slice(0, -1), key);
        if (keyAt) ({ line, col } = at(keyAt));
      }
      // A check may ask not to echo the value (for example when the value may be a secret).
      const hideValue = (zi as { params?: { hideValue?: boolean } }).params?.hideValue === true;
      const shownValue =
        !hideValue && typeof value === "string"
          ? quoted(value)
          : !hideValue && typeof value === "number"
            ? String(value)
            : undefined;
      message = shownValue !== undefined && !mentions(base, String(value)) ? `${base} (got ${shownValue})` : base;
      break;
    }
    case "invalid_key": {
      // The key's own check says what is wrong with it; point at the key, not its value.
      const inner = (zi as { issues?: { code?: string; message?: string }[] }).issues?.[0];
      const key = path[path.length - 1];
      const keyAt = typeof key === "string" ? keyNode(doc, path.slice(0, -1), key) : undefined;
      if (keyAt) ({ line, col } = at(keyAt));
      message =
        inner?.code === "invalid_format" && inner.message && !inner.message.startsWith("Invalid")
          ? inner.message
          : `has an invalid key: ${zi.message}`;
      break;
    }
    default:
      message = zi.message;
  }
  return [{ file, line, col, path: shown, message }];
}

function dedupe(issues: SpecIssue[]): SpecIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.line}:${i.col}:${i.path}:${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---- walking the schema to find the keys valid at a path (for suggestions) ----

type AnyDef = {
  type: string;
  innerType?: unknown;
  shape?: Record<string, unknown>;
  catchall?: unknown;
  element?: unknown;
  valueType?: unknown;
  in?: unknown;
};

function defOf(schema: unknown): AnyDef | undefined {
  return (schema as { _zod?: { def?: AnyDef } })?._zod?.def;
}

function unwrap(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 10; i++) {
    const def = defOf(s);
    if (!def) return s;
    if (def.type === "optional" || def.type === "default" || def.type === "nullable" || def.type === "prefault")
      s = def.innerType;
    else if (def.type === "pipe") s = def.in;
    else return s;
  }
  return s;
}

function isIntSchemaAt(path: readonly PropertyKey[]): boolean {
  const s = schemaAt(path);
  const def = defOf(unwrap(s)) as (AnyDef & { format?: string; checks?: unknown[] }) | undefined;
  const bag = (unwrap(s) as { _zod?: { bag?: { format?: string } } })?._zod?.bag;
  return def?.type === "number" && (bag?.format === "safeint" || def.format === "safeint");
}

function schemaAt(path: readonly PropertyKey[]): unknown {
  let s: unknown = SpecSchema;
  for (const part of path) {
    const def = defOf(unwrap(s));
    if (!def) return undefined;
    if (def.type === "object") {
      const shape = def.shape ?? {};
      s = typeof part === "string" && part in shape ? shape[part] : def.catchall;
    } else if (def.type === "array") s = def.element;
    else if (def.type === "record") s = def.valueType;
    else return undefined;
  }
  return s;
}

export function knownKeys(path: readonly PropertyKey[]): string[] {
  let s: unknown = SpecSchema;
  for (const part of path) {
    const def = defOf(unwrap(s));
    if (!def) return [];
    if (def.type === "object") {
      const shape = def.shape ?? {};
      s = typeof part === "string" && part in shape ? shape[part] : def.catchall;
    } else if (def.type === "array") s = def.element;
    else if (def.type === "record") s = def.valueType;
    else return [];
  }
  const def = defOf(unwrap(s));
  if (def?.type !== "object") return [];
  return Object.keys(def.shape ?? {}).filter((k) => k !== "$schema");
}
