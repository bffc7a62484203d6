import { describe, expect, it } from "vitest";
import {
  describeImageOrigin,
  type ImageSource,
  imageRefParts,
  isDigestPinned,
  localBuildTag,
  unqualifiedLocalImage,
} from "../src/index.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("image references as Docker reads them", () => {
  it.each([
    ["postgres:17", { registry: "docker.io", qualified: false, repository: "library/postgres", tag: "17" }],
    [
      "mlflow-dev-local/mlflow:9.9.9",
      { registry: "docker.io", qualified: false, repository: "mlflow-dev-local/mlflow" },
    ],
    ["localhost/mlflow-dev-local/mlflow:9.9.9", { registry: "localhost", qualified: true }],
    ["localhost:5000/x/y:1", { registry: "localhost:5000", qualified: true, repository: "x/y", tag: "1" }],
    ["ghcr.io/mlflow/mlflow:v9.9.9-full", { registry: "ghcr.io", repository: "mlflow/mlflow", tag: "v9.9.9-full" }],
    [`python:3.13-slim@${DIGEST}`, { registry: "docker.io", tag: "3.13-slim", digest: DIGEST }],
    // A bare name whose only component has a dot is a repository, not a registry.
    ["my.image:1", { registry: "docker.io", qualified: false, repository: "library/my.image" }],
  ])("%s", (ref, parts) => {
    expect(imageRefParts(ref)).toMatchObject(parts);
  });

  it("tells a digest-pinned reference (tag@sha256:<64 hex>) from a tag only", () => {
    expect(isDigestPinned(`postgres:17@${DIGEST}`)).toBe(true);
    expect(isDigestPinned(`postgres@${DIGEST}`)).toBe(true);
    expect(isDigestPinned("postgres:17")).toBe(false);
    expect(isDigestPinned("postgres:17@sha256:abc")).toBe(false);
  });
});

describe("local image names are fully qualified", () => {
  it("refuses the project's local namespace without a registry part, naming the qualified form", () => {
    expect(unqualifiedLocalImage("mlflow-dev-local/mlflow:9.9.9")).toEqual({
      problem: expect.stringContaining("docker.io/mlflow-dev-local/mlflow"),
      fix: "localhost/mlflow-dev-local/mlflow:9.9.9",
    });
    expect(unqualifiedLocalImage("localhost/mlflow-dev-local/mlflow:9.9.9")).toBeUndefined();
    expect(unqualifiedLocalImage("registry.example.com/mlflow-dev-local/mlflow:1")).toBeUndefined();
    expect(unqualifiedLocalImage("postgres:17")).toBeUndefined();
  });

  it("a locally built MLflow image gets a qualified tag", () => {
    expect(localBuildTag("tracking", "9.9.9")).toBe("localhost/mlflow-dev-local/tracking-mlflow:9.9.9");
    expect(imageRefParts(localBuildTag("tracking", "9.9.9")).qualified).toBe(true);
  });
});

describe("where the MLflow image came from", () => {
  const pull = (origin: ImageSource["origin"]): ImageSource => ({ kind: "pull", ref: "x/y:1", origin });
  it.each([
    [pull({ from: "spec" }), "the spec's images.mlflow"],
    [pull({ from: "default" }), "mlflow-dev's default for MLflow 9.9.9"],
    [
      pull({ from: "override", variable: "MLFLOW_DEV_DEPLOY_IMAGE" }),
      "from MLFLOW_DEV_DEPLOY_IMAGE, replacing the spec's image",
    ],
    [
      { kind: "build", context: "./image", tag: "t:1", origin: { from: "spec" } } as ImageSource,
      "built from the spec's images.build (./image)",
    ],
  ])("%o", (image, text) => {
    expect(describeImageOrigin(image, "9.9.9")).toBe(text);
  });
});
