import { parseEnv } from "node:util";

/**
 * The one `.env` reader: Node's own dotenv parser (node:util parseEnv), which reads what Compose
 * reads from the same file: `KEY=value` lines, comments, quotes, `export KEY=value`. Pure.
 */
export function parseEnvFile(text: string): Map<string, string> {
  return new Map(Object.entries(parseEnv(text)).filter((e): e is [string, string] => typeof e[1] === "string"));
}
