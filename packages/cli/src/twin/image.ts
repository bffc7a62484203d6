import { createHash } from "node:crypto";
import { DEFAULT_MLFLOW_BASE_IMAGE, DEFAULT_POSTGRES_MAJOR, upstreamPostgresImage } from "@mlflow-dev/spec";
import { MINISTACK_VERSION } from "./settings.ts";

/**
 * The twin's image: images/ministack (its Dockerfile, pinned requirements and patches), shipped in
 * the npm package and built on the user's machine, tagged with a hash of its inputs so a build is
 * reused until one of them changes. Pure: the edge (twin/docker.ts) reads the files and runs Docker.
 */

/** The files of the shipped build context (what the Dockerfile copies, and the Dockerfile). */
export const SHIPPED_TWIN_FILES = [
  "Dockerfile",
  "requirements.txt",
  "patches.py",
  "application_autoscaling.py",
  "rds_max_connections.py",
] as const;

/** Where the twin's images are named: under `localhost/`, so Docker never looks for them on Docker Hub. */
export const TWIN_IMAGE_REPOSITORY = "localhost/mlflow-dev/ministack";

/** The official Python base the build starts from by default (pinned by digest), as the MLflow image's. */
export const DEFAULT_TWIN_BASE_IMAGE = DEFAULT_MLFLOW_BASE_IMAGE;

export interface TwinImageChoice {
  /** Use this image as it is (MLFLOW_DEV_IMAGES="ministack=REF"), or build the shipped context. */
  kind: "given" | "build";
  image: string;
  /** For a build: its base image and build arguments. */
  buildArgs?: Record<string, string>;
  /** Where the choice comes from, for the output. */
  origin: string;
}

/** The twin's keys of MLFLOW_DEV_IMAGES (`ministack=REF`, `ministack-base=REF`, and `mlflow-base=`/`postgres=` it shares). */
export interface TwinOverrides {
  ministack?: string;
  ministackBase?: string;
  mlflowBase?: string;
  postgres?: string;
}

/** Reads the twin's keys from MLFLOW_DEV_IMAGES (the local stack's parser checks the whole value). */
export function twinOverrides(value: string | undefined): TwinOverrides {
  const out: TwinOverrides = {};
  for (const part of (value ?? "").split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const ref = part.slice(eq + 1).trim();
    if (!ref) continue;
    if (key === "ministack") out.ministack = ref;
    else if (key === "ministack-base") out.ministackBase = ref;
    else if (key === "mlflow-base") out.mlflowBase = ref;
    else if (key === "postgres") out.postgres = ref;
  }
  return out;
}

/**
 * 16 hex digits of sha256 over the build context's files (name and bytes, in a fixed order) and the
 * build arguments: the image is rebuilt exactly when one of them changes.
 */
export function twinInputsHash(
  files: Readonly<Record<string, string | Buffer>>,
  buildArgs: Record<string, string>,
): string {
  const h = createHash("sha256");
  for (const name of Object.keys(files).sort()) {
    h.update(`file ${name}\n`);
    h.update(files[name] ?? "");
    h.update("\n");
  }
  for (const key of Object.keys(buildArgs).sort()) h.update(`arg ${key}=${buildArgs[key]}\n`);
  return h.digest("hex").slice(0, 16);
}

/** The build arguments of the shipped Dockerfile: the Python base and the MiniStack release. */
export function twinBuildArgs(overrides: TwinOverrides): Record<string, string> {
  return {
    BASE_IMAGE: overrides.ministackBase ?? overrides.mlflowBase ?? DEFAULT_TWIN_BASE_IMAGE,
    MINISTACK_VERSION,
  };
}

/** What image the twin runs: a given one, or the shipped context's build under its inputs hash. */
export function chooseTwinImage(
  overrides: TwinOverrides,
  files: Readonly<Record<string, string | Buffer>>,
): TwinImageChoice {
  if (overrides.ministack)
    return { kind: "given", image: overrides.ministack, origin: 'MLFLOW_DEV_IMAGES "ministack="' };
  const buildArgs = twinBuildArgs(overrides);
  const hash = twinInputsHash(files, buildArgs);
  const base = overrides.ministackBase
    ? 'on the base MLFLOW_DEV_IMAGES "ministack-base=" names'
    : overrides.mlflowBase
      ? 'on the base MLFLOW_DEV_IMAGES "mlflow-base=" names'
      : "on the official Python base, pinned by digest";
  return {
    kind: "build",
    image: `${TWIN_IMAGE_REPOSITORY}:${MINISTACK_VERSION}-${hash}`,
    buildArgs,
    origin: `built from mlflow-dev's images/ministack ${base}`,
  };
}

/**
 * The PostgreSQL image the twin's RDS runs for a major version: the local stack's override
 * (MLFLOW_DEV_IMAGES "postgres=") for the default major, else the official image pinned by digest.
 */
export function twinPostgresImage(overrides: TwinOverrides, major: number = DEFAULT_POSTGRES_MAJOR): string {
  if (overrides.postgres && major === DEFAULT_POSTGRES_MAJOR) return overrides.postgres;
  return upstreamPostgresImage(major);
}

/** `docker build` arguments for the shipped context. */
export function twinBuildCommand(choice: TwinImageChoice, context: string): string[] {
  const hash = choice.image.slice(choice.image.lastIndexOf("-") + 1);
  return [
    "build",
    "-t",
    choice.image,
    "--label",
    `mlflow-dev.inputs=${hash}`,
    ...Object.entries(choice.buildArgs ?? {}).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
    context,
  ];
}
