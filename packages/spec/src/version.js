/**
 * The mlflow-dev release: the published package's version (written by packages/cli/scripts/build.ts),
 * `mlflow-dev --version` and the header of rendered files. Plain JavaScript, so `--version` loads
 * nothing else. Bump it together with CHANGELOG.md.
 */
export const MLFLOW_DEV_VERSION = "0.8.0";
