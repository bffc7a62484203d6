/**
 * Image references as Docker reads them, and where a reference the Model runs came from. Pure.
 *
 * Docker takes the first path component of a reference as a registry host only when it holds a
 * `.` or a `:` or is `localhost`; anything else is a Docker Hub repository (`postgres:17` is
 * `docker.io/library/postgres:17`, `mlflow-dev-local/mlflow:1` is
 * `docker.io/mlflow-dev-local/mlflow:1`). A name meant for a local image must therefore carry a
 * registry part no public registry answers for: mlflow-dev's local images are
 * `localhost/mlflow-dev-local/...`.
 */
import type { ImageSource } from "./model.ts";

export interface ImageRefParts {
  /** The registry host Docker pulls from (`docker.io` when the reference names none). */
  registry: string;
  /** Whether the reference names its registry itself (false: Docker Hub by default). */
  qualified: boolean;
  /** The repository path without the registry (`library/postgres` for `postgres`). */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>`. */
  digest?: string;
}

/** The project's namespace for images built on the machine (never pulled). */
export const LOCAL_IMAGE_NAMESPACE = "mlflow-dev-local";
/** The registry part of every local image name: a host no public registry answers for. */
export const LOCAL_IMAGE_REGISTRY = "localhost";

export function imageRefParts(ref: string): ImageRefParts {
  const at = ref.indexOf("@");
  const named = at < 0 ? ref : ref.slice(0, at);
  const digest = at < 0 ? undefined : ref.slice(at + 1);
  const slash = named.lastIndexOf("/");
  const colon = named.lastIndexOf(":");
  const tag = colon > slash ? named.slice(colon + 1) : undefined;
  const name = colon > slash ? named.slice(0, colon) : named;
  const first = name.split("/")[0] ?? "";
  const qualified = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = qualified ? first : "docker.io";
  const path = qualified ? name.slice(first.length + 1) : name;
  return {
    registry,
    qualified,
    repository: !qualified && !path.includes("/") ? `library/${path}` : path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** A reference pinned by digest: `name[:tag]@sha256:<64 hex>`. */
export function isDigestPinned(ref: string): boolean {
  return /@sha256:[a-f0-9]{64}$/.test(ref);
}

/**
 * Why a reference would be pulled from a public registry although it names a local image (the
 * project's namespace without a registry part), or undefined. The fix names the qualified form.
 */
export function unqualifiedLocalImage(ref: string): { problem: string; fix: string } | undefined {
  const parts = imageRefParts(ref);
  if (parts.qualified || !parts.repository.startsWith(`${LOCAL_IMAGE_NAMESPACE}/`)) return undefined;
  return {
    problem: `names a local image without a registry, so Docker resolves it to docker.io/${parts.repository} and pulls it from Docker Hub when it is missing here`,
    fix: `${LOCAL_IMAGE_REGISTRY}/${ref}`,
  };
}

/** The tag a locally built MLflow image gets: fully qualified, so it is never looked up on a public registry. */
export function localBuildTag(specName: string, mlflowVersion: string): string {
  return `${LOCAL_IMAGE_REGISTRY}/${LOCAL_IMAGE_NAMESPACE}/${specName}-mlflow:${mlflowVersion}`;
}

/** Where the MLflow image comes from, for plan and promote: "the spec's images.mlflow", ... */
export function describeImageOrigin(image: ImageSource, mlflowVersion: string): string {
  const o = image.origin;
  if (o.from === "override")
    return `from ${o.variable}, replacing the spec's ${image.kind === "build" ? "build" : "image"}`;
  if (image.kind === "build")
    return o.from === "spec"
      ? `built from the spec's images.build (${image.context}${image.baseImage ? ` on ${image.baseImage}` : ""})`
      : `the default: built from mlflow-dev's images/mlflow (Dockerfile and hashed lock) for MLflow ${mlflowVersion}${image.baseImage ? ` on ${image.baseImage}` : ""}`;
  return o.from === "spec" ? "the spec's images.mlflow" : `mlflow-dev's default for MLflow ${mlflowVersion}`;
}
