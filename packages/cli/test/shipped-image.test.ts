import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import { SHIPPED_MLFLOW_FILES, writeShippedContext } from "../src/shipped-image.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SOURCE = join(ROOT, "images/mlflow");

/** The context files the Dockerfile's COPY lines take. */
function copiedFiles(): string[] {
  return readFileSync(join(SOURCE, "Dockerfile"), "utf8")
    .split("\n")
    .filter((line) => /^COPY\s/i.test(line))
    .flatMap((line) =>
      line
        .trim()
        .split(/\s+/)
        .slice(1, -1)
        .filter((w) => !w.startsWith("--")),
    );
}

describe("the shipped MLflow build context", () => {
  it("carries every file the Dockerfile copies (the lock and the RDS CA bundle)", () => {
    expect(copiedFiles()).toEqual(expect.arrayContaining(["requirements.txt", "rds-ca-bundle.pem"]));
    for (const f of copiedFiles()) expect(SHIPPED_MLFLOW_FILES, f).toContain(f);
  });

  it("is written beside the spec byte for byte, the RDS CA bundle included", async () => {
    const dir = tempDir("mlflow-dev-shipped-");
    const model = resolve(
      parseSpecOrThrow("name: tracking\nartifacts:\n  bucket: b-artifacts\nenvironments:\n  local: {}\n"),
      "local",
    );
    const target = await writeShippedContext(dir, model.mlflow.image);
    expect(target).toBe(join(dir, ".mlflow-dev/images/mlflow"));
    for (const f of SHIPPED_MLFLOW_FILES)
      expect(readFileSync(join(target ?? "", f), "utf8"), f).toBe(readFileSync(join(SOURCE, f), "utf8"));
  });
});
