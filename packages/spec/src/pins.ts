/**
 * The one place that pins versions and images for both sides (local and AWS).
 * Every default image reference is derived from here.
 */
export const DEFAULT_MLFLOW_VERSION = "3.17.2";
export const DEFAULT_POSTGRES_MAJOR = 17;
export const SUPPORTED_POSTGRES_MAJORS = [14, 15, 16, 17] as const;

/** The last published MinIO release (the upstream project is archived). */
export const MINIO_RELEASE = "RELEASE.2025-10-15T17-29-55Z";

/** MLflow's own image that carries the PostgreSQL and S3 drivers. */
export function upstreamMlflowImage(version: string): string {
  return `ghcr.io/mlflow/mlflow:v${version}-full`;
}

export function upstreamPostgresImage(major: number): string {
  return `postgres:${major}`;
}

export function upstreamMinioImage(): string {
  return `quay.io/minio/minio:${MINIO_RELEASE}`;
}

/** The port the MLflow server listens on inside its container, on every runtime. */
export const MLFLOW_CONTAINER_PORT = 5000;
export const POSTGRES_PORT = 5432;
export const MINIO_API_PORT = 9000;
export const MINIO_CONSOLE_PORT = 9001;

/** RDS PostgreSQL engine versions per major version (the same major as the local image). */
export const RDS_POSTGRES_ENGINE_VERSIONS: Readonly<Record<number, string>> = {
  14: "14.19",
  15: "15.14",
  16: "16.10",
  17: "17.6",
};
