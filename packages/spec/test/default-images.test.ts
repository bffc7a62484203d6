import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MLFLOW_BASE_IMAGE,
  DEFAULT_MLFLOW_VERSION,
  ImageRefSchema,
  imageRefParts,
  isDigestPinned,
  PINS,
  parseSpecOrThrow,
  resolve,
  SHIPPED_MLFLOW_CONTEXT,
} from "../src/index.ts";

/**
 * The images a user gets from the defaults: every one that is pulled is pinned by digest
 * (`name:tag@sha256:...`); every one that is built is built from what CI builds. See
 * images/README.md for where each digest comes from and how it is refreshed.
 */

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const DIGEST = `sha256:${"0".repeat(64)}`;

/** Defaults not pinned by digest yet, each with the reason (none today: MinIO is no longer the default). */
const OWNED_ELSEWHERE: Record<string, string> = {};

const spec = parseSpecOrThrow(read("examples/basic/mlflow-dev.yaml"));
const local = resolve(spec, "local");

/** Every image the default local stack pulls, by service, and the ones it builds. */
function defaultImages() {
  const pulled: Record<string, string> = { ...local.target.images };
  const image = local.mlflow.image;
  const built: Record<string, { baseImage?: string }> = {};
  if (image.kind === "pull") pulled.mlflow = image.ref;
  else {
    built.mlflow = image;
    if (image.baseImage) pulled["mlflow (build base)"] = image.baseImage;
  }
  return { pulled, built };
}

describe("default images", () => {
  it("every image the defaults pull is pinned by digest", () => {
    const unpinned = Object.entries(defaultImages().pulled)
      .filter(([service, ref]) => !isDigestPinned(ref) && !(service in OWNED_ELSEWHERE))
      .map(([service, ref]) => `${service}: ${ref}`);
    expect(unpinned).toEqual([]);
  });

  it("the MLflow server is built, not pulled, from the shipped images/mlflow", () => {
    expect(defaultImages().built).toHaveProperty("mlflow");
    expect(local.mlflow.image).toMatchObject({ kind: "build", context: SHIPPED_MLFLOW_CONTEXT });
  });

  it("the digests in pins.json are name:tag@sha256:<64 hex>", () => {
    for (const pinned of PINS.digests) {
      expect(pinned).toMatch(/^[a-z0-9./-]+:[\w.-]+@sha256:[a-f0-9]{64}$/);
      expect(ImageRefSchema.safeParse(pinned).success, pinned).toBe(true);
    }
  });

  it("a reference pinned by tag and digest is valid; a malformed digest is refused with the expected form", () => {
    expect(ImageRefSchema.safeParse(`registry.example.com/pg:17@${DIGEST}`).success).toBe(true);
    const bad = ImageRefSchema.safeParse("postgres:17@sha256:abc");
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe(
      "has a malformed digest: pin as name:tag@sha256:<64 lowercase hex digits>",
    );
  });
});

describe("the versions users get are the ones CI builds", () => {
  it("MLflow: the shipped lock installs the pinned version, the one the spec defaults to", () => {
    const lock = read("images/mlflow/requirements.txt");
    expect(lock).toMatch(new RegExp(`^mlflow==${PINS.mlflow.replaceAll(".", "\\.")} \\\\$`, "m"));
    expect(DEFAULT_MLFLOW_VERSION).toBe(PINS.mlflow);
    expect(local.mlflow.version).toBe(PINS.mlflow);
  });

  it("Python: the default build's base is python:<the pinned Python>-slim, the Python CI's base image has", () => {
    expect(imageRefParts(DEFAULT_MLFLOW_BASE_IMAGE)).toMatchObject({
      repository: "library/python",
      tag: `${PINS.python}-slim`,
    });
    // .ci/provision's Python base is Debian's python3 of the pinned suite (trixie: 3.13).
    expect(read("images/python/Dockerfile")).toMatch(/python3/);
    expect(PINS.debian).toBe("trixie");
  });

  it("PostgreSQL: the default image's major is the one CI builds (images/postgres PG_MAJOR)", () => {
    const tag = imageRefParts(local.target.images.postgres).tag ?? "";
    expect(tag).toBe(String(PINS.postgres.default));
    expect(read("images/postgres/Dockerfile")).toMatch(new RegExp(`^ARG PG_MAJOR=${PINS.postgres.default}$`, "m"));
  });
});
