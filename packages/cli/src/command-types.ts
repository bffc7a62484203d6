/**
 * The shape of the command table (command-table.js). Types only: nothing here exists at run time,
 * so the table stays plain JavaScript that `--help` loads as fast as Node starts.
 */

/** Where a form of a command acts: the Docker Compose stack, or an AWS environment (`--env <aws env>`). */
export type Runtime = "local" | "aws";

/** One flag, as node:util parseArgs takes it and as help shows it. */
export interface OptionDef {
  /** The long name, without `--`. */
  name: string;
  type: "string" | "boolean";
  /** One letter, without `-`. */
  short?: string;
  /** Given more than once, every value is kept (else a second one is a usage error). */
  multiple?: boolean;
  /** What a string flag's value is, as help shows it: `<name>`. */
  value?: string;
  /** One sentence for the command's Flags list (wrapped there). */
  description: string;
  /** The only runtime whose form takes the flag; absent: every form of the command. */
  runtime?: Runtime;
}

/** A positional argument (the parser takes at most as many as the command declares). */
export interface PositionalDef {
  /** As help shows it: `<dir>`, `[service]`. */
  name: string;
  description: string;
}

/** One way to call a command: a line of its Usage, and of the top-level help and README list. */
export interface FormDef {
  /** The runtime this form acts on; absent for commands that are neither (init, validate, parity). */
  runtime?: Runtime;
  /**
   * What follows the command's name, as written: positional arguments and required flags
   * (`--env <name> --yes`, `(--version <n> | --alias <alias>)`). Every other flag of the form
   * is added as `[--flag <value>]` after it.
   */
  args: string;
  /** Flags of the command this form does not take (left out of its line). */
  omit?: string[];
  /** The form's line in the top-level help and the README's command list. */
  summary: string;
}

/** The sections of the top-level help, in order. */
export type Group = "spec" | "stack" | "parity" | "models";

export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

/** One command: everything the parser, the help texts, the suggestions and the README know of it. */
export interface CommandDef {
  /** The word that runs it: `mlflow-dev <name>`. */
  name: string;
  /** How it is called when that differs from the name (`models promote`): in help and messages. */
  invocation?: string;
  /** Its top-level section; a "stack" command's forms go under "Local stack" or "AWS" by runtime. */
  group: Group;
  forms: FormDef[];
  /** Its own flags; the global ones (`-f`, `--json`, `-h`) come from `takes`. */
  options: OptionDef[];
  positionals: PositionalDef[];
  /**
   * The global flags it takes besides -h/--help: `file` when it reads (or writes) the spec, `json`
   * when it prints data. A string says what the flag does for this command in its Flags list.
   */
  takes: { file?: true | string; json?: true | string };
  /** The help text after Usage: what it does, what it needs, its exit codes. */
  details: string;
  /** Full command lines (`mlflow-dev ...`), each parsed by a unit test. */
  examples: string[];
  /** Other tools' words for it (`deploy` for promote): "did you mean" answers with this command. */
  peerWords: string[];
  /** Its module, imported only when it runs (so help loads nothing heavy). */
  load: () => Promise<CommandModule>;
}
