import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { specJsonSchema } from "../src/index.ts";

const target = fileURLToPath(new URL("../schema.json", import.meta.url));
writeFileSync(target, `${JSON.stringify(specJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
