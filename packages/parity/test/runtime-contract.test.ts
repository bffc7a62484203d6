import { readFileSync } from "node:fs";
import {
  AwsCompatibilityError,
  checkCompatibility,
  placeholderContext,
  toAwsModel,
  toMigrationTaskDefinition,
  toRuntimeFacts,
  toTaskDefinition,
} from "@mlflow-dev/aws";
import { toComposeFile } from "@mlflow-dev/compose";
import {
  bindingNames,
  bindingSetting,
  MANAGED_SERVER_ENV,
  type Model,
  parseSpecOrThrow,
  RUNTIME_BINDINGS,
  resolve,
} from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import { BUILTIN_DECLARATIONS, RUNTIME_SHAPE_DECLARATIONS } from "../src/index.ts";
import { exampleText, models, ROOT, specWith } from "./helpers.ts";

const cases = [
  { label: "basic (staging)", ...models(exampleText("basic"), "staging") },
  { label: "existing-vpc (prod)", ...models(exampleText("existing-vpc"), "prod") },
  {
    label: "basic auth, mlflow.env and extra flags",
    ...models(
      specWith({
        staging:
          '    domain: mlflow.example.com\n    mlflow:\n      env: { MLFLOW_LOGGING_LEVEL: "DEBUG" }\n      extraArgs: [--dev]',
      }).replace("name: tracking\n", "name: tracking\nmlflow:\n  auth: basic\n  allowedHosts: [mlflow.corp]\n"),
      "staging",
    ),
  },
];

/** The variables a rendering sets beyond the Model's own environment and secrets: what the runtime injects. */
function injected(names: readonly string[], model: Model): string[] {
  const own = new Set([...Object.keys(model.mlflow.environment), ...model.mlflow.secrets.map((s) => s.env)]);
  return names.filter((n) => !own.has(n)).sort();
}

describe("every variable a renderer injects is a runtime binding", () => {
  for (const { label, local, remote } of cases) {
    it(`${label}: the compose server and migration job set exactly the local bindings`, () => {
      const file = toComposeFile(local);
      for (const service of ["mlflow", "migrate"]) {
        const env = (file.services[service]?.environment ?? {}) as Record<string, string>;
        expect(injected(Object.keys(env), local), service).toEqual(bindingNames("local").sort());
      }
    });

    it(`${label}: the ECS server and migration task set exactly the AWS bindings`, () => {
      const ctx = placeholderContext(remote);
      for (const task of [toTaskDefinition(remote, ctx), toMigrationTaskDefinition(remote, ctx)]) {
        const c = task.containerDefinitions[0];
        const names = [...c.environment.map((e) => e.name), ...c.secrets.map((s) => s.name)];
        expect(injected(names, remote), task.family).toEqual(bindingNames("aws").sort());
      }
    });

    it(`${label}: each binding's value is the one the renderers set`, () => {
      const localEnv = (toComposeFile(local).services.mlflow?.environment ?? {}) as Record<string, string>;
      const ctx = placeholderContext(remote);
      const facts = toRuntimeFacts(remote, ctx);
      const awsEnv = Object.fromEntries(
        toTaskDefinition(remote, ctx).containerDefinitions[0].environment.map((e) => [e.name, e.value]),
      );
      for (const b of RUNTIME_BINDINGS) {
        if (b.local && "value" in b.local) expect(localEnv[b.name], b.name).toBe(b.local.value(local));
        if (b.local && "secret" in b.local) expect(localEnv[b.name], b.name).toMatch(/^\$\{MLFLOW_DEV_[A-Z_]+:\?/);
        if (b.aws) expect(awsEnv[b.name], b.name).toBe(b.aws.value(remote, facts));
      }
    });

    it(`${label}: a spec may set none of the injected variables`, () => {
      for (const name of bindingNames("local").concat(bindingNames("aws")))
        expect(MANAGED_SERVER_ENV, name).toContain(name);
    });
  }
});

describe("parity's built-in declarations come from the bindings", () => {
  it("declares each binding by its setting and reason, then the runtime's shape", () => {
    expect(BUILTIN_DECLARATIONS.map((d) => d.setting)).toEqual([
      ...RUNTIME_BINDINGS.map(bindingSetting),
      ...RUNTIME_SHAPE_DECLARATIONS.map((d) => d.setting),
    ]);
    for (const b of RUNTIME_BINDINGS)
      expect(BUILTIN_DECLARATIONS.find((d) => d.setting === bindingSetting(b))?.reason).toBe(b.parity.reason);
    expect(bindingSetting(RUNTIME_BINDINGS.find((b) => b.name === "AWS_SECRET_ACCESS_KEY")!)).toBe(
      "secret.AWS_SECRET_ACCESS_KEY",
    );
  });
});

describe("the AWS renderer's managed variables", () => {
  it("refuses a Model that sets an AWS binding itself, with the same message", () => {
    const base = resolve(parseSpecOrThrow(specWith()), "staging");
    for (const name of bindingNames("aws")) {
      const model: Model = {
        ...base,
        mlflow: { ...base.mlflow, environment: { ...base.mlflow.environment, [name]: "x" } },
      };
      expect(checkCompatibility(model), name).toContainEqual({
        setting: `mlflow.environment.${name}`,
        message: "is set by the AWS renderer from the deploy context; the Model must not set it too",
      });
      expect(() => toAwsModel(model)).toThrow(AwsCompatibilityError);
    }
  });
});

describe("ARCHITECTURE.md", () => {
  it("tables every runtime binding as the contract describes it, in the contract's order", () => {
    const text = readFileSync(`${ROOT}ARCHITECTURE.md`, "utf8");
    const section = text.slice(text.indexOf("## The runtime contract"), text.indexOf("## The deploy engine"));
    const rows = section.split("\n").filter((line) => /^\| `[A-Z][A-Z0-9_]+` \|/.test(line));
    expect(rows).toEqual(
      RUNTIME_BINDINGS.map((b) => `| \`${b.name}\` | ${b.describe.local} | ${b.describe.aws} | ${b.describe.why} |`),
    );
  });
});
