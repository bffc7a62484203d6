import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { formatIssue, type SpecIssue } from "@mlflow-dev/spec";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { main } from "../src/main.ts";
import { corpusCases, corpusDir, corpusText, expectedLines } from "./corpus.ts";

/**
 * Every command that takes a spec refuses exactly what `validate` refuses: for each corpus case,
 * the same exit code and the same issue lines on stderr (and for a valid spec with warnings, the
 * same warnings). Commands that would reach Docker or AWS run only for the refused cases, where
 * they must stop at the spec.
 */

let stdout = "";
let stderr = "";
beforeEach(() => {
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function run(argv: string[]) {
  stdout = "";
  stderr = "";
  const code = await main(argv);
  return { code, stdout, stderr };
}

/** The AWS environments a case names (a made-up one when it cannot be read). */
function awsEnvironments(text: string): string[] {
  try {
    const doc = parse(text) as { environments?: Record<string, unknown> } | null;
    const names = Object.keys(doc?.environments ?? {}).filter((n) => n !== "local");
    return names.length > 0 ? names : ["staging"];
  } catch {
    return ["staging"];
  }
}

describe("every command refuses exactly what validate refuses (the invalid-spec corpus)", () => {
  it.each(corpusCases)("%s", async (file) => {
    const path = fileURLToPath(new URL(file, corpusDir));
    const shown = relative(process.cwd(), path);
    const validate = await run(["validate", "-f", path]);
    // validate prints the reviewed lines of the case, under the name the user gave.
    expect(validate.stderr.replaceAll(shown, file).trimEnd().split("\n")).toEqual(expectedLines(file));
    // validate --json (its own code path) reports the same issues, with the same exit code.
    const json = await run(["validate", "--json", "-f", path]);
    expect(json.code).toBe(validate.code);
    const reported = (JSON.parse(json.stdout) as { issues: SpecIssue[] }).issues.map(formatIssue);
    expect(reported.join("\n")).toBe(validate.stderr.trimEnd());
    const refused = validate.code === 2;
    if (!refused) expect(validate.code).toBe(0);

    const env = awsEnvironments(corpusText(file))[0] ?? "staging";
    const commands: string[][] = [
      ["render", "--env", "local"],
      ["render", "--env", env],
    ];
    if (refused)
      // These go on to Docker or AWS once the spec is valid; a refused spec must stop them first.
      commands.push(
        ["parity", "--env", env],
        ["plan", "--env", env],
        ["promote", "--env", env],
        ["rehearse", "--env", env],
        ["destroy", "--env", env, "--yes"],
        ["unlock", "--env", env],
        ["up"],
        ["status"],
        ["status", "--env", env],
        ["open", "--no-browser"],
        ["open", "--env", env, "--no-browser"],
        ["logs"],
        ["logs", "--env", env],
        ["doctor"],
        ["down"],
        ["backup"],
        ["restore", "no-such-backup"],
      );
    // exec's words after -- are the command's: its -f goes before them.
    if (refused) commands.push(["exec", "--env", env, "-f", path, "--", "true"], ["exec", "-f", path, "--", "true"]);
    for (const command of commands) {
      const r = await run(command[0] === "exec" ? command : [...command, "-f", path]);
      const name = command.join(" ");
      if (refused) {
        expect(r.code, name).toBe(2);
        expect(r.stderr, name).toBe(validate.stderr);
        expect(r.stdout, name).toBe("");
      } else {
        // The same warnings, first; what follows is the command's own business.
        expect(r.stderr.startsWith(validate.stderr), `${name}: ${r.stderr}`).toBe(true);
      }
    }
  });
});
