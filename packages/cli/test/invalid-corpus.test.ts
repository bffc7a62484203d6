import { formatIssue } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import { parseSpecText } from "../src/load-spec.ts";
import { corpusCases, corpusText, expectedLines } from "./corpus.ts";

/**
 * Each spec/test/invalid/NN-*.yaml has a reviewed NN-*.expected: the exact messages, with
 * file:line:col, of the validation every command runs (the schema and the AWS rules). A case whose
 * lines are all warnings is a valid spec that is warned about.
 * Regenerate nothing blindly: a changed message is a user-visible change.
 */
describe("invalid spec corpus", () => {
  it("has at least 120 cases", () => {
    expect(corpusCases.length).toBeGreaterThanOrEqual(120);
  });

  it.each(corpusCases)("%s", (file) => {
    const text = corpusText(file);
    const expected = expectedLines(file);
    const result = parseSpecText(text, file);
    const issues = result.ok ? result.warnings : result.issues;
    expect(issues.map(formatIssue)).toEqual(expected);
    expect(issues.length).toBeGreaterThan(0);
    // Valid exactly when every line is a warning.
    expect(result.ok).toBe(issues.every((i) => i.severity === "warning"));
    for (const issue of issues) {
      expect(issue.line).toBeGreaterThan(0);
      expect(issue.col).toBeGreaterThan(0);
    }
  });
});
