import { parseArgs } from "node:util";
import { EXIT, UserError } from "./errors.ts";

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

/** Parses a command's flags (plus the global ones); unknown flags are a usage error. */
export function parseCommandArgs(
  command: string,
  argv: string[],
  options: OptionSpec,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[]; global: GlobalOptions } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return {
      values: values as Record<string, string | boolean | string[] | undefined>,
      positionals,
      global: { file: (values.file as string | undefined) ?? "mlflow-dev.yaml", json: values.json === true },
    };
  } catch (e) {
    throw new UserError(`${command}: ${(e as Error).message}`, {
      exitCode: EXIT.invalidInput,
      hint: `Run \`mlflow-dev ${command} --help\` for its flags.`,
    });
  }
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
