import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  canonicalCidr,
  checkFargateSize,
  DEFAULT_MLFLOW_BASE_IMAGE,
  DEFAULT_TASK_SIZE,
  defaultWorkers,
  estimateServerMemory,
  FARGATE_SIZES,
  formatIssue,
  PINS,
  parseSpec,
  parseSpecOrThrow,
  requiredServerMemory,
  resolve,
  SERVER_MEMORY_MODEL,
  SHIPPED_MLFLOW_CONTEXT,
  SpecError,
  serverCommand,
  specJsonSchema,
  UnknownEnvironmentError,
  upstreamMlflowImage,
} from "../src/index.ts";

const basic = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");
const minimal = "name: tracking\nartifacts:\n  bucket: mlflow-artifacts\nenvironments:\n  local: {}\n";

describe("schema.json", () => {
  it("is the committed rendering of the schema code (run `pnpm schema:write` after changing it)", () => {
    const committed = readFileSync(new URL("../schema.json", import.meta.url), "utf8");
    expect(committed).toBe(`${JSON.stringify(specJsonSchema(), null, 2)}\n`);
  });
});

describe("parse", () => {
  it("accepts the basic example and fills defaults", () => {
    const spec = parseSpecOrThrow(basic);
    expect(spec.mlflow.proxyArtifacts).toBe(true);
    expect(spec.images).toEqual({});
    expect(Object.keys(spec.environments)).toEqual(["local", "staging"]);
  });

  it("fills every default for a minimal spec", () => {
    const spec = parseSpecOrThrow(minimal);
    expect(spec.mlflow).toEqual({
      version: "3.17.2",
      jobs: false,
      allowedHosts: [],
      auth: "none",
      authCacheTtlSeconds: 60,
      proxyArtifacts: true,
      extraArgs: [],
    });
    expect(spec.backend).toEqual({ postgresVersion: 17, database: "mlflow", user: "mlflow" });
    expect(spec.environments.local?.ports).toEqual({ mlflow: 5050, minio: 9000 });
    expect(spec.environments.local?.bindAddress).toBe("127.0.0.1");
  });

  it("throws a SpecError carrying every issue", () => {
    expect(() => parseSpecOrThrow("name: X\nartifacts: {}\nenvironments: {}\n", "f.yaml")).toThrow(SpecError);
    try {
      parseSpecOrThrow("name: X\nartifacts: {}\nenvironments: {}\n", "f.yaml");
    } catch (e) {
      expect((e as SpecError).issues.length).toBeGreaterThanOrEqual(3);
      expect((e as SpecError).message).toContain("f.yaml:1:7 name:");
    }
  });

  it("is pure: the same text parses to equal specs", () => {
    expect(parseSpec(basic)).toEqual(parseSpec(basic));
  });
});

describe("Fargate sizes", () => {
  const accepted: Array<[number, number]> = [
    [256, 512],
    [256, 2048],
    [512, 1024],
    [512, 4096],
    [1024, 8192],
    [2048, 16384],
    [4096, 30720],
    [8192, 61440],
    [16384, 122880],
  ];
  const rejected: Array<[number, number, "cpu" | "memory"]> = [
    [256, 4096, "memory"],
    [300, 1024, "cpu"],
    [512, 512, "memory"],
    [1024, 1536, "memory"],
    [4096, 31744, "memory"],
    [8192, 18432, "memory"],
    [32768, 65536, "cpu"],
  ];
  it.each(accepted)("accepts cpu %i with memory %i", (cpu, memory) => {
    expect(checkFargateSize(cpu, memory)).toEqual({ ok: true });
  });
  it.each(rejected)("rejects cpu %i with memory %i (on %s)", (cpu, memory, field) => {
    const r = checkFargateSize(cpu, memory);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.field).toBe(field);
  });
  it("every table entry is accepted", () => {
    for (const [cpu, memories] of FARGATE_SIZES)
      for (const m of memories) expect(checkFargateSize(cpu, m).ok).toBe(true);
  });
});

describe("the server's process model and task size", () => {
  const withStaging = (mlflow: string, staging: string, local = "  local: {}\n") =>
    `name: tracking\nmlflow:\n${mlflow}artifacts:\n  bucket: mlflow-artifacts\nenvironments:\n${local}  staging:\n    region: eu-west-1\n    account: "123456789012"\n${staging}`;

  it.each([
    [256, 1],
    [512, 1],
    [1024, 2],
    [2048, 4],
    [4096, 8],
    [16384, 8],
  ])("defaults to %i CPU units -> %i workers", (cpu, workers) => {
    expect(defaultWorkers(cpu)).toBe(workers);
  });

  it("estimates memory as base + workers + jobs, from the measured model", () => {
    const m = SERVER_MEMORY_MODEL;
    expect(estimateServerMemory({ workers: 2, jobs: false })).toBe(m.baseMiB + 2 * m.perWorkerMiB);
    expect(estimateServerMemory({ workers: 2, jobs: true })).toBe(m.baseMiB + 2 * m.perWorkerMiB + m.jobsMiB);
    expect(requiredServerMemory({ workers: 1, jobs: false })).toBe(
      Math.ceil((m.baseMiB + m.perWorkerMiB) * (1 + m.headroom)),
    );
  });

  const fits: [string, string, string, boolean][] = [
    ["examples/basic: 2 workers, jobs off, 1024 MiB", "  workers: 2\n", "    cpu: 512\n    memory: 1024\n", true],
    ["2 workers, jobs on, 1024 MiB", "  workers: 2\n  jobs: true\n", "    cpu: 512\n    memory: 1024\n", false],
    ["2 workers, jobs on, 3072 MiB", "  workers: 2\n  jobs: true\n", "    cpu: 512\n    memory: 3072\n", true],
    ["8 workers, jobs off, 2048 MiB", "  workers: 8\n", "    cpu: 1024\n    memory: 2048\n", true],
    ["12 workers, jobs off, 2048 MiB", "  workers: 12\n", "    cpu: 1024\n    memory: 2048\n", false],
    ["default workers at cpu 4096 (8), 8192 MiB", "  version: 3.17.2\n", "    cpu: 4096\n    memory: 8192\n", true],
  ];
  it.each(fits)("%s: fits %s", (_name, mlflow, staging, ok) => {
    const r = parseSpec(withStaging(mlflow, staging));
    expect(r.ok).toBe(ok);
    if (!r.ok) {
      expect(r.issues.map((i) => i.path)).toEqual(["environments.staging.memory"]);
      expect(r.issues[0]?.message).toMatch(/need about \d+ MiB .*measured on MLflow 3\.17\.2/);
    }
  });

  it("the local stack mirrors the only AWS environment: its size and its default workers", () => {
    const spec = parseSpecOrThrow(withStaging("  version: 3.17.2\n", "    cpu: 1024\n    memory: 2048\n"));
    const local = resolve(spec, "local");
    const staging = resolve(spec, "staging");
    expect(local.resources).toEqual({ cpu: 1024, memory: 2048, source: "environments.staging" });
    expect(staging.resources).toEqual(local.resources);
    expect(local.mlflow.workers).toBe(2);
    expect(serverCommand(local.mlflow.server)).toEqual(serverCommand(staging.mlflow.server));
  });

  it("environments.local.resources sets the local size by hand; with no AWS environment the default Fargate size", () => {
    const byHand = withStaging("  workers: 1\n", "", "  local:\n    resources: { cpu: 2048, memory: 4096 }\n");
    expect(resolve(parseSpecOrThrow(byHand), "local").resources).toEqual({
      cpu: 2048,
      memory: 4096,
      source: "environments.local.resources",
    });
    const alone = parseSpecOrThrow("name: tracking\nartifacts:\n  bucket: b-artifacts\nenvironments:\n  local: {}\n");
    expect(resolve(alone, "local").resources).toEqual({ ...DEFAULT_TASK_SIZE, source: "the default Fargate size" });
  });

  it("job execution is a managed server setting, off unless mlflow.jobs is on", () => {
    const off = resolve(parseSpecOrThrow(minimal), "local");
    expect(off.mlflow.environment.MLFLOW_SERVER_ENABLE_JOB_EXECUTION).toBe("false");
    const on = parseSpecOrThrow(withStaging("  jobs: true\n", "    cpu: 512\n    memory: 3072\n"));
    expect(resolve(on, "staging").mlflow.environment.MLFLOW_SERVER_ENABLE_JOB_EXECUTION).toBe("true");
    const own = parseSpec(
      withStaging("  workers: 1\n", '    mlflow:\n      env: { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "true" }\n'),
    );
    expect(own.ok).toBe(false);
  });

  it("the database pool is sized to the database's connections (examples/basic on db.t4g.micro: 6 kept, 3 more on demand, for 2 workers x 2 stores), and uvicorn logs no access lines, on both runtimes; an environment's mlflow.env may set either", () => {
    const s = parseSpecOrThrow(basic);
    for (const env of ["local", "staging"]) {
      expect(resolve(s, env).mlflow.environment).toMatchObject({
        MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "6",
        MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: "3",
        UVICORN_ACCESS_LOG: "false",
      });
    }
    const own = parseSpecOrThrow(`${basic}    mlflow:\n      env: { MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: "20" }\n`);
    expect(resolve(own, "staging").mlflow.environment.MLFLOW_SQLALCHEMYSTORE_POOL_SIZE).toBe("20");
    expect(resolve(own, "local").mlflow.environment.MLFLOW_SQLALCHEMYSTORE_POOL_SIZE).toBe("6");
  });
});

describe("resolve", () => {
  const spec = parseSpecOrThrow(basic);

  it("derives the default MLflow image from the pinned version: the shipped images/mlflow, built", () => {
    expect(resolve(spec, "local").mlflow.image).toEqual({
      kind: "build",
      context: SHIPPED_MLFLOW_CONTEXT,
      baseImage: DEFAULT_MLFLOW_BASE_IMAGE,
      tag: "localhost/mlflow-dev-local/tracking-mlflow:3.17.2",
      origin: { from: "default" },
    });
    // The same on AWS (pushed to the stack's ECR repository), with an offline base when asked.
    expect(resolve(spec, "staging").mlflow.image).toEqual(resolve(spec, "local").mlflow.image);
    expect(resolve(spec, "local", { mlflowBase: "localhost/x/python:1" }).mlflow.image).toMatchObject({
      kind: "build",
      baseImage: "localhost/x/python:1",
    });
  });

  it("another MLflow version than the pinned one has no shipped lock: MLflow's published image", () => {
    const other = parseSpecOrThrow(basic.replace(/version: \d+\.\d+\.\d+/, "version: 3.16.1"));
    expect(resolve(other, "local").mlflow.image).toEqual({
      kind: "pull",
      ref: upstreamMlflowImage("3.16.1"),
      origin: { from: "default" },
    });
  });

  it("gives both environments the same command, entrypoint and common settings", () => {
    const local = resolve(spec, "local");
    const staging = resolve(spec, "staging");
    expect(serverCommand(staging.mlflow.server)).toEqual(serverCommand(local.mlflow.server));
    expect(staging.mlflow.entrypoint).toEqual(local.mlflow.entrypoint);
    expect(Object.keys(staging.mlflow.environment)).toEqual(Object.keys(local.mlflow.environment));
    expect(staging.mlflow.secrets).toEqual(local.mlflow.secrets);
  });

  it("uses the environment's bucket override on AWS", () => {
    expect(resolve(spec, "staging").artifacts.destination).toBe("s3://tracking-staging-artifacts-123456789012/mlflow");
    expect(resolve(spec, "local").artifacts.destination).toBe("s3://mlflow-artifacts/mlflow");
  });

  const onMinio = parseSpecOrThrow(minimal.replace("artifacts:\n", "artifacts:\n  localServer: minio\n"));

  it("applies image overrides: the object store's is the one of the server the spec runs", () => {
    const overrides = {
      mlflow: "example.org/mlflow:1",
      postgres: "example.org/pg:17",
      versitygw: "example.org/versitygw:1",
      minio: "example.org/minio:1",
    };
    const m = resolve(spec, "local", overrides);
    expect(m.mlflow.image).toEqual({
      kind: "pull",
      ref: "example.org/mlflow:1",
      origin: { from: "override", variable: "MLFLOW_DEV_IMAGES" },
    });
    expect(m.target.kind === "local" && m.target).toMatchObject({
      objectStore: "versitygw",
      images: { postgres: "example.org/pg:17", objectStore: "example.org/versitygw:1" },
    });
    expect(resolve(onMinio, "local", overrides).target).toMatchObject({
      objectStore: "minio",
      images: { objectStore: "example.org/minio:1" },
    });
  });

  it("runs versitygw by default, from the versitygw project's image at the pinned release, by digest", () => {
    const t = resolve(spec, "local").target;
    expect(t.kind === "local" && t.images.objectStore).toMatch(
      new RegExp(`^versity/versitygw:${PINS.versitygw}@sha256:[0-9a-f]{64}$`),
    );
  });

  it("adds the basic-auth secrets and flags only with auth: basic", () => {
    const withAuth = parseSpecOrThrow(minimal.replace("name: tracking\n", "name: tracking\nmlflow:\n  auth: basic\n"));
    const m = resolve(withAuth, "local");
    expect(m.mlflow.secrets.map((s) => s.env)).toEqual([
      "MLFLOW_DB_PASSWORD",
      "MLFLOW_CRYPTO_KEK_PASSPHRASE",
      "MLFLOW_AUTH_ADMIN_PASSWORD",
      "MLFLOW_FLASK_SERVER_SECRET_KEY",
    ]);
    expect(serverCommand(m.mlflow.server)[0]).toContain("--app-name basic-auth");
    expect(serverCommand(resolve(parseSpecOrThrow(minimal), "local").mlflow.server)[0]).not.toContain("basic-auth");
  });

  it("quotes extra server flags for the shell", () => {
    const s = parseSpecOrThrow(
      minimal.replace(
        "name: tracking\n",
        'name: tracking\nmlflow:\n  extraArgs: ["--gunicorn-opts", "--timeout 120"]\n',
      ),
    );
    expect(serverCommand(resolve(s, "local").mlflow.server)[0]).toContain("--gunicorn-opts '--timeout 120'");
  });

  it("adds an environment's own server env and flags to that environment only", () => {
    const s = parseSpecOrThrow(
      `${basic}    mlflow:\n      env: { MLFLOW_ENABLE_ASYNC_LOGGING: "true" }\n      extraArgs: ["--dev"]\n` +
        'parity:\n  declared:\n    - { setting: arg.--dev, reason: "staging runs the development server for tests" }\n',
    );
    const local = resolve(s, "local");
    const staging = resolve(s, "staging");
    expect(staging.mlflow.environment.MLFLOW_ENABLE_ASYNC_LOGGING).toBe("true");
    expect(local.mlflow.environment.MLFLOW_ENABLE_ASYNC_LOGGING).toBeUndefined();
    expect(staging.mlflow.server.flags.filter((f) => f.source !== "mlflow-dev")).toEqual([
      { flag: "--dev", source: "environments.staging.mlflow.extraArgs" },
    ]);
    expect(serverCommand(staging.mlflow.server)[0]).toMatch(/ --dev$/);
    expect(serverCommand(local.mlflow.server)[0]).not.toContain("--dev");
    expect(staging.parity.declared).toEqual([
      { setting: "arg.--dev", reason: "staging runs the development server for tests" },
    ]);
  });

  it("rejects an unknown environment, naming the defined ones", () => {
    expect(() => resolve(spec, "prod")).toThrow(UnknownEnvironmentError);
    expect(() => resolve(spec, "prod")).toThrow(/Defined: local, staging/);
  });
});

describe("what an image needs on AWS: the scratch volume a hardened server writes to, the RDS CA bundle", () => {
  const aws = (extra: string) =>
    `name: tracking\n${extra}artifacts:\n  bucket: b-artifacts\nenvironments:\n  staging:\n    region: eu-west-1\n    account: "123456789012"\n`;
  const paths = (yaml: string) => {
    const r = parseSpec(yaml);
    return r.ok ? r.warnings.map((w) => w.path) : ["(invalid)"];
  };

  it("warns for an image mlflow-dev does not build, on an AWS environment only", () => {
    expect(paths(aws("images:\n  mlflow: example.com/team/mlflow:1\n"))).toEqual(["images.mlflow"]);
    const r = parseSpec(aws("mlflow:\n  version: 3.0.1\n"));
    expect(r.ok && r.warnings.map((w) => [w.path, w.message])).toEqual([
      [
        "mlflow.version",
        expect.stringContaining(
          "ghcr.io/mlflow/mlflow:v3.0.1-full, which runs as root, declares no VOLUME and has no RDS CA bundle",
        ),
      ],
    ]);
    const own = parseSpec(aws("images:\n  mlflow: example.com/team/mlflow:1\n"));
    expect(own.ok && own.warnings[0]?.message).toMatch(
      /carries the Amazon RDS CA bundle at \/etc\/mlflow-dev\/db-ca\/rds-ca-bundle\.pem \(PGSSLROOTCERT; PGSSLMODE is verify-full\).*make sure example\.com\/team\/mlflow:1 does/,
    );
    expect(paths(aws(""))).toEqual([]);
    expect(paths(aws("images:\n  build:\n    context: images/mlflow\n"))).toEqual([]);
    const localOnly =
      "name: tracking\nimages:\n  mlflow: example.com/team/mlflow:1\nartifacts:\n  bucket: b-artifacts\nenvironments:\n  local: {}\n";
    expect(paths(localOnly)).toEqual([]);
  });
});

describe("access: who may reach an AWS environment", () => {
  const env = (access: string, network = "") =>
    `name: tracking\nartifacts:\n  bucket: b-artifacts\nenvironments:\n  staging:\n    region: eu-west-1\n    account: "123456789012"\n${network}${access}`;

  it("defaults to an internal load balancer that admits the new VPC's CIDR", () => {
    const target = resolve(parseSpecOrThrow(env("", "    network:\n      cidr: 10.40.0.0/16\n")), "staging").target;
    expect(target.kind === "aws" && target.access).toEqual({ loadBalancer: "internal", sourceCidrs: ["10.40.0.0/16"] });
    const plain = resolve(parseSpecOrThrow(env("")), "staging").target;
    expect(plain.kind === "aws" && plain.access.sourceCidrs).toEqual(["10.0.0.0/16"]);
  });

  it("keeps the spec's blocks and acknowledgement", () => {
    const yaml = env(
      "    access:\n      loadBalancer: internet-facing\n      sourceCidrs: [0.0.0.0/0]\n      openToInternet: { acknowledged: true, reason: a public demo server }\n",
    );
    const r = parseSpec(yaml);
    expect(r.ok && r.warnings.map((w) => w.path)).toEqual(["environments.staging.access.openToInternet"]);
    const target = resolve(parseSpecOrThrow(yaml), "staging").target;
    expect(target.kind === "aws" && target.access).toEqual({
      loadBalancer: "internet-facing",
      sourceCidrs: ["0.0.0.0/0"],
      openToInternet: { reason: "a public demo server" },
    });
  });

  it("warns about nothing for a restricted or internal environment", () => {
    for (const access of [
      "",
      "    access:\n      loadBalancer: internet-facing\n      sourceCidrs: [203.0.113.0/24]\n",
    ]) {
      const r = parseSpec(env(access));
      expect(r.ok && r.warnings).toEqual([]);
    }
  });

  it.each([
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["203.0.113.0/24", "203.0.113.0/24"],
    ["198.51.100.23/28", "198.51.100.16/28"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["255.255.255.255/32", "255.255.255.255/32"],
    ["1.2.3.4/0", "0.0.0.0/0"],
  ])("canonicalCidr(%s) is %s", (cidr, canonical) => {
    expect(canonicalCidr(cidr)).toBe(canonical);
  });

  it.each(["10.0.0.0", "10.0.0.0/33", "256.0.0.0/8", "office"])("canonicalCidr(%s) is not a block", (cidr) => {
    expect(canonicalCidr(cidr)).toBeUndefined();
  });
});

describe("formatIssue", () => {
  it("escapes control characters (in the file name too) and cuts a long path with its length", () => {
    const line = formatIssue({
      file: "a\u001b[2J.yaml",
      line: 1,
      col: 2,
      path: `x.${"k".repeat(120)}`,
      message: "bad\rvalue",
    });
    expect(line).toBe(`a\\u001b[2J.yaml:1:2 x.${"k".repeat(58)}... (122 characters): bad\\u000dvalue`);
  });

  it("marks a warning after the position", () => {
    expect(formatIssue({ file: "f.yaml", line: 3, col: 4, path: "p", message: "m", severity: "warning" })).toBe(
      "f.yaml:3:4 warning: p: m",
    );
  });
});
