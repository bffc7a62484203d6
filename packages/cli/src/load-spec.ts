import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { dirname, relative, resolve as resolvePath } from "node:path";
import { type AwsCheckedSpec, type AwsModel, awsCompatibilityCheck, resolveAwsModel } from "@mlflow-dev/aws";
import {
  DEFAULT_MLFLOW_VERSION,
  formatIssue,
  type ImageOverrides,
  ImageRefSchema,
  type LocalModel,
  MAX_SPEC_BYTES,
  nearest,
  type ParseResult,
  parseSpec,
  resolve,
  SpecError,
  UnknownEnvironmentError,
  unqualifiedLocalImage,
} from "@mlflow-dev/spec";
import { EXIT, UserError } from "./errors.ts";
import { SPEC_FILE } from "./spec-file.ts";

export interface LoadedSpec {
  /** Validated: the schema and every AWS compatibility rule. */
  spec: AwsCheckedSpec;
  /** Absolute path of the spec file. */
  path: string;
  /** Path as the user gave it, for messages. */
  shown: string;
  dir: string;
}

/**
 * The text of a spec file: a regular file (never a FIFO, device or directory, so nothing blocks or
 * reads forever), at most MAX_SPEC_BYTES, UTF-8.
 */
export function readSpecText(file: string): string {
  const path = resolvePath(file);
  let fd: number;
  try {
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new UserError(
        `spec file ${file} not found${file === SPEC_FILE ? " (looked in this directory and its parents, up to the repository root)" : ""}`,
        {
          exitCode: EXIT.invalidInput,
          hint: "Run `mlflow-dev init` to write one, or pass -f <path>.",
        },
      );
    throw new UserError(`cannot read spec file ${file}: ${code ?? (e as Error).message}`, {
      exitCode: EXIT.invalidInput,
      hint: "Check the path and its permissions, or pass -f <path>.",
    });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new UserError(
        `spec file ${file} is not a regular file (${st.isDirectory() ? "a directory" : "a device, FIFO or socket"})`,
        {
          exitCode: EXIT.invalidInput,
          hint: "Pass the path of an mlflow-dev.yaml file with -f <path>.",
        },
      );
    if (st.size > MAX_SPEC_BYTES)
      throw new UserError(`spec file ${file} is ${st.size} bytes; a spec is at most ${MAX_SPEC_BYTES} (1 MiB)`, {
        exitCode: EXIT.invalidInput,
        hint: "Pass the path of an mlflow-dev.yaml file with -f <path>.",
      });
    const bytes = readFileSync(fd);
    const encoding = otherEncoding(bytes);
    if (encoding)
      throw new UserError(`spec file ${file} is ${encoding} text; mlflow-dev reads UTF-8 only`, {
        exitCode: EXIT.invalidInput,
        hint: `Save it as UTF-8 (in an editor: "Save with encoding" > UTF-8; on a shell: iconv -f ${encoding.split(" ")[0]} -t UTF-8).`,
      });
    const text = bytes.toString("utf8");
    const bad = text.indexOf("\uFFFD");
    if (bad >= 0 && !Buffer.from(text, "utf8").equals(bytes)) {
      const before = text.slice(0, bad).split("\n");
      throw new UserError(
        `${file}:${before.length}:${(before.at(-1)?.length ?? 0) + 1} is not UTF-8 text (a byte sequence no UTF-8 text has)`,
        { exitCode: EXIT.invalidInput, hint: "Save the spec as UTF-8." },
      );
    }
    return text;
  } finally {
    closeSync(fd);
  }
}

/**
 * The encoding of a spec that is not UTF-8 but UTF-16 or UTF-32 (a byte order mark, or NUL bytes in
 * every second or fourth place, which no YAML text has): read as UTF-8 it would only give
 * confusing YAML errors.
 */
export function otherEncoding(bytes: Uint8Array): string | undefined {
  const starts = (...prefix: number[]) => prefix.every((b, i) => bytes[i] === b);
  if (starts(0x00, 0x00, 0xfe, 0xff)) return "UTF-32BE (with a byte order mark)";
  if (starts(0xff, 0xfe, 0x00, 0x00)) return "UTF-32LE (with a byte order mark)";
  if (starts(0xfe, 0xff)) return "UTF-16BE (with a byte order mark)";
  if (starts(0xff, 0xfe)) return "UTF-16LE (with a byte order mark)";
  const sample = bytes.subarray(0, 64);
  if (sample.length < 4 || sample.indexOf(0) < 0) return undefined;
  const nulAt = (offset: number, step: number) => {
    for (let i = offset; i < sample.length; i += step) if (sample[i] !== 0) return false;
    return true;
  };
  if (nulAt(1, 4) && nulAt(2, 4) && nulAt(3, 4)) return "UTF-32LE";
  if (nulAt(0, 4) && nulAt(1, 4) && nulAt(2, 4)) return "UTF-32BE";
  if (nulAt(1, 2)) return "UTF-16LE";
  if (nulAt(0, 2)) return "UTF-16BE";
  return undefined;
}

/** Parses and validates a spec's text: the schema, then every rule of the targets' renderers. */
export function parseSpecText(text: string, shown: string): ParseResult<AwsCheckedSpec> {
  return parseSpec(text, shown, awsCompatibilityCheck);
}

export function loadSpec(file: string): LoadedSpec {
  const path = resolvePath(file);
  const text = readSpecText(file);
  const shown = relative(process.cwd(), path) || file;
  const result = parseSpecText(text, shown);
  if (!result.ok) throw new SpecError(result.issues);
  // Warnings go to stderr from every command, as validate prints them; the spec stays valid.
  for (const warning of result.warnings) process.stderr.write(`${formatIssue(warning)}\n`);
  return { spec: result.spec, path, shown, dir: dirname(path) };
}

/**
 * MLFLOW_DEV_IMAGES="mlflow=REF,postgres=REF,versitygw=REF,minio=REF": images the local stack uses
 * instead of the spec's (the object store's entry is used for the server artifacts.localServer names); `mlflow-base=REF` is the Python base the default MLflow build starts from instead of the
 * official one (an offline machine's own).
 */
export function imageOverridesFromEnv(value = process.env.MLFLOW_DEV_IMAGES): ImageOverrides {
  const out: ImageOverrides = {};
  if (!value) return out;
  for (const part of value
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    const ref = eq < 0 ? "" : part.slice(eq + 1);
    if (key === "mlflow" || key === "postgres" || key === "versitygw" || key === "minio")
      out[key] = checkedOverride(`MLFLOW_DEV_IMAGES: ${key}`, ref);
    else if (key === "mlflow-base") out.mlflowBase = checkedOverride(`MLFLOW_DEV_IMAGES: ${key}`, ref);
    else if (TWIN_IMAGE_KEYS.includes(key)) checkedOverride(`MLFLOW_DEV_IMAGES: ${key}`, ref);
    else
      throw new UserError(`MLFLOW_DEV_IMAGES: cannot read "${part}"`, {
        exitCode: EXIT.invalidInput,
        hint: 'Use a comma-separated list such as "mlflow=REF,postgres=REF,versitygw=REF" (mlflow-base=REF: the Python base of the default MLflow build; ministack=REF, ministack-base=REF: the AWS twin\'s image or its Python base).',
      });
  }
  return out;
}

/** The variable that names the MLflow image a deploy (plan, promote, restore) runs instead of the spec's. */
export const DEPLOY_IMAGE_VARIABLE = "MLFLOW_DEV_DEPLOY_IMAGE";

/**
 * The image override of an AWS command: only MLFLOW_DEV_DEPLOY_IMAGE=REF, never MLFLOW_DEV_IMAGES
 * (the local stack's substitutes must not change what runs in production unnoticed). `ignored`
 * says that MLFLOW_DEV_IMAGES names an MLflow image this command does not use.
 */
export function deployImageOverride(env: NodeJS.ProcessEnv = process.env): {
  overrides: ImageOverrides;
  ignored?: string;
} {
  const value = env[DEPLOY_IMAGE_VARIABLE]?.trim();
  const local = env.MLFLOW_DEV_IMAGES ? imageOverridesFromEnv(env.MLFLOW_DEV_IMAGES).mlflow : undefined;
  const overrides: ImageOverrides = value
    ? { mlflow: checkedOverride(DEPLOY_IMAGE_VARIABLE, value), variable: DEPLOY_IMAGE_VARIABLE }
    : {};
  return {
    overrides,
    ...(local && local !== overrides.mlflow
      ? {
          ignored: `MLFLOW_DEV_IMAGES names mlflow=${local} for the local stack; deploys do not use it (set ${DEPLOY_IMAGE_VARIABLE}=REF to deploy another image than the spec's)`,
        }
      : {}),
  };
}

/** The keys of MLFLOW_DEV_IMAGES the AWS twin reads (twin/image.ts); the local stack ignores them. */
export const TWIN_IMAGE_KEYS: readonly string[] = ["ministack", "ministack-base"];

/** An override's reference: valid, pinned, and never a local image name Docker would pull from Docker Hub. */
export function checkedOverride(where: string, ref: string): string {
  const checked = ImageRefSchema.safeParse(ref);
  if (!checked.success)
    throw new UserError(
      `${where}=${JSON.stringify(ref).slice(0, 80)} ${checked.error.issues[0]?.message ?? "is not a valid image reference"}`,
      {
        exitCode: EXIT.invalidInput,
        hint: `Use a pinned image reference such as registry.example.com/mlflow:${DEFAULT_MLFLOW_VERSION} (never :latest).`,
      },
    );
  const local = unqualifiedLocalImage(ref);
  if (local)
    throw new UserError(`${where}=${ref} ${local.problem}`, {
      exitCode: EXIT.invalidInput,
      hint: `Name it ${local.fix} (\`bash .ci/provision --print-image-overrides\` prints the qualified names; \`docker tag ${ref} ${local.fix}\` adds one to an image built earlier).`,
    });
  return ref;
}

/** An AWS environment's Model, checked by validation already; `environment` must not be local. */
export function resolveAwsEnv(loaded: LoadedSpec, environment: string, overrides: ImageOverrides = {}): AwsModel {
  return withEnvironmentError(loaded, () => resolveAwsModel(loaded.spec, environment, overrides));
}

/** The local environment's Model; a spec without one is a usage error. */
export function resolveLocalEnv(loaded: LoadedSpec, overrides: ImageOverrides = {}): LocalModel {
  return withEnvironmentError(loaded, () => resolve(loaded.spec, "local", overrides));
}

/** An environment the spec does not define, as a usage error. */
function withEnvironmentError<T>(loaded: LoadedSpec, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UnknownEnvironmentError) {
      const guess = nearest(e.environment, e.available);
      throw new UserError(`${loaded.shown}: ${e.message}`, {
        exitCode: EXIT.invalidInput,
        hint: guess ? `Did you mean --env ${guess}?` : "Pass --env with one of the names under environments:.",
      });
    }
    throw e;
  }
}
