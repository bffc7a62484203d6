import { readFileSync } from "node:fs";
import { dirname, relative, resolve as resolvePath } from "node:path";
import {
  type ImageOverrides,
  type Model,
  parseSpec,
  resolve,
  type Spec,
  SpecError,
  UnknownEnvironmentError,
} from "@mlflow-dev/spec";
import { EXIT, UserError } from "./errors.ts";

export interface LoadedSpec {
  spec: Spec;
  /** Absolute path of the spec file. */
  path: string;
  /** Path as the user gave it, for messages. */
  shown: string;
  dir: string;
}

export function loadSpec(file: string): LoadedSpec {
  const path = resolvePath(file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new UserError(`spec file ${file} not found`, {
        exitCode: EXIT.invalidInput,
        hint: "Run `mlflow-dev init` to write one, or pass -f <path>.",
      });
    throw new UserError(`cannot read spec file ${file}: ${(e as Error).message}`, { exitCode: EXIT.invalidInput });
  }
  const shown = relative(process.cwd(), path) || file;
  const result = parseSpec(text, shown);
  if (!result.ok) throw new SpecError(result.issues);
  return { spec: result.spec, path, shown, dir: dirname(path) };
}

/** MLFLOW_DEV_IMAGES="mlflow=REF,postgres=REF,minio=REF": images to use instead of the spec's. */
export function imageOverridesFromEnv(value = process.env.MLFLOW_DEV_IMAGES): ImageOverrides {
  const out: ImageOverrides = {};
  if (!value) return out;
  for (const part of value
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [key, ref] = part.split("=", 2);
    if ((key === "mlflow" || key === "postgres" || key === "minio") && ref) out[key] = ref;
    else
      throw new UserError(`MLFLOW_DEV_IMAGES: cannot read "${part}"`, {
        exitCode: EXIT.invalidInput,
        hint: 'Use a comma-separated list such as "mlflow=REF,postgres=REF,minio=REF".',
      });
  }
  return out;
}

export function resolveEnv(loaded: LoadedSpec, environment: string, overrides: ImageOverrides = {}): Model {
  try {
    return resolve(loaded.spec, environment, overrides);
  } catch (e) {
    if (e instanceof UnknownEnvironmentError)
      throw new UserError(`${loaded.shown}: ${e.message}`, {
        exitCode: EXIT.invalidInput,
        hint: "Pass --env with one of the names under environments:.",
      });
    throw e;
  }
}
