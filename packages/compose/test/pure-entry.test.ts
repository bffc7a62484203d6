import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));
const IMPURE = /^(node:(fs|crypto|child_process|net|http|https|os)|dockerode|execa|@aws-sdk\/)/;

/** Every module the file imports, itself included, following relative imports. */
function closure(file: string, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const specifiers = [...readFileSync(file, "utf8").matchAll(/^(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms)].map(
    (m) => m[1]!,
  );
  seen.set(file, specifiers);
  for (const s of specifiers) if (s.startsWith(".")) closure(join(dirname(file), s), seen);
  return seen;
}

describe("the pure entry of @mlflow-dev/compose", () => {
  it("reaches no filesystem, randomness, process or network module (those are in ./files and ./runtime)", () => {
    const impure = [...closure(join(SRC, "index.ts"))].flatMap(([file, specifiers]) =>
      specifiers.filter((s) => IMPURE.test(s)).map((s) => `${file.slice(SRC.length)} imports ${s}`),
    );
    expect(impure).toEqual([]);
  });
});
