import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root directory. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The workspace CLI's entry: what `cli()` runs. */
export const BIN = join(ROOT, "packages/cli/bin/mlflow-dev.js");
