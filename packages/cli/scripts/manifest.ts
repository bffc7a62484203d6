import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MLFLOW_DEV_VERSION, PINS } from "@mlflow-dev/spec";

/**
 * The Node versions the package supports, both LTS lines: 22 from 22.12 (require of ES modules
 * without a flag) and 24. test/package installs and runs it on NODE_22 and the repository's own
 * Node (pins.json "node").
 */
export const NODE_ENGINES = `^22.12.0 || ^${PINS.node.split(".")[0]}.0.0`;

/** The Node 22 the package tier tests on, installed from the npm registry as the `node` package. */
export const NODE_22 = "22.23.3";

/**
 * The package.json of the published `mlflow-dev` package. `dependencies` are the npm packages the
 * bundle imports (`imported`), each at the version the workspace package that uses it pins.
 */
export function publishManifest(root: string, imported: readonly string[]) {
  const pinned = new Map<string, string>();
  for (const dir of readdirSync(join(root, "packages"))) {
    const manifest = JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    for (const [name, range] of Object.entries(manifest.dependencies ?? {})) {
      if (range.startsWith("workspace:")) continue;
      const seen = pinned.get(name);
      if (seen !== undefined && seen !== range)
        throw new Error(`${name} is pinned as ${seen} and as ${range} in the workspace packages: pin it once`);
      pinned.set(name, range);
    }
  }
  const dependencies = Object.fromEntries(
    [...imported].sort().map((name) => {
      const range = pinned.get(name);
      if (range === undefined) throw new Error(`the bundle imports ${name}, which no workspace package depends on`);
      return [name, range];
    }),
  );
  const meta = rootManifest(root);
  return {
    name: "mlflow-dev",
    version: MLFLOW_DEV_VERSION,
    description:
      "One spec file, an MLflow tracking service: a local Docker Compose stack (MLflow, PostgreSQL, an S3 object store) and its twin on AWS ECS Fargate",
    keywords: ["mlflow", "docker-compose", "aws", "ecs", "fargate", "cloudformation", "mlops"],
    type: "module",
    bin: { "mlflow-dev": "bin/mlflow-dev.js" },
    exports: {
      ".": { types: "./index.d.ts", default: "./index.js" },
      "./schema.json": "./schema.json",
      "./package.json": "./package.json",
    },
    types: "./index.d.ts",
    files: ["bin", "chunks", "index.js", "index.d.ts", "schema.json", "CHANGELOG.md", "LICENSE", "images"],
    engines: { node: NODE_ENGINES },
    license: meta.license,
    ...(meta.repository ? { repository: meta.repository } : {}),
    ...(meta.bugs ? { bugs: meta.bugs } : {}),
    ...(meta.homepage ? { homepage: meta.homepage } : {}),
    dependencies,
  };
}

/** Where the license and the project's addresses are kept: the repository's root package.json. */
function rootManifest(root: string): { license: string; repository?: unknown; bugs?: unknown; homepage?: string } {
  const m = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { license?: string };
  if (!m.license) throw new Error("the root package.json has no license: the published package needs one");
  return m as { license: string };
}
