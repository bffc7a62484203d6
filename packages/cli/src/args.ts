import { parseArgs } from "node:util";
import { nearest } from "@mlflow-dev/spec";
import { EXIT, UserError } from "./errors.ts";
import { findSpec, SPEC_FILE } from "./spec-file.ts";

export interface GlobalOptions {
  file: string;
  json: boolean;
}

export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

export const GLOBAL_OPTIONS: OptionSpec = {
  file: { type: "string", short: "f" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

/**
 * Parses a command's flags (plus the global ones). Unknown flags, a single-value flag given twice
 * (which would silently keep the last) and more positional arguments than the command takes
 * (`maxPositionals`, default none) are usage errors.
 */
export function parseCommandArgs(
  command: string,
  argv: string[],
  options: OptionSpec,
  maxPositionals = 0,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[]; global: GlobalOptions } {
  const all: OptionSpec = { ...GLOBAL_OPTIONS, ...options };
  const parsed = (() => {
    try {
      return parseArgs({ args: argv, options: all, allowPositionals: true, strict: true, tokens: true });
    } catch (e) {
      throw optionError(command, argv, all, e as Error & { code?: string });
    }
  })();
  const seen = new Map<string, number>();
  for (const t of parsed.tokens) if (t.kind === "option") seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  for (const [name, count] of seen)
    if (count > 1 && all[name]?.multiple !== true)
      throw new UserError(`${command}: --${name} is given ${count} times`, {
        exitCode: EXIT.invalidInput,
        hint: `Give --${name} once.`,
      });
  if (parsed.positionals.length > maxPositionals)
    throw new UserError(`${command}: unexpected argument "${parsed.positionals[maxPositionals]}"`, {
      exitCode: EXIT.invalidInput,
      hint: `Run \`mlflow-dev ${command} --help\` for its arguments and flags.`,
    });
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return {
    values,
    positionals: parsed.positionals,
    global: { file: (values.file as string | undefined) ?? defaultSpec(command), json: values.json === true },
  };
}

/** Without -f: init writes ./mlflow-dev.yaml; every other command reads the nearest one (see findSpec). */
function defaultSpec(command: string): string {
  return command === "init" ? SPEC_FILE : (findSpec() ?? SPEC_FILE);
}

export function requireString(values: Record<string, unknown>, name: string, command: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "")
    throw new UserError(`${command}: --${name} is required`, {
      exitCode: EXIT.invalidInput,
      hint: `Example: mlflow-dev ${command} --${name} <value>`,
    });
  return v;
}

/** node:util's parse errors, in this tool's words: the flag, what is wrong, the nearest flag it knows. */
export function optionError(
  command: string,
  argv: readonly string[],
  options: OptionSpec,
  e: Error & { code?: string },
): UserError {
  const usage = `Run \`mlflow-dev ${command} --help\` for its flags.`;
  const flags = Object.keys(options).map((n) => `--${n}`);
  const named = (/'(-{1,2}[^'\s,]+)/.exec(e.message) ?? [])[1];
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && named !== undefined) {
    const bare = named.split("=")[0]!;
    const guess = bare.startsWith("--") ? nearest(bare, flags) : undefined;
    return new UserError(`${command}: unknown flag ${bare}${guess ? `; did you mean ${guess}?` : ""}`, {
      exitCode: EXIT.invalidInput,
      hint: usage,
    });
  }
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const name = Object.keys(options).find(
      (n) => e.message.includes(`--${n} `) || e.message.includes(`--${n}'`) || e.message.includes(`--${n}=`),
    );
    const spec = name === undefined ? undefined : options[name];
    if (name !== undefined && spec?.type === "string")
      return new UserError(`${command}: --${name} needs a value`, {
        exitCode: EXIT.invalidInput,
        hint: `Example: mlflow-dev ${command} --${name} <value>. ${usage}`,
      });
    if (name !== undefined)
      return new UserError(`${command}: --${name} is a switch and takes no value`, {
        exitCode: EXIT.invalidInput,
        hint: `Give --${name} alone. ${usage}`,
      });
  }
  const text = e.message.split(". To specify")[0]!.replace(/^Option /, "flag ");
  return new UserError(`${command}: ${text} (arguments: ${argv.join(" ")})`, {
    exitCode: EXIT.invalidInput,
    hint: usage,
  });
}
