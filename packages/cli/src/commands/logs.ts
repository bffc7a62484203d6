import { existsSync } from "node:fs";
import { SERVICE } from "@mlflow-dev/compose";
import { nearest } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";

/** The services `logs` takes: every service of the local stack. */
export const LOG_SERVICES: readonly string[] = Object.values(SERVICE);

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

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, global } = parseCommandArgs(
    "logs",
    followShorthand(argv),
    {
      follow: { type: "boolean", short: "F" },
      tail: { type: "string" },
    },
    1,
  );
  const service = positionals[0];
  if (service !== undefined && !LOG_SERVICES.includes(service)) {
    const guess = nearest(service, [...LOG_SERVICES]);
    throw new UserError(`logs: unknown service "${service}"${guess ? `; did you mean "${guess}"?` : ""}`, {
      exitCode: EXIT.invalidInput,
      hint: `Services: ${LOG_SERVICES.join(", ")}`,
    });
  }
  const tail = typeof values.tail === "string" ? parseTail(values.tail) : undefined;
  const ctx = await localContext(global.file);
  const { DockerComposeCli, stackPaths, projectName } = ctx.runtime;
  const compose = new DockerComposeCli({ ...stackPaths(ctx.stateDir), projectName: projectName(ctx.model) });
  try {
    const code = await compose.logs({
      ...(service ? { service } : {}),
      follow: values.follow === true,
      ...(tail !== undefined ? { tail } : {}),
    });
    return code === 0 ? EXIT.ok : EXIT.failed;
  } catch (e) {
    if (e instanceof ctx.runtime.ComposeCommandError)
      throw new UserError(e.message, {
        hint: "Install the Docker CLI with its compose plugin (`docker compose version` answers once it is).",
      });
    throw asUserError(e, global.file);
  }
}
