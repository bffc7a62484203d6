import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * ARCHITECTURE.md: the middle of the pipeline (parse, validate, resolve, render, static parity)
 * is pure. Every module those entries reach, across the workspace packages, imports no
 * filesystem, randomness, process, network, Docker or AWS SDK module.
 */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const IMPURE =
  /^(node:(fs|fs\/promises|crypto|child_process|net|http|https|os|dns|tls)|dockerode|execa|undici|@aws-sdk\/)/;
const WORKSPACE: Record<string, string> = {
  "@mlflow-dev/spec": "packages/spec/src/index.ts",
  "@mlflow-dev/compose": "packages/compose/src/index.ts",
  "@mlflow-dev/aws": "packages/aws/src/index.ts",
  // The kernel's pure modules; its others (wait, random, process, progress) are edges.
  "@mlflow-dev/kernel/secrets": "packages/kernel/src/secrets.ts",
  "@mlflow-dev/kernel/env-file": "packages/kernel/src/env-file.ts",
};
const PURE_ENTRIES = [
  "packages/spec/src/index.ts",
  "packages/compose/src/index.ts",
  "packages/aws/src/index.ts",
  "packages/parity/src/static/compare.ts",
  "packages/parity/src/static/facets.ts",
  "packages/parity/src/static/builtin.ts",
  "packages/parity/src/static/format.ts",
];

/** Every module the file reaches, following relative and workspace imports. */
function closure(file: string, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/^(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1] ?? "");
  seen.set(file, specifiers);
  for (const s of specifiers) {
    if (s.endsWith(".json")) continue;
    if (s.startsWith(".")) closure(join(dirname(file), s), seen);
    else if (s.startsWith("@mlflow-dev/")) {
      const target = WORKSPACE[s];
      // Any other entry of a workspace package (compose/files, compose/runtime, aws/deploy, the
      // client) is an edge: reaching it from the middle is the failure this test looks for.
      if (target) closure(join(ROOT, target), seen);
      else seen.set(`${file} -> ${s}`, [s]);
    }
  }
  return seen;
}

describe("the pure middle", () => {
  it.each(PURE_ENTRIES)("%s reaches no IO module", (entry) => {
    const impure = [...closure(join(ROOT, entry))].flatMap(([file, specifiers]) =>
      specifiers
        .filter((s) => IMPURE.test(s) || (s.startsWith("@mlflow-dev/") && !(s in WORKSPACE)))
        .map((s) => `${file.replace(ROOT, "")} imports ${s}`),
    );
    expect(impure).toEqual([]);
  });
});
