// @ts-check
/**
 * Help texts, rendered from the command table (command-table.js): the top-level help, each
 * command's help and the README's command list. Plain JavaScript that imports only the table, so
 * `--help` loads nothing heavy.
 *
 * @import { CommandDef, FormDef, OptionDef } from "./command-types.ts"
 */
import { COMMANDS, commandOptions, findCommand, GLOBAL_OPTIONS, SECTIONS } from "./command-table.js";

/** Lines are wrapped at this width. */
const WIDTH = 100;
/** Where a top-level line's summary starts. */
const SUMMARY_COLUMN = 28;
/** Where a Flags or Arguments line's description starts. */
const FLAG_COLUMN = 30;

/** The words joined by spaces into lines of at most `width`, each after the first starting with `indent`. */
function wrap(/** @type {string[]} */ words, /** @type {number} */ width, /** @type {string} */ indent) {
  /** @type {string[]} */
  const lines = [];
  let line = "";
  for (const word of words) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else line = line === "" || line === indent ? line + word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** `head` padded to `column`, then `text` wrapped beside it (on the next line when head is too long). */
function columns(/** @type {string} */ head, /** @type {string} */ text, /** @type {number} */ column) {
  const pad = " ".repeat(column);
  const body = wrap(text.split(" "), WIDTH - column, "").map((l) => pad + l);
  if (head.length >= column - 1) return [head, ...body];
  return body.map((l, i) => (i === 0 ? head.padEnd(column) + l.slice(column) : l));
}

/** How a flag is written in a synopsis: `[--tail <n>]`, `[--follow|-F]`, `[-f <path>]`, `[--allow-replace <id>]...`. */
function flagToken(/** @type {OptionDef} */ o, /** @type {boolean} */ shorts) {
  const global = o.name in GLOBAL_OPTIONS;
  const name = global && o.short ? `-${o.short}` : `--${o.name}${shorts && o.short ? `|-${o.short}` : ""}`;
  const text = o.type === "string" ? `${name} ${o.value ?? "<value>"}` : name;
  return `[${text}]${o.multiple ? "..." : ""}`;
}

/** The runtimes a command's forms act on. */
function runtimesOf(/** @type {CommandDef} */ command) {
  return new Set(command.forms.flatMap((f) => (f.runtime ? [f.runtime] : [])));
}

/** The flags a form shows after its `args`: its runtime's, not written in `args`, not omitted. */
function formFlags(/** @type {CommandDef} */ command, /** @type {FormDef} */ form) {
  return commandOptions(command).filter(
    (o) =>
      o.name !== "help" &&
      !new RegExp(`--${o.name}(?![\\w-])`).test(form.args) &&
      !(form.omit ?? []).includes(o.name) &&
      (o.runtime === undefined || form.runtime === undefined || o.runtime === form.runtime),
  );
}

/** The words of a form's synopsis after `mlflow-dev`: the command, its args, its flags (before a `--`). */
function synopsis(
  /** @type {CommandDef} */ command,
  /** @type {FormDef} */ form,
  /** @type {{ shorts: boolean, leaveOut: (o: OptionDef) => boolean }} */ how,
) {
  const flags = formFlags(command, form)
    .filter((o) => !how.leaveOut(o))
    .map((o) => flagToken(o, how.shorts));
  const at = form.args.indexOf("-- ");
  const before = (at < 0 ? form.args : form.args.slice(0, at)).trim();
  const after = at < 0 ? [] : [form.args.slice(at)];
  return [command.invocation ?? command.name, ...(before ? [before] : []), ...flags, ...after];
}

/** The section of the top-level help a form is listed in. */
function sectionOf(/** @type {CommandDef} */ command, /** @type {FormDef} */ form) {
  return command.group === "stack" ? (form.runtime ?? "local") : command.group;
}

/**
 * The command list of the top-level help (and, with `prefix: "mlflow-dev "`, of the README): per
 * section, one line per form, its synopsis (the command's own flags) and its summary. Commands
 * that only act on AWS come first in the AWS section.
 */
export function commandList(/** @type {{ indent: string, prefix: string, column: number }} */ layout) {
  /** @type {string[]} */
  const out = [];
  for (const section of SECTIONS) {
    const named = section.named ?? [];
    const leaveOut = (/** @type {OptionDef} */ o) => o.name in GLOBAL_OPTIONS || named.includes(o.name);
    const forms = COMMANDS.flatMap((command) =>
      command.forms.filter((f) => sectionOf(command, f) === section.id).map((form) => ({ command, form })),
    );
    const awsOnly = (/** @type {CommandDef} */ c) => !runtimesOf(c).has("local");
    if (section.id === "aws") forms.sort((a, b) => Number(awsOnly(b.command)) - Number(awsOnly(a.command)));
    if (forms.length === 0) continue;
    out.push("", section.title);
    for (const { command, form } of forms) {
      const words = synopsis(command, form, { shorts: false, leaveOut });
      const head = wrap([layout.prefix + words[0], ...words.slice(1)], WIDTH - layout.indent.length, "    ").map(
        (l) => layout.indent + l,
      );
      // A synopsis on more than one line has its summary below it.
      if (head.length > 1) out.push(...head, ...columns("", form.summary, layout.column));
      else out.push(...columns(head[0] ?? "", form.summary, layout.column));
    }
  }
  return out.slice(1).join("\n");
}

/** `mlflow-dev --help`. */
export function topLevelHelp() {
  const globals = [
    ["-f, --file <path>", GLOBAL_OPTIONS.file.description],
    ["    --json", `${GLOBAL_OPTIONS.json.description} (the commands that print data)`],
    ["-h, --help", "Help (also: mlflow-dev <command> --help, mlflow-dev help <command>)"],
    ["-v, --version", "Print the version"],
  ].flatMap(([head, text]) => columns(`  ${head}`, text ?? "", SUMMARY_COLUMN));
  return `mlflow-dev: one spec, an MLflow tracking service on your laptop and on AWS ECS Fargate

Usage: mlflow-dev <command> [flags]

${commandList({ indent: "  ", prefix: "", column: SUMMARY_COLUMN })}

Global flags:
${globals.join("\n")}

Exit codes: 0 ok, 1 failed (or a problem found), 2 invalid input (nothing changed), 70 internal error.
`;
}

/** A Flags line: `  -F, --follow`, `      --tail <n>`, then the description. */
function flagLine(/** @type {CommandDef} */ command, /** @type {OptionDef} */ o) {
  const name = `${o.short ? `-${o.short}, ` : "    "}--${o.name}${o.type === "string" ? ` ${o.value ?? "<value>"}` : ""}`;
  // A flag of one runtime says so, unless every form of that runtime writes it out (--env <aws env>).
  const forms = command.forms.filter((f) => f.runtime === o.runtime);
  const written = forms.every((f) => new RegExp(`--${o.name}(?![\\w-])`).test(f.args));
  const only =
    o.runtime && runtimesOf(command).size > 1 && !written ? ` (${o.runtime === "aws" ? "AWS" : "local"} only)` : "";
  return columns(`  ${name}${o.multiple ? " (repeatable)" : ""}`, o.description + only, FLAG_COLUMN);
}

/** `mlflow-dev help <command>` and `mlflow-dev <command> --help`; undefined for no such command. */
export function commandHelp(/** @type {string} */ name) {
  const command = findCommand(name);
  if (command === undefined) return undefined;
  const usage = command.forms.flatMap((form, i) => {
    const words = synopsis(command, form, { shorts: true, leaveOut: () => false });
    const lead = i === 0 ? "Usage: mlflow-dev" : "       mlflow-dev";
    return wrap(
      [`${lead} ${words[0]}`, ...words.slice(1)],
      WIDTH,
      " ".repeat(lead.length + 1 + (words[0] ?? "").length + 1),
    );
  });
  const args = command.positionals.flatMap((p) => columns(`  ${p.name}`, p.description, FLAG_COLUMN));
  const flags = commandOptions(command).flatMap((o) => flagLine(command, o));
  return [
    usage.join("\n"),
    "",
    command.details.trimEnd(),
    ...(args.length ? ["", "Arguments:", ...args] : []),
    "",
    "Flags:",
    ...flags,
    ...(command.examples.length ? ["", "Examples:", ...command.examples.map((e) => `  ${e}`)] : []),
    "",
  ].join("\n");
}

/** The top-level help, for the bin's fast path. */
export const USAGE = topLevelHelp();
