import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MLFLOW_DEV_VERSION, PINS } from "@mlflow-dev/spec";

/**
 * The Node versions the built package is tested on (test/package): the oldest supported and the
 * repository's own (pins.json "node").
 */
export const NODE_ENGINES = `^20.20.0 || ^${PINS.node}`;

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
  return {
    name: "mlflow-dev",
    version: MLFLOW_DEV_VERSION,
    description:
      "One spec file, an MLflow tracking service: a local Docker Compose stack (MLflow, PostgreSQL, MinIO) and its twin on AWS ECS Fargate",
    keywords: ["mlflow", "docker-compose", "aws", "ecs", "fargate", "cloudformation", "mlops"],
    type: "module",
    bin: { "mlflow-dev": "bin/mlflow-dev.js" },
    exports: {
      ".": { types: "./index.d.ts", default: "./index.js" },
      "./schema.json": "./schema.json",
      "./package.json": "./package.json",
    },
    types: "./index.d.ts",
    files: ["bin", "chunks", "index.js", "index.d.ts", "schema.json", "CHANGELOG.md"],
    engines: { node: NODE_ENGINES },
    dependencies,
  };
}
