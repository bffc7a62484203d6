import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ImageSource, SHIPPED_MLFLOW_CONTEXT } from "@mlflow-dev/spec";
import { EXIT, UserError } from "./errors.ts";

/**
 * The MLflow image's build context mlflow-dev ships (images/mlflow: the Dockerfile and the hashed
 * lock CI builds), and where the default build reads it: a copy in the stack's state directory
 * (`.mlflow-dev/images/mlflow`), so the rendered compose file and the ECR tag name files beside
 * the spec, whatever the install path of the package.
 */

/**
 * The files of the shipped context: what the Dockerfile copies (the lock, the RDS CA bundle), the
 * Dockerfile, and the lock's input for readers.
 */
export const SHIPPED_MLFLOW_FILES = ["Dockerfile", "requirements.txt", "requirements.in", "rds-ca-bundle.pem"] as const;

/**
 * A shipped build context, images/<name>: next to the bundle in the published package
 * (dist/images/<name>), at the repository root in the workspace. The first directory upwards from
 * `from` (this module's) that has it.
 */
export function shippedImageSource(
  name: "mlflow" | "ministack",
  what: string,
  from: string = dirname(fileURLToPath(import.meta.url)),
): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, `images/${name}/Dockerfile`))) return join(dir, `images/${name}`);
    if (dirname(dir) === dir)
      throw new UserError(
        `internal error: ${what} (images/${name}) is not in the mlflow-dev package (looked upwards from ${from})`,
        { exitCode: EXIT.internal, hint: "Reinstall mlflow-dev." },
      );
  }
}

/** The shipped images/mlflow (see shippedImageSource). */
export function shippedMlflowSource(from?: string): string {
  return shippedImageSource("mlflow", "the MLflow image's build context", from);
}

/** Whether the image is the default build of the shipped context (the only one this module writes). */
export function usesShippedContext(image: ImageSource): boolean {
  return image.kind === "build" && image.origin.from === "default" && image.context === SHIPPED_MLFLOW_CONTEXT;
}

/**
 * Writes the shipped context to `<specDir>/.mlflow-dev/images/mlflow` when the model builds it
 * (files that already hold the same bytes are left alone, so the build cache and the ECR tag stay).
 * The state directory gets its .gitignore first. Returns the directory, or undefined when the
 * model does not build the shipped image.
 */
export async function writeShippedContext(specDir: string, image: ImageSource): Promise<string | undefined> {
  if (!usesShippedContext(image)) return undefined;
  const { ensureStateDir, ensureDirectory, writeFilesAtomically } = await import("@mlflow-dev/compose/files");
  const source = shippedMlflowSource();
  const target = join(specDir, SHIPPED_MLFLOW_CONTEXT);
  ensureStateDir(join(specDir, ".mlflow-dev"));
  ensureDirectory(target);
  const changed = SHIPPED_MLFLOW_FILES.map((name) => ({
    path: join(target, name),
    text: readFileSync(join(source, name), "utf8"),
  })).filter((f) => !existsSync(f.path) || readFileSync(f.path, "utf8") !== f.text);
  if (changed.length > 0) writeFilesAtomically(changed);
  return target;
}
