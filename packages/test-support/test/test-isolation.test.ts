import { globSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MODULE_MOCKING_UNIT_FILES, UNIT_TEST_FILES } from "../../../vitest.config.ts";
import { ROOT } from "../src/root.ts";

/**
 * The unit tier shares one module graph per worker (vitest.config.ts), where vi.mock cannot replace
 * a module an earlier file already loaded: every unit file that mocks a module must run in the
 * isolated project instead, and only those do.
 */

/** The unit tier's files, by the unit projects' own pattern. */
function unitTestFiles(): string[] {
  return globSync(UNIT_TEST_FILES, { cwd: ROOT }).sort();
}

describe("unit test isolation", () => {
  it("finds the unit test files", () => {
    expect(unitTestFiles().length).toBeGreaterThan(50);
  });

  it("every unit file that mocks a module runs isolated, and every isolated file mocks one", () => {
    const mocking = unitTestFiles().filter((f) => /\bvi\.(do)?mock\(/.test(readFileSync(join(ROOT, f), "utf8")));
    expect(mocking).toEqual([...MODULE_MOCKING_UNIT_FILES].sort());
  });
});
