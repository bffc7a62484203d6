import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { starterSpec } from "@mlflow-dev/cli/init";
import type { SpecInput } from "@mlflow-dev/spec";
import { type Document, isMap, isNode, isScalar, isSeq, type Node, parseDocument } from "yaml";
import { ROOT } from "./root.ts";

/**
 * A spec for a test, built from an example or the init starter by setting values at paths, never
 * by editing its text: `yaml`'s Document API keeps every other line, comment and key order as it
 * was, and a path the spec does not have is a type error here rather than a silent no-op there.
 *
 *   specFixture("examples/basic").name("itfoo").set("mlflow.auth", "basic")
 *     .env("staging", { account: "333344445555", database: { deletionProtection: false } })
 *     .write(dir);
 */

/** The examples a fixture can start from (a directory under examples/ with a mlflow-dev.yaml); see also `specFixture.starter`. */
export type ExampleSpec = "examples/basic" | "examples/existing-vpc";

type Plain<T> = NonNullable<T>;
type Environments = Plain<SpecInput["environments"]>;
/** What an AWS environment of the spec takes (the schema's input: defaults may be left out). */
export type AwsEnvInput = Exclude<Environments[string], undefined>;
/** What the local environment takes. */
export type LocalEnvInput = Plain<Environments["local"]>;

/** A value with every key optional, down to the leaves; arrays are leaves (set whole). */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<Plain<T[K]>> }
    : T;

type Depth = [never, 0, 1, 2, 3, 4];
type StringKeys<T> = T extends readonly unknown[] ? never : T extends object ? Extract<keyof T, string> : never;

/** Every dotted path into T, down to `D` levels: "name", "mlflow", "mlflow.auth", ... */
export type PathOf<T, D extends number = 5> = [D] extends [never]
  ? never
  : {
      [K in StringKeys<T>]: K | `${K}.${PathOf<Plain<T[K]>, Depth[D]>}`;
    }[StringKeys<T>];

/** The type at a dotted path of T. */
export type ValueAt<T, P extends string> = P extends `${infer K}.${infer Rest}`
  ? K extends keyof Plain<T>
    ? ValueAt<Plain<T>[K], Rest>
    : never
  : P extends keyof Plain<T>
    ? Plain<T>[P]
    : never;

/**
 * A spec path outside `environments`, whose settings `env()` takes whole. (Environments are a
 * record of AWS environments beside `local`: set them with `env()`.)
 */
export type SpecPath = PathOf<Omit<SpecInput, "environments">>;

const SPEC_FILE = "mlflow-dev.yaml";

function splitPath(path: string): string[] {
  return path.split(".");
}

/** A plain object (not an array, not null): `env()` and `merge()` walk into these. */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class SpecFixture {
  readonly #doc: Document;
  /** Where the text came from, for error messages. */
  readonly origin: string;

  constructor(text: string, origin: string) {
    this.origin = origin;
    this.#doc = parseDocument(text);
    if (this.#doc.errors.length > 0)
      throw new Error(`${origin} is not YAML: ${this.#doc.errors.map((e) => e.message).join("; ")}`);
    if (!isMap(this.#doc.contents)) throw new Error(`${origin} is not a YAML mapping`);
  }

  /** An independent copy: change it without changing this one. */
  clone(): SpecFixture {
    return new SpecFixture(this.text(), this.origin);
  }

  /** The spec's `name`: compose project `mlflow-dev-<name>`, AWS stacks `mlflow-dev-<name>-<env>`. */
  name(name: string): this {
    return this.set("name", name);
  }

  /** The value at a path (as data), or undefined. */
  get(path: string): unknown {
    const value = this.#doc.getIn(splitPath(path));
    return isNode(value) ? value.toJSON() : value;
  }

  /** Sets the value at a path outside `environments` (see `env()`), creating the maps on the way. */
  set<P extends SpecPath>(path: P, value: ValueAt<Omit<SpecInput, "environments">, P>): this {
    return this.setAt(splitPath(path), value);
  }

  /** Removes the value at a path outside `environments`; a path that is not there is an error. */
  delete(path: SpecPath): this {
    return this.deleteAt(splitPath(path));
  }

  /**
   * Sets the settings of an environment (created when missing): each leaf of `settings` is set at
   * its path, every other setting of the environment stays. An array is set whole; `undefined`
   * removes the setting.
   */
  env(name: "local", settings: DeepPartial<LocalEnvInput>): this;
  env(name: string, settings: DeepPartial<AwsEnvInput>): this;
  env(name: string, settings: Record<string, unknown>): this {
    this.merge(["environments", name], settings);
    return this;
  }

  /** Removes an environment, e.g. the AWS one of an example a local-only test does not want. */
  dropEnv(name: string): this {
    return this.deleteAt(["environments", name]);
  }

  /**
   * Uncomments an environment given as a commented-out block, as a user does with the init
   * starter's `# staging:`: the block's lines (its own comments stay comments) become the
   * environment, and leave the comment they were in.
   */
  uncommentEnv(name: string): this {
    const envs = this.#doc.getIn(["environments"], true);
    if (!isMap(envs)) throw new Error(`${this.origin}: no environments map`);
    const holders: { comment?: string | null; commentBefore?: string | null }[] = [
      envs,
      ...envs.items.map((p) => p.value as Node),
    ];
    for (const holder of holders)
      for (const field of ["comment", "commentBefore"] as const) {
        const comment = holder?.[field];
        if (!comment) continue;
        const lines = comment.split("\n");
        const start = lines.findIndex((l) => l.trimEnd() === ` ${name}:`);
        if (start < 0) continue;
        let end = start + 1;
        while (end < lines.length && /^ {2,}\S/.test(lines[end] ?? "")) end++;
        const block = lines
          .slice(start, end)
          .map((l) => l.slice(1))
          .join("\n");
        const parsed = parseDocument(`${block}\n`);
        if (parsed.errors.length > 0 || !isMap(parsed.contents))
          throw new Error(`${this.origin}: the commented ${name} block is not YAML: ${parsed.errors[0]?.message}`);
        // The comment's lines before the block stay above it, the lines after it where they were.
        const before = lines.slice(0, start);
        const after = lines.slice(end);
        holder[field] = after.some((l) => l.trim()) ? after.join("\n") : null;
        const pair = this.#doc.createPair(name, parsed.contents.get(name, true));
        if (before.some((l) => l.trim()) && isScalar(pair.key)) pair.key.commentBefore = before.join("\n");
        envs.items.push(pair);
        return this;
      }
    throw new Error(`${this.origin}: no commented-out environment ${name} (a comment line "# ${name}:")`);
  }

  /** The spec's text: the source's, with the changes. */
  text(): string {
    return this.#doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  }

  /** The spec as data (what a parser of the text reads). */
  data(): unknown {
    return this.#doc.toJS();
  }

  /** Writes the spec as `dir`/mlflow-dev.yaml (or `file`), creating `dir`; returns the file's path. */
  write(dir: string, file = SPEC_FILE): string {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, file);
    writeFileSync(path, this.text());
    return path;
  }

  private merge(at: string[], settings: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(settings)) {
      const path = [...at, key];
      if (value === undefined) this.deleteAt(path, false);
      else if (isRecord(value) && !this.isScalarAt(path)) this.merge(path, value);
      else this.setAt(path, value);
    }
  }

  private isScalarAt(path: string[]): boolean {
    const node = this.#doc.getIn(path, true);
    return node !== undefined && (isScalar(node) || isSeq(node));
  }

  private setAt(path: string[], value: unknown): this {
    // Through the maps on the way: a missing one is created (block style, like the rest).
    for (let i = 1; i < path.length; i++) {
      const parent = path.slice(0, i);
      const node = this.#doc.getIn(parent, true);
      if (node === undefined || node === null) this.#doc.setIn(parent, this.#doc.createNode({}));
      else if (!isMap(node))
        throw new Error(`${this.origin}: cannot set ${path.join(".")}: ${parent.join(".")} is not a mapping`);
    }
    const current = this.#doc.getIn(path, true);
    if (isScalar(current) && !isRecord(value) && !Array.isArray(value)) current.value = value;
    else {
      // A list of scalars on one line, as people write them: [a, b].
      const flow = Array.isArray(value) && value.every((v) => v === null || typeof v !== "object");
      this.#doc.setIn(path, this.#doc.createNode(value, { flow }));
    }
    return this;
  }

  private deleteAt(path: string[], mustExist = true): this {
    if (!this.#doc.hasIn(path)) {
      if (mustExist) throw new Error(`${this.origin}: cannot delete ${path.join(".")}: it is not there`);
      return this;
    }
    this.#doc.deleteIn(path);
    return this;
  }
}

/** A fixture from an example of the repository (its mlflow-dev.yaml). */
export function specFixture(example: ExampleSpec): SpecFixture {
  const path = join(ROOT, example, SPEC_FILE);
  return new SpecFixture(readFileSync(path, "utf8"), `${example}/${SPEC_FILE}`);
}

/** A fixture from the spec `mlflow-dev init --name <name>` writes (its AWS environment commented out). */
specFixture.starter = (name: string): SpecFixture => new SpecFixture(starterSpec(name), "init's starter spec");

/** A fixture from a spec file, e.g. the one `mlflow-dev init` wrote in a project. */
specFixture.file = (path: string): SpecFixture => new SpecFixture(readFileSync(path, "utf8"), path);

/** A fixture from spec text. */
specFixture.text = (text: string, origin = "a test's spec"): SpecFixture => new SpecFixture(text, origin);

/**
 * An example's AWS environment (`env`, default staging) made a test's own on the emulator: the
 * test's account (MiniStack takes a 12-digit access key as the account id), a bucket of its own
 * (`<name>-<env>-artifacts-<account>` unless given), and deletion protection off, since the test
 * destroys what it promotes (destroy refuses a protected database).
 */
export function emulatedEnv(
  spec: SpecFixture,
  options: { account: string; bucket?: string; env?: string; settings?: DeepPartial<AwsEnvInput> },
): SpecFixture {
  const env = options.env ?? "staging";
  const bucket = options.bucket ?? `${spec.get("name")}-${env}-artifacts-${options.account}`;
  spec.env(env, { account: options.account, bucket, database: { deletionProtection: false } });
  if (options.settings) spec.env(env, options.settings);
  return spec;
}
