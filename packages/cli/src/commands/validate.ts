import { relative, resolve } from "node:path";
import { environmentNames, formatIssue } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT } from "../errors.ts";
import { loadSpec, parseSpecText, readSpecText } from "../load-spec.ts";

export async function run(argv: string[]): Promise<number> {
  const { global } = parseCommandArgs("validate", argv);
  if (global.json) {
    const text = readSpecText(global.file);
    const shown = relative(process.cwd(), resolve(global.file)) || global.file;
    const r = parseSpecText(text, shown);
    const out = r.ok
      ? { valid: true, file: shown, environments: environmentNames(r.spec), issues: r.warnings }
      : { valid: false, file: shown, issues: r.issues };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return r.ok ? EXIT.ok : EXIT.invalidInput;
  }
  const loaded = loadSpec(global.file);
  process.stdout.write(`${loaded.shown} is valid (environments: ${environmentNames(loaded.spec).join(", ")})\n`);
  return EXIT.ok;
}

export { formatIssue };
