/**
 * `pnpm docs:write`: rewrites the generated parts of the documentation from the code (today the
 * README's command list, from the command table). A unit test fails while they differ.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { withCommandBlock } from "./readme-commands.ts";

const readme = fileURLToPath(new URL("../../../README.md", import.meta.url));
const before = readFileSync(readme, "utf8");
const after = withCommandBlock(before);
if (after !== before) writeFileSync(readme, after);
console.log(after === before ? "README.md: command list up to date" : "README.md: command list rewritten");
