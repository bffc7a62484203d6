import { readdirSync, readFileSync } from "node:fs";

/**
 * The invalid-spec corpus (spec/test/invalid): each NN-*.yaml with its reviewed NN-*.expected, the
 * exact lines (file:line:col path: message) that validation prints for it.
 */
export const corpusDir = new URL("../../spec/test/invalid/", import.meta.url);

export const corpusCases: string[] = readdirSync(corpusDir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

export function corpusText(file: string): string {
  return readFileSync(new URL(file, corpusDir), "utf8");
}

export function expectedLines(file: string): string[] {
  return readFileSync(new URL(file.replace(/\.yaml$/, ".expected"), corpusDir), "utf8")
    .trimEnd()
    .split("\n");
}
