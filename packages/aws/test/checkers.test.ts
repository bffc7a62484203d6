import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import { type Template, toTemplate, toTemplateYaml } from "../src/index.ts";
import { allCases } from "./helpers.ts";

/** The real checkers, run on every rendered template. */

function available(command: string): boolean {
  const r = spawnSync(command, ["--version"], { stdio: "ignore" });
  return r.error === undefined && r.status === 0;
}

function writeTemplates(): { dir: string; files: string[]; regions: string[]; templates: Map<string, Template> } {
  const dir = tempDir("mlflow-dev-aws-");
  const files: string[] = [];
  const regions = new Set<string>();
  const templates = new Map<string, Template>();
  for (const { label, model } of allCases()) {
    const file = join(dir, `${label.replace(/[^A-Za-z0-9-]+/g, "_")}.template.yaml`);
    writeFileSync(file, toTemplateYaml(model));
    files.push(file);
    templates.set(file, toTemplate(model));
    if (model.target.kind === "aws") regions.add(model.target.region);
  }
  return { dir, files, regions: [...regions].sort(), templates };
}

const CFN_LINT = "cfn-lint";
const hasCfnLint = available(CFN_LINT);
if (!hasCfnLint && !process.env.CI)
  console.warn(
    "packages/aws: skipping the cfn-lint check: cfn-lint is not on PATH. Install it with `pip install cfn-lint`",
  );

// Required in CI: when CI is set and cfn-lint is missing, the test runs and fails.
describe.skipIf(!hasCfnLint && !process.env.CI)("cfn-lint", () => {
  it("accepts every rendered template with no error, warning or informational finding", () => {
    if (!hasCfnLint)
      throw new Error("cfn-lint is not on PATH but CI is set: install it in the CI image (pip install cfn-lint)");
    const { files, regions } = writeTemplates();
    const r = spawnSync(CFN_LINT, ["--include-checks", "I", "--regions", ...regions, "--", ...files], {
      encoding: "utf8",
    });
    expect(`${r.stdout}${r.stderr}`.trim(), "cfn-lint findings").toBe("");
    expect(r.status).toBe(0);
  }, 120_000);
});

/**
 * checkov is a large Python install: scripts/bootstrap.sh puts it in its own venv and
 * scripts/test.sh names it by CHECKOV. Outside CI the check runs when it is on PATH.
 */
const CHECKOV = process.env.CHECKOV ?? "checkov";
const hasCheckov = available(CHECKOV);
if (!hasCheckov && !process.env.CI)
  console.warn(
    `packages/aws: skipping the checkov check: ${CHECKOV} is not on PATH. Run scripts/bootstrap.sh or \`pip install checkov\``,
  );

interface CheckovCheck {
  check_id: string;
  resource: string;
  file_path: string;
}

describe.skipIf(!hasCheckov && !process.env.CI)("checkov", () => {
  it("fails no check, and every suppression in Metadata silences a real finding", () => {
    const { dir, templates } = writeTemplates();
    const r = spawnSync(
      CHECKOV,
      ["-d", dir, "--framework", "cloudformation", "--output", "json", "--skip-download", "--compact"],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    const report = JSON.parse(r.stdout) as {
      results: { failed_checks: CheckovCheck[]; skipped_checks: CheckovCheck[]; parsing_errors: string[] };
    };
    expect(report.results.parsing_errors, "templates checkov could not parse").toEqual([]);
    const failed = report.results.failed_checks.map((c) => `${c.file_path} ${c.resource} ${c.check_id}`);
    expect(failed).toEqual([]);
    const skipped = new Set(
      report.results.skipped_checks.map(
        (c) => `${c.file_path.split("/").pop()} ${c.resource.split(".").pop()} ${c.check_id}`,
      ),
    );
    for (const [file, template] of templates)
      for (const [id, resource] of Object.entries(template.Resources)) {
        const skips = (resource.Metadata?.checkov as { skip: { id: string }[] } | undefined)?.skip ?? [];
        for (const s of skips)
          expect([...skipped], `stale suppression ${s.id} on ${id}`).toContain(
            `${file.split("/").pop()} ${id} ${s.id}`,
          );
      }
  }, 120_000);
});
