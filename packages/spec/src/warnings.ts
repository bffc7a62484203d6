import { closeGaps, openEndpointGaps } from "./access.ts";
import { healthCheckWarnings } from "./health-check.ts";
import type { RuleProblem } from "./parse.ts";
import { DEFAULT_MLFLOW_VERSION, upstreamMlflowImage } from "./pins.ts";
import { DATABASE_CA_BUNDLE_PATH, SERVER_HARDENING } from "./runtime-contract.ts";
import type { AwsEnv, Spec } from "./schema.ts";
import { awsEnvironmentNames } from "./task-size.ts";

/**
 * Settings that work but are risky: printed as warnings by every command that reads the spec, which
 * stays valid (exit 0). Pure.
 */
export function specWarnings(spec: Spec): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const local = spec.environments.local;
  if (local !== undefined && !local.bindAddress.startsWith("127.")) {
    const where =
      local.bindAddress === "0.0.0.0"
        ? "every network interface of this machine"
        : `${local.bindAddress}, not loopback`;
    problems.push({
      setting: "environments.local.bindAddress",
      message: `publishes the local stack's ports (MLflow, MinIO and PostgreSQL) on ${where}, so other machines on the network can reach them, with the generated passwords in .env as their only guard. Keep 127.0.0.1 unless they must`,
    });
  }
  for (const name of awsEnvironmentNames(spec)) {
    const env = spec.environments[name] as AwsEnv;
    const acknowledged = env.access.openToInternet;
    const exposure = { ...env, auth: spec.mlflow.auth };
    const gaps = openEndpointGaps(exposure);
    if (acknowledged === undefined || gaps === undefined) continue;
    problems.push({
      setting: `environments.${name}.access.openToInternet`,
      message: `the whole internet reaches this MLflow, with ${gaps.join(" and ")} (acknowledged: ${JSON.stringify(acknowledged.reason.trim())}). To close it, ${closeGaps(exposure)}, or list narrower access.sourceCidrs`,
    });
  }
  problems.push(...healthCheckWarnings(spec));
  const scratch = scratchVolumeWarning(spec);
  if (scratch) problems.push(scratch);
  return problems;
}

/**
 * An image mlflow-dev does not build for an AWS environment: the server runs as uid 10001 with a
 * read-only root and writes only to its scratch volume, which Fargate mounts writable for that user
 * only when the image declares VOLUME at its path (images/mlflow does; MLflow's published -full
 * image does not, and runs as root); and it verifies the database's certificate against the RDS CA
 * bundle at PGSSLROOTCERT's path (DATABASE_CA_BUNDLE_PATH), which only images/mlflow carries. Not an
 * error: an image of the user's own may have both.
 */
function scratchVolumeWarning(spec: Spec): RuleProblem | undefined {
  if (awsEnvironmentNames(spec).length === 0 || spec.images.build !== undefined) return undefined;
  const { scratchPath, user } = SERVER_HARDENING;
  const need = `on Fargate the server (uid ${user.split(":")[0]}, read-only root filesystem) can write its scratch volume at ${scratchPath} only when the image declares VOLUME ${scratchPath} writable by that user, and it reaches the database only when the image carries the Amazon RDS CA bundle at ${DATABASE_CA_BUNDLE_PATH} (PGSSLROOTCERT; PGSSLMODE is verify-full), readable by that user (mlflow-dev's images/mlflow does both)`;
  if (spec.images.mlflow !== undefined)
    return {
      setting: "images.mlflow",
      message: `${need}: make sure ${spec.images.mlflow} does, or build it with images.build from a Dockerfile that declares the volume and copies the bundle (images/mlflow/rds-ca-bundle.pem)`,
    };
  if (spec.mlflow.version !== DEFAULT_MLFLOW_VERSION)
    return {
      setting: "mlflow.version",
      message: `${spec.mlflow.version} has no image built by mlflow-dev in this release, so the default is ${upstreamMlflowImage(spec.mlflow.version)}, which runs as root, declares no VOLUME and has no RDS CA bundle: ${need}. Use mlflow.version ${DEFAULT_MLFLOW_VERSION} (the shipped build), or images.build with a Dockerfile FROM that image that declares VOLUME ${scratchPath} and copies the bundle to ${DATABASE_CA_BUNDLE_PATH}`,
    };
  return undefined;
}
