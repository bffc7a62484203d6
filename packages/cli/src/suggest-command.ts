import { nearest } from "@mlflow-dev/spec";
import type { CommandDef } from "./command-types.ts";

/**
 * Words from other tools (docker compose, kubectl, terraform, serverless) for what a command of
 * ours does, from the command table's `peerWords`: `deploy` is promote, `ps` is status.
 */
export function peerVerbs(commands: readonly CommandDef[]): ReadonlyMap<string, string> {
  return new Map(commands.flatMap((c) => c.peerWords.map((w) => [w, c.name] as const)));
}

/** The command meant: a peer tool's word for it, else the nearest spelling. */
export function nearestCommand(word: string, commands: readonly CommandDef[]): string | undefined {
  const peer = peerVerbs(commands).get(word.toLowerCase());
  if (peer !== undefined) return peer;
  return nearest(
    word,
    commands.map((c) => c.name),
  );
}
