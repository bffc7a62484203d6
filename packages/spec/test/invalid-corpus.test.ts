import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatIssue, parseSpec } from "../src/index.ts";

/**
 * Each invalid/NN-*.yaml has a reviewed NN-*.expected: the exact messages, with file:line:col.
 * Regenerate nothing blindly: a changed message is a user-visible change.
 */
const dir = new URL("./invalid/", import.meta.url);
const cases = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

describe("invalid spec corpus", () => {
  it("has at least 30 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)("%s", (file) => {
    const text = readFileSync(new URL(file, dir), "utf8");
    const expected = readFileSync(new URL(file.replace(/\.yaml$/, ".expected"), dir), "utf8").trimEnd();
    const result = parseSpec(text, file);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map(formatIssue).join("\n")).toBe(expected);
    for (const issue of result.issues) {
      expect(issue.line).toBeGreaterThan(0);
      expect(issue.col).toBeGreaterThan(0);
    }
  });
});
