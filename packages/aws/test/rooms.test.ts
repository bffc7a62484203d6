import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * ARCHITECTURE.md, "The AWS package": three rooms. render/ (and pricing/) is pure and knows
 * nothing of deploying; deploy/engine/ is the only code that loads the AWS SDK (and so the only
 * code that constructs its clients); the operations in deploy/ take the engine (AwsEngine) as a
 * parameter, never hold a client, and may name SDK types, never load the SDK themselves. The
 * engine does not reach back into the operations. The CLI's edge is the one place that builds it.
 */
const SRC = fileURLToPath(new URL("../src/", import.meta.url));
const PACKAGES = fileURLToPath(new URL("../../", import.meta.url));

/** TypeScript and JavaScript sources under dir. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

interface Import {
  specifier: string;
  typeOnly: boolean;
}

/** Static imports and re-exports (with whether they bring types only) and dynamic imports. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const statics = [...text.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s+from\s+"([^"]+)"/gms)].map((m) => {
    const clause = m[3] ?? "";
    const names = clause
      .replace(/^\{|\}$/g, "")
      .split(",")
      .map((n) => n.trim())
      .filter(Boolean);
    const typeOnly = Boolean(m[2]) || (clause.startsWith("{") && names.every((n) => n.startsWith("type ")));
    return { specifier: m[4] ?? "", typeOnly };
  });
  const dynamics = [...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => ({
    specifier: m[1] ?? "",
    typeOnly: false,
  }));
  return [...statics, ...dynamics];
}

const room = (file: string) => relative(SRC, file).split("/").slice(0, -1).join("/") || ".";
const target = (file: string, specifier: string) => relative(SRC, join(dirname(file), specifier));

describe("the AWS package's rooms", () => {
  const all = files(SRC);

  it("finds the three rooms", () => {
    const rooms = new Set(all.map(room));
    for (const r of ["render", "render/cloudformation", "pricing", "deploy", "deploy/engine"])
      expect(rooms).toContain(r);
  });

  it("render/ and pricing/ import nothing from deploy/ and no AWS SDK, not even its types", () => {
    const bad = all
      .filter((f) => /^(render|pricing)(\/|$)/.test(room(f)))
      .flatMap((f) =>
        importsOf(f)
          .filter(
            (i) =>
              i.specifier.startsWith("@aws-sdk/") ||
              (i.specifier.startsWith(".") && target(f, i.specifier).startsWith("deploy/")),
          )
          .map((i) => `${relative(SRC, f)} imports ${i.specifier}`),
      );
    expect(bad).toEqual([]);
  });

  it("only deploy/engine/ loads the AWS SDK (elsewhere: types only)", () => {
    const bad = all
      .filter((f) => !room(f).startsWith("deploy/engine"))
      .flatMap((f) =>
        importsOf(f)
          .filter((i) => i.specifier.startsWith("@aws-sdk/") && !i.typeOnly)
          .map((i) => `${relative(SRC, f)} loads ${i.specifier}`),
      );
    expect(bad).toEqual([]);
  });

  it("SDK clients are constructed in one place: deploy/engine/clients.ts", () => {
    const constructing = all.filter((f) =>
      importsOf(f).some(
        (i) =>
          i.specifier.startsWith("@aws-sdk/client-") &&
          !i.typeOnly &&
          /\bnew\s+\w+\.\w+\(/.test(readFileSync(f, "utf8")),
      ),
    );
    expect(constructing.map((f) => relative(SRC, f))).toEqual(["deploy/engine/clients.ts"]);
  });

  it("the engine does not import the operations (only render/ and deploy's shared kernel)", () => {
    const kernel = new Set(["deploy/errors.ts", "deploy/options.ts", "deploy/diff.ts", "deploy/stack-status.ts"]);
    const bad = all
      .filter((f) => room(f) === "deploy/engine")
      .flatMap((f) =>
        importsOf(f)
          .filter((i) => i.specifier.startsWith("."))
          .map((i) => target(f, i.specifier))
          .filter((t) => !t.startsWith("deploy/engine/") && !t.startsWith("render/") && !kernel.has(t))
          .map((t) => `${relative(SRC, f)} imports ${t}`),
      );
    expect(bad).toEqual([]);
  });

  it("the operations in deploy/ take the engine: none names the SDK clients or builds an engine", () => {
    const bad = all
      .filter((f) => room(f) === "deploy" && !f.endsWith("/index.ts"))
      .flatMap((f) => {
        const text = readFileSync(f, "utf8");
        return [
          ...importsOf(f)
            .filter((i) => i.specifier.startsWith(".") && target(f, i.specifier) === "deploy/engine/clients.ts")
            .map(() => `${relative(SRC, f)} imports engine/clients.ts`),
          ...(/\bAwsClients\b|\bcreateAwsEngine\(|\bcreateAwsClients\(/.test(text)
            ? [`${relative(SRC, f)} names the SDK clients or builds an engine`]
            : []),
        ];
      });
    expect(bad).toEqual([]);
  });

  it("the engine and its SDK clients are opened in one place outside the AWS package: the CLI's openAwsEngine", () => {
    // The shipped packages: test-support is test code, which opens the emulator as tests do.
    const outside = readdirSync(PACKAGES)
      .filter((p) => p !== "aws" && p !== "test-support")
      .map((p) => join(PACKAGES, p, "src"))
      .filter((dir) => existsSync(dir))
      .flatMap((dir) => sourceFiles(dir));
    const calling = (pattern: RegExp) =>
      outside.filter((f) => pattern.test(readFileSync(f, "utf8"))).map((f) => relative(PACKAGES, f));
    expect(calling(/\bcreateAwsEngine\(/)).toEqual(["cli/src/commands/aws-common.ts"]);
    expect(calling(/\bcreateAwsClients\(/)).toEqual(["cli/src/commands/aws-common.ts"]);
  });
});
