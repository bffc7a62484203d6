import { COMMANDS, findCommand } from "./command-table.js";
import { EXIT, UserError } from "./errors.ts";
import { commandHelp, USAGE } from "./help.js";
import { VERSION } from "./version.js";

/** Runs `mlflow-dev <argv>`: help and version here, every command through its entry in command-table.js. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    const topic = command === "help" ? rest[0] : undefined;
    if (topic === undefined) {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    const help = commandHelp(topic);
    if (help === undefined) return unknownCommand(topic, "help topic");
    process.stdout.write(help);
    return EXIT.ok;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const entry = findCommand(command);
  if (!entry) return unknownCommand(command, "command");
  // After `--` the words are a command's (exec), not ours: its --help is its own.
  const own = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (own.includes("--help") || own.includes("-h")) {
    process.stdout.write(commandHelp(command) ?? USAGE);
    return EXIT.ok;
  }
  try {
    // Each command is imported only when run, so --help and --version stay fast.
    const mod = await entry.load();
    return await mod.run(rest);
  } catch (e) {
    return reportError(e, await import("./known-errors.ts"));
  }
}

async function unknownCommand(name: string, what: "command" | "help topic"): Promise<number> {
  const { nearestCommand } = await import("./suggest-command.ts");
  const guess = nearestCommand(name, COMMANDS);
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
