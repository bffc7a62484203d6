import { nearest } from "@mlflow-dev/spec";

/**
 * Words from other tools (docker compose, kubectl, terraform, serverless) for what a command of
 * ours does: `deploy` is promote, `ps` is status.
 */
export const PEER_VERBS: Readonly<Record<string, string>> = {
  deploy: "promote",
  apply: "promote",
  release: "promote",
  publish: "promote",
  ps: "status",
  ls: "status",
  list: "status",
  info: "status",
  start: "up",
  run: "up",
  serve: "up",
  stop: "down",
  rm: "down",
  delete: "destroy",
  remove: "destroy",
  teardown: "destroy",
  diff: "plan",
  preview: "plan",
  log: "logs",
  tail: "logs",
  check: "validate",
  lint: "validate",
  new: "init",
  create: "init",
  generate: "render",
  template: "render",
  config: "render",
  dump: "backup",
  snapshot: "backup",
  load: "restore",
  health: "doctor",
  prune: "gc",
  purge: "gc",
  cleanup: "gc",
  shell: "exec",
  ssh: "exec",
  console: "exec",
  sh: "exec",
  compare: "parity",
};

/** The command meant: a peer tool's word for it, else the nearest spelling. */
export function nearestCommand(word: string, commands: string[]): string | undefined {
  const peer = PEER_VERBS[word.toLowerCase()];
  if (peer !== undefined && commands.includes(peer)) return peer;
  return nearest(word, commands);
}
