import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type AwsModel, toAwsModel } from "@mlflow-dev/aws";
import { type LocalModel, parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import type { WorkloadResults } from "../src/index.ts";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const EXAMPLES = `${ROOT}examples/`;

export function exampleText(example: string): string {
  return readFileSync(`${EXAMPLES}${example}/mlflow-dev.yaml`, "utf8");
}

export function models(yaml: string, environment: string): { local: LocalModel; remote: AwsModel } {
  const spec = parseSpecOrThrow(yaml, "test.yaml");
  return { local: resolve(spec, "local"), remote: toAwsModel(resolve(spec, environment)) };
}

/** A recorded workload (real servers, see the fixture names), as a fresh copy. */
export function recording(name: string): WorkloadResults {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8")) as WorkloadResults;
}

/** A small spec with a local and a staging environment; `extra` is appended under staging. */
export function specWith(options: { local?: string; staging?: string; parity?: string } = {}): string {
  return [
    "name: tracking",
    "artifacts:",
    "  bucket: mlflow-artifacts",
    "environments:",
    "  local:",
    "    ports: { mlflow: 5050 }",
    options.local ?? "",
    "  staging:",
    "    region: eu-west-1",
    '    account: "123456789012"',
    "    bucket: tracking-staging-artifacts",
    options.staging ?? "",
    options.parity ?? "",
  ]
    .filter((l) => l !== "")
    .join("\n")
    .concat("\n");
}
