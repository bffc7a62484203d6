import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Reporter } from "@mlflow-dev/kernel/progress";
import { environmentNames, parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import { defaultWaits, type PromoteOptions, type ServiceChecks } from "../src/deploy/index.ts";
import { type AwsModel, toAwsModel } from "../src/index.ts";
import { fakeClock } from "./fake-clock.ts";

export const EXAMPLES_DIR = fileURLToPath(new URL("../../../examples/", import.meta.url));
export const GOLDEN_DIR = fileURLToPath(new URL("./golden/", import.meta.url));

/** The AWS environment's Model, narrowed as the CLI does after validation. */
export function modelFromYaml(yaml: string, environment: string, file = "test.yaml"): AwsModel {
  return toAwsModel(resolve(parseSpecOrThrow(yaml, file), environment));
}

export function exampleModel(example: string, environment: string): AwsModel {
  const file = `${EXAMPLES_DIR}${example}/mlflow-dev.yaml`;
  return modelFromYaml(readFileSync(file, "utf8"), environment, file);
}

/** Variants the examples do not cover, as small specs. */
export const VARIANT_SPECS: Record<string, { yaml: string; environment: string }> = {
  // Every default: a new VPC from 10.0.0.0/16, no autoscaling, no domain, auth none.
  minimal: {
    environment: "dev",
    yaml: `
name: minimal
artifacts:
  bucket: minimal-artifacts-dev
environments:
  dev:
    region: us-east-1
    account: "111122223333"
`,
  },
  // An existing VPC whose tasks run in its public subnets (no NAT gateway), behind an internal load
  // balancer that admits the VPC and a VPN's block; gc runs twice a day.
  "existing-vpc-public": {
    environment: "dev",
    yaml: `
name: lean
artifacts:
  bucket: lean-artifacts-dev
gc:
  olderThanDays: 7
  schedule: rate(12 hours)
environments:
  dev:
    region: eu-north-1
    account: "777788889999"
    network:
      vpcId: vpc-0fedcba987654321f
      publicSubnetIds: [subnet-0aaaa1111bbbb2222, subnet-0cccc3333dddd4444]
      privateSubnetIds: [subnet-0eeee5555ffff6666, subnet-01111222233334444]
      egress: public
    access:
      sourceCidrs: [10.20.0.0/16, 172.16.8.0/22]
`,
  },
  // Open to the whole internet without auth or HTTPS, as the spec acknowledges, in a region opened
  // after August 2022 (access logs written by the log delivery service principal alone).
  "open-acknowledged": {
    environment: "demo",
    yaml: `
name: demo
artifacts:
  bucket: demo-artifacts-public
environments:
  demo:
    region: eu-central-2
    account: "121212121212"
    access:
      loadBalancer: internet-facing
      sourceCidrs: [0.0.0.0/0]
      openToInternet:
        acknowledged: true
        reason: a public demo server holding sample data only
`,
  },
  // A domain without a certificate (plain HTTP on it), a built image, basic auth, a small VPC.
  "domain-http-build": {
    environment: "qa",
    yaml: `
name: lab
mlflow:
  auth: basic
  allowedHosts: ["lab.internal", "*.lab.example.org"]
  extraArgs: ["--gunicorn-opts=--timeout 120"]
images:
  build:
    context: ./image
artifacts:
  bucket: lab-artifacts
  prefix: runs/mlflow
environments:
  qa:
    region: us-west-2
    account: "444455556666"
    network:
      cidr: 172.20.0.0/24
    cpu: 256
    memory: 512
    desiredCount: 2
    autoscaling: { min: 2, max: 4 }
    domain: mlflow.lab.example.org
    database:
      deletionProtection: false
      backupRetentionDays: 1
    logRetentionDays: 7
`,
  },
};

export interface Case {
  label: string;
  model: AwsModel;
}

/** Every AWS environment of every example, plus the variants above. */
export function allCases(): Case[] {
  const cases: Case[] = [];
  for (const example of readdirSync(EXAMPLES_DIR).sort()) {
    const file = `${EXAMPLES_DIR}${example}/mlflow-dev.yaml`;
    if (!existsSync(file)) continue;
    const spec = parseSpecOrThrow(readFileSync(file, "utf8"), file);
    for (const env of environmentNames(spec)) {
      if (env !== "local") cases.push({ label: `examples/${example} ${env}`, model: toAwsModel(resolve(spec, env)) });
    }
  }
  for (const [name, v] of Object.entries(VARIANT_SPECS))
    cases.push({ label: `variant ${name} ${v.environment}`, model: modelFromYaml(v.yaml, v.environment) });
  return cases;
}

/** Calls visit on every value in a JSON-like tree, with its path. */
export function walk(value: unknown, visit: (value: unknown, path: string) => void, path = ""): void {
  visit(value, path);
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) walk(v, visit, `${path}[${i}]`);
  } else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) walk(v, visit, path ? `${path}.${k}` : k);
}

export function allStrings(value: unknown): { value: string; path: string }[] {
  const out: { value: string; path: string }[] = [];
  walk(value, (v, path) => {
    if (typeof v === "string") out.push({ value: v, path });
  });
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A Reporter that keeps its lines, for tests that check what a runner printed. */
export function memoryReporter(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    step: (title) => lines.push(title),
    info: (line) => lines.push(`  ${line}`),
    warn: (line) => lines.push(`  warning: ${line}`),
  };
}

/** The Model with a pulled image: promote neither builds nor pushes one. */
export function withImage(model: AwsModel, ref: string): AwsModel {
  return { ...model, mlflow: { ...model.mlflow, image: { kind: "pull", ref, origin: { from: "spec" } } } } as AwsModel;
}

/** The HTTP health wait and smoke test, passing at once (promote's ServiceChecks). */
export const PASSING_CHECKS: ServiceChecks = {
  waitForHealth: async () => {},
  smokeTest: async (target) => ({ url: target.url, experimentId: "1", runId: "r1" }),
};

/** promote's options on a fake clock, with a reporter that keeps its lines. */
export function promoteOptions(checks: ServiceChecks = PASSING_CHECKS) {
  const report = memoryReporter();
  const clock = fakeClock();
  const opts: PromoteOptions = { report, waits: defaultWaits(undefined), clock, specDir: ".", serviceChecks: checks };
  return { opts, report, clock };
}
