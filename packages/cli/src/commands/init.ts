import { lstatSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import {
  DEFAULT_MLFLOW_VERSION,
  DEFAULT_POSTGRES_MAJOR,
  escapeControl,
  parseSpec,
  specJsonSchema,
} from "@mlflow-dev/spec";
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
  #   # Who may reach it. internal: from inside the VPC and networks routed into it (a VPN) only.
  #   # internet-facing: only from sourceCidrs; an endpoint open to everyone (0.0.0.0/0) needs
  #   # mlflow.auth: basic with domain and certificateArn (HTTPS).
  #   access:
  #     loadBalancer: internal
`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("init", argv);
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
  // The name is written into YAML: one that YAML reads otherwise ("abc #x" is "abc" and a comment)
  // must not become a different service's spec.
  const problem = !check.ok ? check.issues[0]?.message : check.spec.name !== name ? NAME_RULE : undefined;
  if (problem !== undefined)
    throw new UserError(`--name ${escapeControl(JSON.stringify(name))} is not a service name: ${problem}`, {
      exitCode: EXIT.invalidInput,
      hint: "Use 2-32 lowercase letters, digits or -, starting with a letter.",
    });
  const schemaPath = join(dir, SCHEMA_FILE);
  const schemaText = `${JSON.stringify(specJsonSchema(), null, 2)}\n`;
  if (values.force !== true && isOtherFile(schemaPath, schemaText))
    throw new UserError(
      `${SCHEMA_FILE} already exists beside ${global.file} and differs from this version's schema; not overwriting it`,
      {
        exitCode: EXIT.invalidInput,
        hint: "Move it away if it is yours, or run `mlflow-dev init --force` to replace it (run `mlflow-dev schema` to print the schema).",
      },
    );
  const { writeFilesAtomically } = await import("@mlflow-dev/compose/files");
  writeFilesAtomically([
    { path, text },
    { path: schemaPath, text: schemaText },
  ]);
  process.stdout.write(
    withSpecFlag(
      `wrote ${global.file} and ${SCHEMA_FILE}\nnext: \`mlflow-dev validate\`, then \`mlflow-dev up\`\n`,
      global.file,
    ),
  );
  return EXIT.ok;
}

const NAME_RULE = "must be 2-32 lowercase letters, digits or -, starting with a letter";

/** A file (or link, or directory) at path whose content is not exactly text. */
function isOtherFile(path: string, text: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return false;
  if (!st.isFile()) return true;
  return readFileSync(path, "utf8") !== text;
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
