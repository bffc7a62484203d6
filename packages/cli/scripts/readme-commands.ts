/**
 * The README's command list is generated from the command table: the block between the two
 * markers is rewritten by `pnpm docs:write` and checked by packages/cli/test/command-table.test.ts.
 */
import { commandList } from "../src/help.js";

export const BEGIN = "<!-- commands: generated from packages/cli/src/command-table.js by `pnpm docs:write` -->";
export const END = "<!-- /commands -->";

/** The block between the markers: the top-level help's command list, each line a full command. */
export function commandBlock(): string {
  return `\`\`\`\n${commandList({ indent: "", prefix: "mlflow-dev ", column: 37 })}\n\`\`\``;
}

/** The README with its command list regenerated; throws when the markers are missing or out of order. */
export function withCommandBlock(readme: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin)
    throw new Error(`README.md needs the lines\n${BEGIN}\n${END}\naround its command list, in that order`);
  return `${readme.slice(0, begin + BEGIN.length)}\n${commandBlock()}\n${readme.slice(end)}`;
}
