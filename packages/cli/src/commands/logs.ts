import { existsSync } from "node:fs";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { LOG_SERVICES } from "../runtimes/local-runtime.ts";
import { type RuntimeFor, runtimeFor } from "../runtimes/runtime.ts";
import { parseSince } from "../since.ts";

/**
 * `-f` is the spec file in every command, but `docker compose logs -f` follows: in `logs`, a `-f`
 * that ends the arguments, comes before another flag, or comes before a service name (that is no
 * file here) means --follow, as compose users type it. `-f <file>` still names the spec.
 */
export function followShorthand(argv: readonly string[], isFile: (p: string) => boolean = existsSync): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (a === "-f" && (next === undefined || next.startsWith("-") || (LOG_SERVICES.includes(next) && !isFile(next))))
      out.push("--follow");
    else out.push(a);
  }
  return out;
}

/** --tail: a whole number of lines, or `all` (as compose takes it). */
export function parseTail(value: string): number | "all" {
  if (value === "all") return "all";
  if (/^\d+$/.test(value)) return Number(value);
  throw new UserError(`logs: --tail must be a whole number of lines or "all", not "${value}"`, {
    exitCode: EXIT.invalidInput,
    hint: "Example: mlflow-dev logs mlflow --tail 100",
  });
}

export async function run(argv: string[], runtimes: RuntimeFor = runtimeFor): Promise<number> {
  const args = followShorthand(argv);
  const { values, positionals, global } = parseCommandArgs("logs", args);
  const service = positionals[0];
  return runtimes({ values, global }).logs({
    ...(service !== undefined ? { service } : {}),
    ...(typeof values.tail === "string" ? { tail: parseTail(values.tail) } : {}),
    ...(typeof values.since === "string" ? { since: parseSince(values.since, Date.now()) } : {}),
    timestamps: values.timestamps === true,
    follow: values.follow === true,
  });
}
