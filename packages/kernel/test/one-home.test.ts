import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * ARCHITECTURE.md, "The kernel": the waits, the progress reporter, the secret generator, the
 * .env reader and the process runner each exist once, in packages/kernel. This test reads every
 * package's sources and fails on a second copy.
 */
const PACKAGES = fileURLToPath(new URL("../../", import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

// The shipped packages' sources. The test support (never shipped) starts processes and waits on
// containers as its tests need; it reads .env files through the kernel's reader all the same.
const SOURCES = readdirSync(PACKAGES, { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== "test-support")
  .flatMap((e) => {
    try {
      return files(join(PACKAGES, e.name, "src"));
    } catch {
      return [];
    }
  })
  .map((f) => ({ path: relative(PACKAGES, f), text: readFileSync(f, "utf8") }));

/** The files (relative to packages/) whose code, comments aside, matches `pattern`. */
function where(pattern: RegExp): string[] {
  return SOURCES.filter((f) => pattern.test(withoutComments(f.text))).map((f) => f.path);
}

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

describe("each shared piece has one home, in packages/kernel", () => {
  it("finds the package sources", () => {
    expect(SOURCES.length).toBeGreaterThan(100);
    expect(SOURCES.map((f) => f.path)).toContain("kernel/src/wait.ts");
  });

  it("waits: no timer outside the wait module (the transport's per-request timeout aside)", () => {
    // A request's own deadline is not a wait: it aborts one exchange.
    const allowed = ["kernel/src/wait.ts", "mlflow-client/src/transport.ts"];
    const timers = where(/(^|[^.\w])(setTimeout|setInterval)\s*\(|node:timers/);
    expect(timers.filter((f) => !allowed.includes(f))).toEqual([]);
    expect(where(/\bfunction\s+(poll|sleep)\b|\bconst\s+sleep\s*=/)).toEqual(["kernel/src/wait.ts"]);
  });

  it("progress: one reporter", () => {
    expect(where(/\binterface\s+Reporter\b/)).toEqual(["kernel/src/progress.ts"]);
    expect(where(/\bfunction\s+progress\s*\(/)).toEqual(["kernel/src/progress.ts"]);
  });

  it("secrets: one generator, and the system's randomness read in one module", () => {
    expect(where(/\brandomBytes\b/)).toEqual(["kernel/src/random.ts"]);
    expect(where(/\bfunction\s+generateSecret\b/)).toEqual(["kernel/src/secrets.ts"]);
  });

  it(".env: one reader", () => {
    expect(where(/\bparseEnv\b/)).toEqual(["kernel/src/env-file.ts"]);
    expect(where(/\bfunction\s+\w*(parse|read)Env(File|Variable|Vars)?\s*\(/i)).toEqual(["kernel/src/env-file.ts"]);
  });

  it("processes: execa is the one runner (no node:child_process in the packages)", () => {
    expect(where(/node:child_process/)).toEqual([]);
    expect(where(/\bfunction\s+(runStreaming|startDetached)\b/)).toEqual(["kernel/src/process.ts"]);
  });
});
