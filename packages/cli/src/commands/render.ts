import { join, relative, resolve } from "node:path";
import type { AwsModel } from "@mlflow-dev/aws";
import type { LocalModel } from "@mlflow-dev/spec";
import { parseCommandArgs, requireString } from "../args.ts";
import { EXIT } from "../errors.ts";
import { imageOverridesFromEnv, loadSpec, resolveAwsEnv, resolveLocalEnv } from "../load-spec.ts";
import { writeShippedContext } from "../shipped-image.ts";

export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("render", argv);
  const env = requireString(values, "env", "render");
  const loaded = loadSpec(global.file);
  const out = values.out as string | undefined;
  if (env === "local")
    return renderLocal(resolveLocalEnv(loaded, imageOverridesFromEnv()), loaded.dir, out, global.json);
  return renderAws(resolveAwsEnv(loaded, env), out, global.json);
}

async function renderLocal(
  model: LocalModel,
  specDir: string,
  out: string | undefined,
  json: boolean,
): Promise<number> {
  const { toComposeFile, toComposeYaml } = await import("@mlflow-dev/compose");
  if (out === undefined) {
    process.stdout.write(
      json
        ? `${JSON.stringify(toComposeFile(model, { specDir: relative(process.cwd(), specDir) || "." }), null, 2)}\n`
        : toComposeYaml(model, { specDir: relative(process.cwd(), specDir) || "." }),
    );
    return EXIT.ok;
  }
  const dir = resolve(out);
  const { ensureStateDir, writeLocalFiles } = await import("@mlflow-dev/compose/files");
  // The default MLflow build reads its context from the state directory: written beside the spec.
  await writeShippedContext(specDir, model.mlflow.image);
  // Rendered into the stack's own state directory: git-ignored there as `up` does it.
  if (dir === join(specDir, ".mlflow-dev")) ensureStateDir(dir);
  const written = writeLocalFiles(dir, model, { specDir: relative(dir, specDir) || "." });
  const files = {
    compose: relative(process.cwd(), written.composePath),
    env: relative(process.cwd(), written.envPath),
    secretsGenerated: written.secretsAdded,
  };
  if (json) process.stdout.write(`${JSON.stringify(files, null, 2)}\n`);
  else {
    process.stdout.write(`wrote ${files.compose}\n`);
    process.stdout.write(
      written.secretsAdded.length > 0
        ? `wrote ${files.env} (mode 0600) with generated ${written.secretsAdded.join(", ")}\n`
        : `kept ${files.env} (already holds every secret)\n`,
    );
  }
  return EXIT.ok;
}

async function renderAws(model: AwsModel, out: string | undefined, json: boolean): Promise<number> {
  const { renderAws: render } = await import("../lib.ts");
  const r = render(model);
  const artifacts = {
    "template.yaml": r.templateYaml,
    "task-definition.json": `${JSON.stringify(r.taskDefinition, null, 2)}\n`,
    "migration-task-definition.json": `${JSON.stringify(r.migrationTaskDefinition, null, 2)}\n`,
    "rollout-plan.json": `${JSON.stringify(r.rolloutPlan, null, 2)}\n`,
  };
  if (out === undefined) {
    if (json) {
      const { template, taskDefinition, migrationTaskDefinition, rolloutPlan } = r;
      process.stdout.write(
        `${JSON.stringify({ template, taskDefinition, migrationTaskDefinition, rolloutPlan }, null, 2)}\n`,
      );
    } else process.stdout.write(artifacts["template.yaml"]);
    return EXIT.ok;
  }
  const { ensureDirectory, writeFilesAtomically } = await import("@mlflow-dev/compose/files");
  const dir = resolve(out);
  ensureDirectory(dir);
  writeFilesAtomically(Object.entries(artifacts).map(([name, text]) => ({ path: join(dir, name), text })));
  const written = Object.keys(artifacts).map((n) => relative(process.cwd(), join(dir, n)));
  process.stdout.write(
    json ? `${JSON.stringify({ files: written }, null, 2)}\n` : written.map((f) => `wrote ${f}\n`).join(""),
  );
  return EXIT.ok;
}
