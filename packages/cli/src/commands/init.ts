import { lstatSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { DEFAULT_MLFLOW_VERSION, DEFAULT_POSTGRES_MAJOR, parseSpec, specJsonSchema } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { withSpecFlag } from "../spec-file.ts";

export const SCHEMA_FILE = "mlflow-dev.schema.json";

export function starterSpec(name: string): string {
  return `# yaml-language-server: $schema=./${SCHEMA_FILE}
# An MLflow tracking service, run locally with \`mlflow-dev up\` and on AWS with \`mlflow-dev promote --env <name>\`.
name: ${name}
mlflow:
  version: ${DEFAULT_MLFLOW_VERSION}
  workers: 2
  auth: none
backend:
  postgresVersion: ${DEFAULT_POSTGRES_MAJOR}
  database: mlflow
  user: mlflow
artifacts:
  bucket: ${name}-artifacts
  prefix: mlflow
environments:
  local:
    bindAddress: 127.0.0.1
    ports:
      mlflow: 5050
  # An AWS environment: uncomment and fill in.
  # staging:
  #   region: eu-west-1
  #   account: "123456789012"
  #   cpu: 512
  #   memory: 1024
  #   bucket: ${name}-staging-artifacts-123456789012
`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("init", argv, {
    name: { type: "string" },
    force: { type: "boolean" },
  });
  const path = resolve(global.file);
  const dir = dirname(path);
  const name = (values.name as string | undefined) ?? sanitize(basename(dir));
  // lstat, not exists: a dangling link is there too (and refused below, --force or not).
  if (lstatSync(path, { throwIfNoEntry: false }) !== undefined && values.force !== true)
    throw new UserError(`${global.file} already exists; not overwriting it`, {
      exitCode: EXIT.invalidInput,
      hint: "Edit it, or run `mlflow-dev init --force` to replace it.",
    });
  const text = starterSpec(name);
  const check = parseSpec(text, global.file);
  if (!check.ok)
    throw new UserError(`--name "${name}" does not make a valid spec: ${check.issues[0]?.message}`, {
      exitCode: EXIT.invalidInput,
      hint: "Use 2-32 lowercase letters, digits or -, starting with a letter.",
    });
  const { writeFilesAtomically } = await import("@mlflow-dev/compose/files");
  writeFilesAtomically([
    { path, text },
    { path: join(dir, SCHEMA_FILE), text: `${JSON.stringify(specJsonSchema(), null, 2)}\n` },
  ]);
  process.stdout.write(
    withSpecFlag(
      `wrote ${global.file} and ${SCHEMA_FILE}\nnext: \`mlflow-dev validate\`, then \`mlflow-dev up\`\n`,
      global.file,
    ),
  );
  return EXIT.ok;
}

function sanitize(dirName: string): string {
  const s = dirName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "")
    .slice(0, 32);
  return s.length >= 2 ? s : "mlflow";
}
