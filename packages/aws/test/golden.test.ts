import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { placeholderContext, type Template, toTaskDefinition, toTemplate, toTemplateYaml } from "../src/index.ts";
import { exampleModel, GOLDEN_DIR } from "./helpers.ts";

/**
 * Reviewed renderings of the examples, compared piece by piece so a failure names the resource.
 * Regenerate with UPDATE_GOLDEN=1 and read the diff before committing it.
 */
const UPDATE = process.env.UPDATE_GOLDEN === "1";

const GOLDEN_CASES = [
  { name: "basic-staging", example: "basic", environment: "staging" },
  { name: "existing-vpc-prod", example: "existing-vpc", environment: "prod" },
] as const;

function golden(file: string, rendered: string): string {
  const path = `${GOLDEN_DIR}${file}`;
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, rendered);
  }
  if (!existsSync(path))
    throw new Error(`golden file ${path} is missing: run UPDATE_GOLDEN=1 vitest run packages/aws, then review it`);
  return readFileSync(path, "utf8");
}

function keysOf(...records: (Record<string, unknown> | undefined)[]): string[] {
  return [...new Set(records.flatMap((r) => Object.keys(r ?? {})))];
}

for (const c of GOLDEN_CASES) {
  const model = exampleModel(c.example, c.environment);

  describe(`golden ${c.name}.template.yaml`, () => {
    const text = golden(`${c.name}.template.yaml`, toTemplateYaml(model));
    const expected = parse(text) as Template;
    const actual = toTemplate(model);

    for (const section of ["Parameters", "Conditions", "Outputs"] as const) {
      it(`${section} match`, () => {
        for (const key of keysOf(actual[section], expected[section]))
          expect(actual[section][key], `${section}.${key}`).toEqual(expected[section][key]);
      });
    }

    it.each(keysOf(actual.Resources, expected.Resources))("resource %s matches", (id) => {
      expect(actual.Resources[id], `Resources.${id}`).toEqual(expected.Resources[id]);
    });

    it("is byte for byte the rendering (order, quoting, header)", () => {
      expect(toTemplateYaml(model)).toBe(text);
    });
  });

  describe(`golden ${c.name}.task-definition.json`, () => {
    const rendered = `${JSON.stringify(toTaskDefinition(model, placeholderContext(model)), null, 2)}\n`;
    const text = golden(`${c.name}.task-definition.json`, rendered);
    const expected = JSON.parse(text) as Record<string, unknown>;
    const actual = JSON.parse(rendered) as Record<string, unknown>;

    it.each(keysOf(actual, expected))("field %s matches", (key) => {
      expect(actual[key], key).toEqual(expected[key]);
    });

    it("is byte for byte the rendering", () => {
      expect(rendered).toBe(text);
    });
  });
}
