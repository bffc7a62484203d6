import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { splitShellWords } from "../../parity/test/shell-words.ts";
import { commandBlock, withCommandBlock } from "../scripts/readme-commands.ts";
import { parseCommandArgs, parserOptions } from "../src/args.ts";
import { COMMANDS, commandOptions, SECTIONS } from "../src/command-table.js";
import { splitExecArgs } from "../src/commands/exec.ts";
import { followShorthand } from "../src/commands/logs.ts";
import { commandHelp, USAGE } from "../src/help.js";
import { main } from "../src/main.ts";
import { nearestCommand, peerVerbs } from "../src/suggest-command.ts";

/**
 * The parser, the help texts, the suggestions and the README's command list all come from
 * command-table.js; these tests read each rendering back and hold it against what the parser
 * accepts, so a flag cannot be in one and not the other.
 */

const names = COMMANDS.map((c) => c.name);

/** The long and short flags node:util parseArgs is given for a command. */
function accepted(name: string) {
  const spec = parserOptions(name);
  return {
    long: new Set(Object.keys(spec)),
    short: new Map(Object.entries(spec).flatMap(([long, o]) => (o.short ? [[o.short, long] as const] : []))),
  };
}

/** The part of a help text from a heading line to the next blank line. */
function section(text: string, heading: string): string[] {
  const lines = text.split("\n");
  const at = lines.indexOf(heading);
  if (at < 0) return [];
  const end = lines.indexOf("", at);
  return lines.slice(at + 1, end < 0 ? undefined : end);
}

/** The flags written in a text: `--name` and `-x` (a lone letter after a space, bracket or bar). */
function flagsIn(text: string): { long: string[]; short: string[] } {
  return {
    long: [...text.matchAll(/(?<![\w-])--([a-z][\w-]*)/g)].map((m) => m[1]!),
    short: [...text.matchAll(/(?<=[\s[|]|^)-([a-zA-Z])(?![\w-])/g)].map((m) => m[1]!),
  };
}

describe("help and the parser come from the same table", () => {
  it.each(names)("%s: its Flags list is exactly the flags the parser takes", (name) => {
    const help = commandHelp(name)!;
    const listed = section(help, "Flags:").flatMap((line) => {
      const m = /^ {2}(?:-([a-zA-Z]), | {4})--([a-z][\w-]*)/.exec(line);
      return m ? [{ short: m[1], long: m[2]! }] : [];
    });
    const { long, short } = accepted(name);
    expect(listed.map((f) => f.long).sort()).toEqual([...long].sort());
    expect(new Map(listed.flatMap((f) => (f.short ? [[f.short, f.long] as const] : [])))).toEqual(short);
  });

  it.each(names)("%s: its Usage lines name only flags it takes, and every one of them", (name) => {
    const help = commandHelp(name)!;
    const usage = help.slice(0, help.indexOf("\n\n"));
    expect(usage).toMatch(
      new RegExp(`^Usage: mlflow-dev ${COMMANDS.find((c) => c.name === name)!.invocation ?? name}`),
    );
    const { long, short } = accepted(name);
    const written = flagsIn(usage);
    for (const f of written.long) expect(long, `${name}: Usage names --${f}`).toContain(f);
    for (const s of written.short) expect([...short.keys()], `${name}: Usage names -${s}`).toContain(s);
    const shown = new Set([...written.long, ...written.short.map((s) => short.get(s)!)]);
    for (const f of long) if (f !== "help") expect(shown, `${name}: Usage leaves out --${f}`).toContain(f);
  });

  it.each(names)("%s: the flags its text mentions are its own (or the named command's)", (name) => {
    const details = COMMANDS.find((c) => c.name === name)!.details;
    // `mlflow-dev <other> --flag ...` in backticks speaks of the other command's flags.
    const spans = [...details.matchAll(/`mlflow-dev ([a-z]+)([^`]*)`/g)];
    for (const [, other, rest] of spans) {
      expect(names, `${name} names mlflow-dev ${other}`).toContain(other);
      for (const f of flagsIn(rest!).long) expect(accepted(other!).long, `${name}: ${other} --${f}`).toContain(f);
    }
    // Other code in backticks (`docker compose run --rm`) is another program's.
    const own = details.replace(/`[^`]*`/g, "");
    for (const f of flagsIn(own).long) expect(accepted(name).long, `${name}'s help mentions --${f}`).toContain(f);
  });

  it.each(names)("%s: every example parses", (name) => {
    const command = COMMANDS.find((c) => c.name === name)!;
    const invocation = (command.invocation ?? name).split(" ");
    expect(command.examples.length, `${name} has no example`).toBeGreaterThan(0);
    for (const example of command.examples) {
      const words = splitShellWords(example).map((w) => w.text);
      const redirect = words.findIndex((w) => /^\d?>/.test(w));
      const line = redirect < 0 ? words : words.slice(0, redirect);
      expect(line.slice(0, invocation.length + 1), example).toEqual(["mlflow-dev", ...invocation]);
      let argv = line.slice(invocation.length + 1);
      if (name === "exec") argv = splitExecArgs(argv).own;
      if (name === "logs") argv = followShorthand(argv, () => false);
      expect(() => parseCommandArgs(name, argv), example).not.toThrow();
    }
  });

  it("the top-level help's lines name only flags of their command, and each section's flags fit all its commands", () => {
    let command = "";
    let sectionFlags: string[] = [];
    for (const line of USAGE.split("\n")) {
      const title = SECTIONS.find((s) => s.title === line);
      if (title) {
        sectionFlags = title.named ?? [];
        for (const f of flagsIn(line).long) expect(sectionFlags, line).toContain(f);
        continue;
      }
      const head = /^ {2}([a-z]+)\b/.exec(line);
      if (head && names.includes(head[1]!)) {
        command = head[1]!;
        for (const f of sectionFlags) expect(accepted(command).long, `${command} under "${f}"`).toContain(f);
      }
      // Continuation lines belong to the command above; summaries may mention its flags too.
      if (command && /^ {2}/.test(line))
        for (const f of flagsIn(line).long) expect(accepted(command).long, line).toContain(f);
      if (line === "Global flags:") command = "";
    }
    for (const name of names)
      expect(USAGE).toContain(`\n  ${COMMANDS.find((c) => c.name === name)!.invocation ?? name}`);
  });

  it("the global flags a command takes are named in its table entry; -h/--help by all", () => {
    for (const c of COMMANDS) {
      const flags = commandOptions(c).map((o) => o.name);
      expect(flags).toContain("help");
      expect(flags.includes("file")).toBe(c.takes.file !== undefined);
      expect(flags.includes("json")).toBe(c.takes.json !== undefined);
      expect(new Set(flags).size, `${c.name} lists a flag twice`).toBe(flags.length);
    }
  });
});

describe("help <command> and <command> --help print the same text", () => {
  let stdout = "";
  beforeEach(() => {
    stdout = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it.each(names)("%s", async (name) => {
    const words = (COMMANDS.find((c) => c.name === name)!.invocation ?? name).split(" ");
    expect(await main(["help", name])).toBe(0);
    const viaHelp = stdout;
    stdout = "";
    expect(await main([...words, "--help"])).toBe(0);
    expect(stdout).toBe(viaHelp);
    expect(viaHelp).toBe(commandHelp(name));
  });
});

describe("suggestions come from the table", () => {
  it("each peer word names one command and is no command itself", () => {
    const words = COMMANDS.flatMap((c) => c.peerWords);
    expect(new Set(words).size).toBe(words.length);
    for (const w of words) expect(names).not.toContain(w);
    for (const [word, command] of peerVerbs(COMMANDS)) expect(nearestCommand(word, COMMANDS)).toBe(command);
  });

  it("a misspelled command gets the nearest one", () => {
    expect(nearestCommand("promot", COMMANDS)).toBe("promote");
    expect(nearestCommand("deploy", COMMANDS)).toBe("promote");
  });

  it("a flag of another command is unknown here, with the nearest flag of this one", () => {
    expect(() => parseCommandArgs("render", ["--envv", "x"])).toThrow(
      "render: unknown flag --envv; did you mean --env?",
    );
    expect(() => parseCommandArgs("down", ["--json"])).toThrow("down: --json has no use here: down prints no data");
    expect(() => parseCommandArgs("schema", ["-f", "x.yaml"])).toThrow(
      "schema: -f has no use here: schema reads no spec",
    );
  });
});

describe("every command runs from its table entry", () => {
  it.each(names)("%s: load() gives a module with run()", async (name) => {
    const mod = await COMMANDS.find((c) => c.name === name)!.load();
    expect(typeof mod.run).toBe("function");
  });
});

describe("README.md's command list", () => {
  it("is the table's (run `pnpm docs:write` after changing command-table.js)", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    expect(withCommandBlock(readme)).toBe(readme);
    expect(readme).toContain(commandBlock());
  });
});
