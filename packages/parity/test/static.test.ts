import { placeholderContext, toTaskDefinition } from "@mlflow-dev/aws";
import { serverCommand } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import {
  BUILTIN_DECLARATIONS,
  composeFacets,
  flagValues,
  formatStaticReport,
  staticParity,
  taskFacets,
} from "../src/index.ts";
import { exampleText, models, specWith } from "./helpers.ts";

describe("static parity of the examples", () => {
  for (const [example, env] of [
    ["basic", "staging"],
    ["existing-vpc", "prod"],
  ] as const) {
    it(`${example}: local vs ${env} has no drift`, () => {
      const { local, remote } = models(exampleText(example), env);
      const report = staticParity(local, remote);
      expect(report.drift).toEqual([]);
      expect(report.environment).toBe(env);
      // The settings that must be the same really were compared, and are the same.
      for (const s of ["image", "entrypoint", "command", "arg.--workers", "arg.--backend-store-uri", "port"])
        expect(report.same, s).toContain(s);
      // The rendered compose limits and the task definition's size agree.
      for (const s of ["secret.MLFLOW_DB_PASSWORD", "env.MLFLOW_DB_USER", "healthcheck.command", "resources"])
        expect(report.same, s).toContain(s);
      expect(report.compared).toBe(report.same.length + report.declared.length + report.drift.length);
    });
  }

  it("existing-vpc compares the basic-auth flag and secrets on both sides", () => {
    const { local, remote } = models(exampleText("existing-vpc"), "prod");
    const report = staticParity(local, remote);
    expect(report.same).toContain("arg.--app-name");
    expect(report.same).toContain("secret.MLFLOW_AUTH_ADMIN_PASSWORD");
    expect(report.same).toContain("secret.MLFLOW_FLASK_SERVER_SECRET_KEY");
  });

  it("compares the basic-auth config key by key, the credential cache's TTL included", () => {
    const { local, remote } = models(exampleText("existing-vpc"), "prod");
    const report = staticParity(local, remote);
    for (const s of ["command", "auth.auth_cache_ttl_seconds", "auth.database_uri", "auth.admin_username"])
      expect(report.same, s).toContain(s);
    // A TTL on one side only (a rendering from another spec) is drift on its own setting, not on the command.
    const stale = structuredClone(remote);
    const config = stale.mlflow.server.authConfig ?? {};
    config.auth_cache_ttl_seconds = "0";
    const drift = staticParity(local, stale).drift;
    expect(drift).toEqual([{ setting: "auth.auth_cache_ttl_seconds", local: "60", remote: "0" }]);
  });

  it("without basic auth there is no auth config to compare", () => {
    const { local, remote } = models(exampleText("basic"), "staging");
    expect(staticParity(local, remote).same.filter((s) => s.startsWith("auth."))).toEqual([]);
  });

  it("every built-in declared difference appears with its reason", () => {
    const { local, remote } = models(exampleText("basic"), "staging");
    const report = staticParity(local, remote);
    const declared = new Map(report.declared.map((d) => [d.setting, d]));
    for (const builtin of BUILTIN_DECLARATIONS) {
      const d = declared.get(builtin.setting);
      expect(d, builtin.setting).toBeDefined();
      expect(d?.reason).toBe(builtin.reason);
      expect(d?.declaredBy).toBe("built-in");
    }
    expect(declared.get("env.MLFLOW_S3_ENDPOINT_URL")).toMatchObject({ local: "http://127.0.0.1:9000", remote: null });
    expect(declared.get("env.AWS_ACCESS_KEY_ID")).toMatchObject({ local: "mlflow-server", remote: null });
    expect(declared.get("secret.AWS_SECRET_ACCESS_KEY")?.local).toContain("MLFLOW_DEV_MINIO_SERVER_SECRET_KEY");
    expect(declared.get("secret.AWS_SECRET_ACCESS_KEY")?.remote).toBeNull();
    expect(declared.get("port.published")?.local).toBe("127.0.0.1:5050 -> 5000");
    expect(report.declared.map((d) => d.setting).sort()).toEqual(BUILTIN_DECLARATIONS.map((b) => b.setting).sort());
  });
});

describe("one-sided settings", () => {
  it("an undeclared environment variable on one side only is drift", () => {
    const { local, remote } = models(
      specWith({ staging: '    mlflow:\n      env: { MLFLOW_ENABLE_ASYNC_LOGGING: "true" }' }),
      "staging",
    );
    const report = staticParity(local, remote);
    expect(report.drift).toEqual([{ setting: "env.MLFLOW_ENABLE_ASYNC_LOGGING", local: null, remote: "true" }]);
  });

  it("an undeclared server flag on one side only is drift", () => {
    const { local, remote } = models(specWith({ local: "    mlflow:\n      extraArgs: [--dev]" }), "staging");
    const report = staticParity(local, remote);
    expect(report.drift).toEqual([{ setting: "arg.--dev", local: "(set)", remote: null }]);
  });

  it("a flag with different values on the two sides is drift, showing both values", () => {
    const { local, remote } = models(
      specWith({
        local: '    mlflow:\n      extraArgs: ["--gunicorn-opts", "--timeout 30"]',
        staging: '    mlflow:\n      extraArgs: ["--gunicorn-opts", "--timeout 120"]',
      }),
      "staging",
    );
    expect(staticParity(local, remote).drift).toEqual([
      { setting: "arg.--gunicorn-opts", local: "--timeout 30", remote: "--timeout 120" },
    ]);
  });

  it("the same per-environment setting on both sides is no difference", () => {
    const env =
      '    mlflow:\n      env: { MLFLOW_LOGGING_LEVEL: "DEBUG" }\n      extraArgs: [--expose-prometheus=/tmp/m]';
    const { local, remote } = models(specWith({ local: env, staging: env }), "staging");
    const report = staticParity(local, remote);
    expect(report.drift).toEqual([]);
    expect(report.same).toEqual(expect.arrayContaining(["env.MLFLOW_LOGGING_LEVEL", "arg.--expose-prometheus"]));
  });

  it("declared in parity.declared, the difference is declared with the spec's reason", () => {
    const { local, remote } = models(
      specWith({
        staging: '    mlflow:\n      env: { MLFLOW_ENABLE_ASYNC_LOGGING: "true" }',
        parity:
          "parity:\n  declared:\n    - setting: env.MLFLOW_ENABLE_ASYNC_LOGGING\n      reason: staging batches writes to absorb load tests",
      }),
      "staging",
    );
    const report = staticParity(local, remote);
    expect(report.drift).toEqual([]);
    expect(report.declared).toContainEqual({
      setting: "env.MLFLOW_ENABLE_ASYNC_LOGGING",
      local: null,
      remote: "true",
      reason: "staging batches writes to absorb load tests",
      declaredBy: "spec",
    });
    expect(report.unusedDeclarations).toEqual([]);
  });

  it("resources are compared: the local stack mirrors staging's size, so they are the same", () => {
    const { local, remote } = models(specWith({ staging: "    cpu: 1024\n    memory: 2048" }), "staging");
    const report = staticParity(local, remote);
    expect(report.same).toContain("resources");
    expect(BUILTIN_DECLARATIONS.map((b) => b.setting)).not.toContain("resources");
  });

  it("local limits set apart from staging's size are drift, unless the spec declares them with a reason", () => {
    const spec = specWith({ local: "    resources: { cpu: 1024, memory: 2048 }" });
    const drift = staticParity(models(spec, "staging").local, models(spec, "staging").remote).drift;
    expect(drift).toContainEqual(
      expect.objectContaining({
        setting: "resources",
        local: "cpu 1024 units (1 vCPU), memory 2048 MiB, no swap",
        remote: "cpu 512 units (0.5 vCPU), memory 1024 MiB, no swap",
      }),
    );
    const declared = `${spec}parity:\n  declared:\n    - setting: resources\n      reason: laptops run the bigger prod size for load tests\n`;
    const { local, remote } = models(declared, "staging");
    const report = staticParity(local, remote);
    expect(report.drift.map((d) => d.setting)).not.toContain("resources");
    expect(report.declared).toContainEqual(expect.objectContaining({ setting: "resources", declaredBy: "spec" }));
  });

  it("a compose service without limits, or with swap, differs from the Fargate task", () => {
    const noLimits = composeFacets({ image: "x" }).get("resources")?.value;
    const withSwap = composeFacets({ cpus: "0.5", mem_limit: "1g", memswap_limit: "2g" }).get("resources")?.value;
    expect(noLimits).toBe("no limits (shares the Docker host)");
    expect(withSwap).toBe("cpu 512 units (0.5 vCPU), memory 1024 MiB, with swap");
  });

  it("a declaration that matches no difference is reported as unused", () => {
    const { local, remote } = models(
      specWith({
        parity: "parity:\n  declared:\n    - { setting: arg.--dev, reason: only local runs the dev server }",
      }),
      "staging",
    );
    const report = staticParity(local, remote);
    expect(report.unusedDeclarations).toEqual([{ setting: "arg.--dev", reason: "only local runs the dev server" }]);
    expect(formatStaticReport(report)).toContain("parity.declared lists arg.--dev, but it does not differ");
  });

  it("a built-in declaration covers only what its reason says", () => {
    const hosts = BUILTIN_DECLARATIONS.find((b) => b.setting === "env.MLFLOW_SERVER_ALLOWED_HOSTS");
    const { local, remote } = models(
      specWith().replace("name: tracking\n", "name: tracking\nmlflow:\n  allowedHosts: [mlflow.corp]\n"),
      "staging",
    );
    expect(hosts?.applies("localhost:5050,mlflow.corp", "*.elb.amazonaws.com,mlflow.corp", { local, remote })).toBe(
      true,
    );
    // A spec host missing on one side is drift, not a runtime address.
    expect(hosts?.applies("localhost:5050", "*.elb.amazonaws.com,mlflow.corp", { local, remote })).toBe(false);
    const endpoint = BUILTIN_DECLARATIONS.find((b) => b.setting === "env.MLFLOW_S3_ENDPOINT_URL");
    expect(endpoint?.applies("http://minio:9000", "https://s3.example", { local, remote })).toBe(false);
    const bucket = BUILTIN_DECLARATIONS.find((b) => b.setting === "env.MLFLOW_ARTIFACTS_DESTINATION");
    expect(
      bucket?.applies("s3://mlflow-artifacts/mlflow", "s3://tracking-staging-artifacts/mlflow", { local, remote }),
    ).toBe(true);
    expect(
      bucket?.applies("s3://mlflow-artifacts/mlflow", "s3://tracking-staging-artifacts/other", { local, remote }),
    ).toBe(false);
  });

  it("a field static parity does not know is drift, so a renderer change cannot slip through", () => {
    const facets = composeFacets({ image: "x:1", command: ["exec mlflow server --port 5000"], privileged: true });
    expect(facets.get("field.privileged")?.value).toBe("true");
  });

  it("the text report names the drift and how to declare it", () => {
    const { local, remote } = models(specWith({ local: "    mlflow:\n      extraArgs: [--dev]" }), "staging");
    const text = formatStaticReport(staticParity(local, remote));
    expect(text).toMatch(/arg\.--dev\s+\(set\)\s+\(absent\)\s+DRIFT/);
    expect(text).toContain("1 drift");
    expect(text).toContain("- setting: arg.--dev");
  });
});

describe("server flags are compared as the Model's data", () => {
  it("groups each flag's values in order: --flag value, --flag=value, switches, values that start with --", () => {
    const { local } = models(
      specWith({
        local: '    mlflow:\n      extraArgs: ["--gunicorn-opts", "--timeout 120", "--x=1", "--x=2", "--dev"]',
      }),
      "staging",
    );
    const flags = flagValues(local.mlflow.server.flags);
    expect(flags.get("--gunicorn-opts")).toEqual(["--timeout 120"]);
    expect(flags.get("--x")).toEqual(["1", "2"]);
    expect(flags.get("--dev")).toEqual([]);
    expect(flags.get("--backend-store-uri")).toEqual(["$MLFLOW_BACKEND_STORE_URI"]);
  });

  it("a rendered command other than the Model's is compared as it is, without flags read back from it", () => {
    const { local, remote } = models(specWith(), "staging");
    const rendered = composeFacets({ image: "x", command: serverCommand(local.mlflow.server) }, local.mlflow.server);
    expect(rendered.get("arg.--port")?.value).toBe("5000");
    const patched = [`${serverCommand(local.mlflow.server)[0]} --dev`];
    const facets = composeFacets({ image: "x", command: patched }, local.mlflow.server);
    expect(facets.get("command")?.value).toBe(JSON.stringify(patched));
    expect([...facets.keys()].filter((k) => k.startsWith("arg."))).toEqual([]);
    // So the two sides differ in their command: drift, not a flag quietly read back.
    const task = taskFacets(toTaskDefinition(remote, placeholderContext(remote)), {
      desiredCount: 1,
      server: remote.mlflow.server,
    });
    expect(task.get("command")?.value).not.toBe(facets.get("command")?.value);
  });

  it("compares the container's hardening: equal as rendered, drift when one side runs writable or as root", async () => {
    const { local, remote } = models(specWith(), "staging");
    const { toComposeFile } = await import("@mlflow-dev/compose");
    const service = toComposeFile(local).services.mlflow as Record<string, unknown>;
    const task = toTaskDefinition(remote, placeholderContext(remote));
    const keys = [
      "hardening.user",
      "hardening.rootFilesystem",
      "hardening.capabilities",
      "hardening.init",
      "hardening.writable",
    ];
    const onCompose = composeFacets(service, local.mlflow.server);
    const onTask = taskFacets(task, { desiredCount: 1, server: remote.mlflow.server });
    for (const key of keys) expect(onTask.get(key)?.value, key).toBe(onCompose.get(key)?.value);
    expect(onCompose.get("hardening.rootFilesystem")?.value).toBe("read-only");
    expect(onCompose.get("hardening.writable")?.value).toBe("/tmp");

    const weakened = structuredClone(task);
    const container = weakened.containerDefinitions[0];
    container.readonlyRootFilesystem = false;
    container.user = "0";
    const facets = taskFacets(weakened, { desiredCount: 1, server: remote.mlflow.server });
    expect(facets.get("hardening.rootFilesystem")?.value).toBe("writable");
    expect(facets.get("hardening.user")?.value).not.toBe(onCompose.get("hardening.user")?.value);
  });
});
