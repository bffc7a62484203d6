import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { toComposeYaml } from "@mlflow-dev/compose";
import { MLFLOW_DEV_VERSION, parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import { publishManifest } from "../scripts/manifest.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bin = fileURLToPath(new URL("../bin/mlflow-dev.js", import.meta.url));

describe("one version: the package, --version, the rendered header and the changelog agree", () => {
  it("is a semantic version", () => {
    expect(MLFLOW_DEV_VERSION).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  });

  it("the published package.json carries it", () => {
    expect(publishManifest(root, []).version).toBe(MLFLOW_DEV_VERSION);
  });

  it("mlflow-dev --version prints it", () => {
    const r = spawnSync(process.execPath, [bin, "--version"], { encoding: "utf8" });
    expect(r.stdout).toBe(`${MLFLOW_DEV_VERSION}\n`);
  });

  it("the first line of a rendered compose.yaml names it", () => {
    const spec = parseSpecOrThrow(readFileSync(`${root}examples/basic/mlflow-dev.yaml`, "utf8"));
    const first = toComposeYaml(resolve(spec, "local")).split("\n")[0];
    expect(first).toContain(`Rendered by mlflow-dev ${MLFLOW_DEV_VERSION} from mlflow-dev.yaml`);
  });

  it("CHANGELOG.md's newest entry is it", () => {
    const newest = readFileSync(`${root}CHANGELOG.md`, "utf8").match(/^## (\S+)/m)?.[1];
    expect(newest).toBe(MLFLOW_DEV_VERSION);
  });
});

describe("the published package.json", () => {
  it("depends on exactly the npm packages the bundle imports, at the workspace's pins", () => {
    const m = publishManifest(root, ["yaml", "dockerode"]);
    const compose = JSON.parse(readFileSync(`${root}packages/compose/package.json`, "utf8"));
    expect(m.dependencies).toEqual({ dockerode: compose.dependencies.dockerode, yaml: "2.9.1" });
  });

  it("refuses a bundle that imports a package no workspace package depends on", () => {
    expect(() => publishManifest(root, ["left-pad"])).toThrow(/imports left-pad, which no workspace package/);
  });

  it("installs the CLI as mlflow-dev and ships the schema", () => {
    const m = publishManifest(root, []);
    expect(m.name).toBe("mlflow-dev");
    expect(m.bin).toEqual({ "mlflow-dev": "bin/mlflow-dev.js" });
    expect(m.files).toContain("schema.json");
    expect(m.exports["./schema.json"]).toBe("./schema.json");
  });
});
