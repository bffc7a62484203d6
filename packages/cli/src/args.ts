import { parseArgs } from "node:util";
import { nearest } from "@mlflow-dev/spec";
import { commandOptions, findCommand, GLOBAL_OPTIONS } from "./command-table.js";
import type { CommandDef } from "./command-types.ts";
import { EXIT, UserError } from "./errors.ts";
import { findSpec, SPEC_FILE } from "./spec-file.ts";

export interface GlobalOptions {
  file: string;
  json: boolean;
}

/** What node:util parseArgs takes for each flag. */
export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

/** The command of the table, or a bug of ours (a command module asking for a name the table lacks). */
function tableEntry(name: string): CommandDef {
  const command = findCommand(name);
  if (command === undefined) throw new Error(`no command ${JSON.stringify(name)} in command-table.js`);
  return command;
}

/** The flags a command takes, as node:util parseArgs takes them: exactly the table's, global ones included. */
export function parserOptions(name: string): OptionSpec {
  const spec: OptionSpec = {};
  for (const o of commandOptions(tableEntry(name)))
    spec[o.name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  return spec;
}

/**
 * Parses a command's flags and positional arguments as the command table declares them. Unknown
 * flags, a single-value flag given twice (which would silently keep the last) and more positional
 * arguments than the command takes are usage errors.
 */
export function parseCommandArgs(
  name: string,
  argv: string[],
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[]; global: GlobalOptions } {
  const entry = tableEntry(name);
  const command = entry.invocation ?? entry.name;
  const all = parserOptions(name);
  const maxPositionals = entry.positionals.length;
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
    global: { file: (values.file as string | undefined) ?? defaultSpec(name), json: values.json === true },
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
    // A global flag this command has no use for: say why, rather than "unknown".
    const global = Object.values(GLOBAL_OPTIONS).find((g) => bare === `--${g.name}` || bare === `-${g.short}`);
    if (global?.name === "json" || global?.name === "file")
      return new UserError(
        `${command}: ${bare} has no use here: ${command} ${global.name === "json" ? "prints no data to give as JSON" : "reads no spec"}`,
        { exitCode: EXIT.invalidInput, hint: `Leave ${bare} out. ${usage}` },
      );
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
