import { describe, expect, it } from "vitest";
import { UserError } from "../src/errors.ts";
import { DEPLOY_IMAGE_VARIABLE, deployImageOverride, imageOverridesFromEnv } from "../src/load-spec.ts";

/** MLFLOW_DEV_IMAGES (the local stack's substitutes) and MLFLOW_DEV_DEPLOY_IMAGE (a deploy's). */

function thrown(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("MLFLOW_DEV_IMAGES", () => {
  it("reads mlflow=, postgres= and minio=", () => {
    expect(
      imageOverridesFromEnv("mlflow=localhost/mlflow-dev-local/mlflow:9.9.9, postgres=registry.example.com/pg:17"),
    ).toEqual({ mlflow: "localhost/mlflow-dev-local/mlflow:9.9.9", postgres: "registry.example.com/pg:17" });
  });

  it("refuses a local image name without a registry part: Docker would pull it from Docker Hub (exit 2)", () => {
    const e = thrown(() => imageOverridesFromEnv("mlflow=mlflow-dev-local/mlflow:9.9.9"));
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(
      "MLFLOW_DEV_IMAGES: mlflow=mlflow-dev-local/mlflow:9.9.9 names a local image without a registry, so Docker resolves it to docker.io/mlflow-dev-local/mlflow and pulls it from Docker Hub when it is missing here",
    );
    expect(e.hint).toContain("localhost/mlflow-dev-local/mlflow:9.9.9");
  });
});

describe("a deploy's image", () => {
  it("MLFLOW_DEV_IMAGES never changes what a deploy runs, and the deploy says it is not used", () => {
    const r = deployImageOverride({ MLFLOW_DEV_IMAGES: "mlflow=localhost/mlflow-dev-local/mlflow:9.9.9" });
    expect(r.overrides).toEqual({});
    expect(r.ignored).toBe(
      `MLFLOW_DEV_IMAGES names mlflow=localhost/mlflow-dev-local/mlflow:9.9.9 for the local stack; deploys do not use it (set ${DEPLOY_IMAGE_VARIABLE}=REF to deploy another image than the spec's)`,
    );
  });

  it("MLFLOW_DEV_DEPLOY_IMAGE does, and names itself as the origin", () => {
    const r = deployImageOverride({ [DEPLOY_IMAGE_VARIABLE]: "registry.example.com/mlflow:9.9.9" });
    expect(r).toEqual({
      overrides: { mlflow: "registry.example.com/mlflow:9.9.9", variable: DEPLOY_IMAGE_VARIABLE },
    });
  });

  it("nothing set: the spec's image, nothing to say", () => {
    expect(deployImageOverride({})).toEqual({ overrides: {} });
    expect(deployImageOverride({ MLFLOW_DEV_IMAGES: "postgres=registry.example.com/pg:17" })).toEqual({
      overrides: {},
    });
  });

  it("MLFLOW_DEV_DEPLOY_IMAGE is checked as every reference is (exit 2)", () => {
    expect(thrown(() => deployImageOverride({ [DEPLOY_IMAGE_VARIABLE]: "x/y:latest" })).exitCode).toBe(2);
    expect(thrown(() => deployImageOverride({ [DEPLOY_IMAGE_VARIABLE]: "mlflow-dev-local/mlflow:1" })).message).toMatch(
      /^MLFLOW_DEV_DEPLOY_IMAGE=mlflow-dev-local\/mlflow:1 names a local image without a registry/,
    );
  });
});
