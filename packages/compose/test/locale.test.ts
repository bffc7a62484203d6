import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const examples = readdirSync(new URL("../../../examples/", import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== "python-client" && d.name !== "github-actions")
  .map((d) => d.name);

/**
 * Both renderers' bytes, for every example and environment, from a Node process whose default
 * locale is LOCALE. In Lithuanian "y" sorts before "j", so a localeCompare anywhere shows up.
 */
function renderings(locale: string): Record<string, string> {
  const script = `
    import { readFileSync } from "node:fs";
    import { parseSpecOrThrow, resolve, asLocalModel } from "./packages/spec/src/index.ts";
    import { toComposeYaml } from "./packages/compose/src/index.ts";
    import { toAwsModel, toTemplateYaml, toTaskDefinition, placeholderContext } from "./packages/aws/src/index.ts";
    const out = { locale: new Intl.Collator().resolvedOptions().locale };
    const texts = Object.fromEntries(${JSON.stringify(examples)}.map((n) => [n, readFileSync("examples/" + n + "/mlflow-dev.yaml", "utf8")]));
    // Names whose order differs between code units and collation (en: "_" before letters; lt: "y" before "j").
    texts.keys = texts.basic
      .replace("  local:\\n", "  local:\\n    mlflow:\\n      env: { MY_Y: y, MY_J: j, MYJ: j, MY_I: i }\\n")
      .replace("  staging:\\n", "  staging:\\n    mlflow:\\n      env: { MY_Y: y, MY_J: j, MYJ: j, MY_I: i }\\n")
      .replace("      team: ml-platform\\n", "      team: ml-platform\\n      team-y: y\\n      team-j: j\\n      Team: t\\n      team_a: a\\n");
    for (const [name, text] of Object.entries(texts)) {
      const spec = parseSpecOrThrow(text);
      for (const env of Object.keys(spec.environments)) {
        const model = resolve(spec, env);
        if (env === "local") out[name + "/local"] = toComposeYaml(asLocalModel(model), { specDir: "." });
        else {
          const aws = toAwsModel(model);
          out[name + "/" + env] = toTemplateYaml(aws) + JSON.stringify(toTaskDefinition(aws, placeholderContext(aws)));
        }
      }
    }
    console.log(JSON.stringify(out));
  `;
  const stdout = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, LC_ALL: locale, LANG: locale },
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout);
}

describe("rendering does not depend on the locale", () => {
  it("the compose file, the template and the task definition are the same bytes under lt_LT as under C", () => {
    const c = renderings("C");
    const lt = renderings("lt_LT.UTF-8");
    expect(lt.locale).toBe("lt-LT");
    // The names above are in code-unit order (upper case before "_", "j" before "y") on both sides.
    expect(c["keys/local"]).toMatch(/MYJ: j\n\s+MY_I: i\n\s+MY_J: j\n\s+MY_Y: y\n/);
    expect(c["keys/staging"]).toMatch(/"MYJ"[\s\S]*"MY_I"[\s\S]*"MY_J"[\s\S]*"MY_Y"/);
    expect(Object.keys(c).length).toBeGreaterThan(3);
    const { locale: _c, ...inC } = c;
    const { locale: _lt, ...inLt } = lt;
    for (const [key, text] of Object.entries(inC)) expect(inLt[key], key).toBe(text);
  });
});
