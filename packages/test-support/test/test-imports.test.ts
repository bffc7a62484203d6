import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../src/root.ts";

/**
 * Tests reach a workspace package through its name and exports (`@mlflow-dev/aws/deploy`,
 * `@mlflow-dev/test-support`), never by a relative path into its files: a package's own unit tests
 * may import its sources (`../src/...`), nothing else may. Other packages' test/ folders (shared
 * fakes, not sources) and files outside packages/ (pins.json) stay reachable by path.
 */

/** Every .ts/.js file under `dir` (relative to the root), node_modules left out. */
function files(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(join(ROOT, dir))) return out;
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name) && !path.split(sep).includes("node_modules"))
      out.push(relative(ROOT, path));
  }
  return out;
}

/** The workspace package a repository path lies in (its folder under packages/), if any. */
function packageOf(path: string): string | undefined {
  const [top, name] = path.split(sep);
  return top === "packages" ? name : undefined;
}

/** The relative module specifiers of a file: static imports, re-exports and dynamic imports. */
function relativeImports(text: string): string[] {
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+["']([^"']+)["']/gm),
    ...text.matchAll(/^\s*import\s+["']([^"']+)["']/gm),
    ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1] ?? "");
  return specifiers.filter((s) => s.startsWith("."));
}

/** What a test file imports by relative path that it should import through a package name. */
export function reachesIntoPackages(file: string, text: string): string[] {
  const own = packageOf(file);
  return relativeImports(text).filter((specifier) => {
    const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
    const pkg = packageOf(target);
    if (pkg === undefined || pkg === own) return false;
    // Another package's test folder holds fakes and helpers, not the package's sources.
    return target.split(sep)[2] !== "test";
  });
}

const TEST_FILES = [
  ...files("test"),
  ...readdirSync(join(ROOT, "packages")).flatMap((p) => files(join("packages", p, "test"))),
  ...files("packages/test-support/src"),
  // This file's examples below are strings, not imports.
].filter((f) => f !== join("packages", "test-support", "test", "test-imports.test.ts"));

describe("test files import workspace packages by name", () => {
  it("finds the test files", () => {
    expect(TEST_FILES).toContain(join("test", "integration", "promote.test.ts"));
    expect(TEST_FILES).toContain(join("packages", "cli", "test", "cli.test.ts"));
    expect(TEST_FILES.length).toBeGreaterThan(80);
  });

  it("no test file imports another package's files (or, from test/, any package's) by relative path", () => {
    const offenders = TEST_FILES.flatMap((file) =>
      reachesIntoPackages(file, readFileSync(join(ROOT, file), "utf8")).map((s) => `${file} imports ${s}`),
    );
    expect(offenders).toEqual([]);
  });

  it("no package's source imports the test support", () => {
    const sources = readdirSync(join(ROOT, "packages"))
      .filter((p) => p !== "test-support")
      .flatMap((p) => [...files(join("packages", p, "src")), ...files(join("packages", p, "bin"))]);
    expect(sources.length).toBeGreaterThan(50);
    const offenders = sources.filter((f) => readFileSync(join(ROOT, f), "utf8").includes("@mlflow-dev/test-support"));
    expect(offenders).toEqual([]);
  });

  it("catches the ways such an import is written, and lets the allowed ones pass", () => {
    const cases: [string, string, string[]][] = [
      [
        "test/integration/x.test.ts",
        'import { a } from "../../packages/aws/src/deploy/index.ts";',
        ["../../packages/aws/src/deploy/index.ts"],
      ],
      [
        "test/integration/x.test.ts",
        'import {\n  a,\n  b,\n} from "../../packages/spec/src/index.ts";',
        ["../../packages/spec/src/index.ts"],
      ],
      [
        "test/package/x.test.ts",
        'const m = await import("../../packages/cli/scripts/manifest.ts");',
        ["../../packages/cli/scripts/manifest.ts"],
      ],
      ["packages/cli/test/x.test.ts", 'export { x } from "../../aws/src/index.ts";', ["../../aws/src/index.ts"]],
      [
        "packages/test-support/src/x.ts",
        'import "../../compose/src/runtime/index.ts";',
        ["../../compose/src/runtime/index.ts"],
      ],
      ["packages/cli/test/x.test.ts", 'import { main } from "../src/main.ts";', []],
      ["packages/cli/test/x.test.ts", 'import { FakeAws } from "../../aws/test/fake-aws.ts";', []],
      ["test/integration/x.test.ts", 'import pins from "../../pins.json" with { type: "json" };', []],
      ["test/integration/x.test.ts", 'import { cli } from "@mlflow-dev/test-support";', []],
    ];
    for (const [file, text, expected] of cases)
      expect(reachesIntoPackages(file.split("/").join(sep), text), text).toEqual(expected);
  });
});
