import { EXIT, UserError } from "./errors.ts";
import { COMMAND_HELP, USAGE } from "./help.js";
import { VERSION } from "./version.js";

type CommandModule = { run: (argv: string[]) => Promise<number> };

/** Each command is imported only when run, so --help and --version stay fast. */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  init: () => import("./commands/init.ts"),
  validate: () => import("./commands/validate.ts"),
  render: () => import("./commands/render.ts"),
  schema: () => import("./commands/schema.ts"),
  up: () => import("./commands/up.ts"),
  down: () => import("./commands/down.ts"),
  status: () => import("./commands/status.ts"),
  open: () => import("./commands/open.ts"),
  logs: () => import("./commands/logs.ts"),
  exec: () => import("./commands/exec.ts"),
  gc: () => import("./commands/gc.ts"),
  backup: () => import("./commands/backup.ts"),
  restore: () => import("./commands/restore.ts"),
  doctor: () => import("./commands/doctor.ts"),
  plan: () => import("./commands/plan.ts"),
  promote: () => import("./commands/promote.ts"),
  destroy: () => import("./commands/destroy.ts"),
  unlock: () => import("./commands/unlock.ts"),
  parity: () => import("./commands/parity.ts"),
  rehearse: () => import("./commands/rehearse.ts"),
  models: () => import("./commands/models.ts"),
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    const topic = command === "help" ? rest[0] : undefined;
    if (topic !== undefined && COMMAND_HELP[topic] === undefined) return unknownCommand(topic, "help topic");
    process.stdout.write(topic ? (COMMAND_HELP[topic] ?? USAGE) : USAGE);
    return EXIT.ok;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const load = COMMANDS[command];
  if (!load) return unknownCommand(command, "command");
  // After `--` the words are a command's (exec), not ours: its --help is its own.
  const own = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (own.includes("--help") || own.includes("-h")) {
    process.stdout.write(COMMAND_HELP[command] ?? USAGE);
    return EXIT.ok;
  }
  try {
    const mod = await load();
    return await mod.run(rest);
  } catch (e) {
    return reportError(e, await import("./known-errors.ts"));
  }
}

async function unknownCommand(name: string, what: "command" | "help topic"): Promise<number> {
  const { nearestCommand } = await import("./suggest-command.ts");
  const guess = nearestCommand(name, Object.keys(COMMANDS));
  process.stderr.write(
    `error: unknown ${what} ${JSON.stringify(name)}.${guess ? ` Did you mean "${guess}"?` : ""} Run \`mlflow-dev --help\` for the list.\n`,
  );
  return EXIT.invalidInput;
}

export function reportError(e: unknown, known: typeof import("./known-errors.ts")): number {
  if (e instanceof UserError) {
    process.stderr.write(`error: ${e.message}\n`);
    if (e.hint) process.stderr.write(`${e.hint}\n`);
    return e.exitCode;
  }
  if (e instanceof known.FileWriteError) {
    process.stderr.write(`error: ${e.message}\n${e.hint}\n`);
    return e.invalidInput ? EXIT.invalidInput : EXIT.failed;
  }
  if (e instanceof known.SpecError) {
    process.stderr.write(`${e.message}\n`);
    return EXIT.invalidInput;
  }
  if (e instanceof known.DockerUnreachableError || e instanceof known.DockerContextError) {
    process.stderr.write(`error: ${e.message}\n${e.hint}\n`);
    return EXIT.failed;
  }
  // A Docker connection that fails after the first answer (the engine stopped mid-command): the
  // machine's problem, not ours.
  if (known.isConnectionError(e) && /docker|\.sock|pipe/i.test((e as Error).message)) {
    const message = (e as Error).message;
    process.stderr.write(
      `error: lost the Docker engine: ${message}\n${known.dockerUnreachableHint(known.localDockerEndpoint(), process.platform, message)}\n`,
    );
    return EXIT.failed;
  }
  const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
  process.stderr.write(`internal error (a bug in mlflow-dev, please report it):\n${detail}\n`);
  return EXIT.internal;
}
