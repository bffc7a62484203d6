/**
 * The versions and images both sides (local and AWS) use. The versions come from pins.json at the
 * repository root, the one manifest the provisioning script, the Dockerfiles' build arguments and
 * the tests read too; every default image reference is derived from here.
 */
import pins from "../../../pins.json" with { type: "json" };

/** pins.json, typed. */
export const PINS: Readonly<typeof pins> = pins;

export const DEFAULT_MLFLOW_VERSION: string = pins.mlflow;
export const DEFAULT_POSTGRES_MAJOR: number = pins.postgres.default;
export const SUPPORTED_POSTGRES_MAJORS: readonly number[] = pins.postgres.supported;

/** The versitygw release of the default local object store (Apache-2.0, maintained). */
export const VERSITYGW_VERSION: string = pins.versitygw;

/** The last published MinIO release (the upstream project is archived). */
export const MINIO_RELEASE: string = pins.minio.release;

/**
 * The MLflow image mlflow-dev builds by default, for the pinned MLflow version: images/mlflow
 * (its Dockerfile and hashed lock, shipped in the package) on this Python base. CI builds the same
 * Dockerfile and lock on its offline Python base (MLFLOW_DEV_IMAGES="mlflow-base=REF").
 */
export const DEFAULT_MLFLOW_BASE_IMAGE: string = pinnedByDigest(`python:${pins.python}-slim`);

/** Where the default build's context is written, relative to the spec's directory (the stack's state directory). */
export const SHIPPED_MLFLOW_CONTEXT = ".mlflow-dev/images/mlflow";

/** MLflow's own image that carries the PostgreSQL and S3 drivers: the default for other MLflow versions than the pinned one. */
export function upstreamMlflowImage(version: string): string {
  return `ghcr.io/mlflow/mlflow:v${version}-full`;
}

export function upstreamPostgresImage(major: number): string {
  return pinnedByDigest(`postgres:${major}`);
}

/**
 * `name:tag@sha256:...` when pins.json records the digest of that tag (images/README.md says where
 * each one comes from and how to refresh it), else the tag alone.
 */
export function pinnedByDigest(ref: string): string {
  return pins.digests.find((pinned) => pinned.startsWith(`${ref}@sha256:`)) ?? ref;
}

/** The versitygw project's own image (published to Docker Hub and ghcr.io for every release). */
export function upstreamVersitygwImage(): string {
  return pinnedByDigest(`versity/versitygw:${VERSITYGW_VERSION}`);
}

export function upstreamMinioImage(): string {
  return `quay.io/minio/minio:${MINIO_RELEASE}`;
}

/** The port the MLflow server listens on inside its container, on every runtime. */
export const MLFLOW_CONTAINER_PORT = 5000;
export const POSTGRES_PORT = 5432;
/** The object store's S3 API port (environments.local.ports.minio, for either server). */
export const MINIO_API_PORT = 9000;
export const MINIO_CONSOLE_PORT = 9001;
