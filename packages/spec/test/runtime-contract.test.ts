import { describe, expect, it } from "vitest";
import {
  type AwsEnvironmentModel,
  bindingNames,
  DATABASE_CA_BUNDLE_PATH,
  extraArgFlags,
  flagsToArgv,
  type LocalModel,
  MANAGED_SERVER_ENV,
  managedFlags,
  parseSpec,
  parseSpecOrThrow,
  RESERVED_FLAGS,
  RUNTIME_BINDINGS,
  resolve,
  resolveServerCommand,
  SCRIPT_VARIABLES,
  SERVER_PROGRAM,
  type ServerCommandInput,
  serverCommand,
  serverPreamble,
  serverScript,
  WORKER_CONCURRENCY_VARIABLE,
} from "../src/index.ts";

const DB_URI =
  'export MLFLOW_BACKEND_STORE_URI="postgresql+psycopg2://${MLFLOW_DB_USER}:${MLFLOW_DB_PASSWORD}@${MLFLOW_DB_HOST}:${MLFLOW_DB_PORT}/${MLFLOW_DB_NAME}"';

const input = (over: Partial<ServerCommandInput> = {}): ServerCommandInput => ({
  workers: 2,
  proxyArtifacts: true,
  auth: "none",
  authCacheTtlSeconds: 60,
  jobs: true,
  extraArgs: [],
  ...over,
});

const PROGRAM_EXEC = `exec python -c '${SERVER_PROGRAM}' server `;

/** The server's script, with the program written as the `mlflow` it runs. */
const script = (server: ReturnType<typeof resolveServerCommand>) =>
  serverScript(server).replace(PROGRAM_EXEC, "exec mlflow server ");

/** The exec line of the server's script, with the program written as the `mlflow` it runs. */
const execLine = (over: Partial<ServerCommandInput> = {}) =>
  script(resolveServerCommand(input(over)))
    .split("\n")
    .at(-1);

describe("server flags: data in the Model, a script only at the edge", () => {
  it("renders mlflow-dev's flags with artifact proxying on", () => {
    expect(script(resolveServerCommand(input()))).toBe(
      [
        DB_URI,
        'exec mlflow server --host 0.0.0.0 --port 5000 --workers 2 --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" --serve-artifacts --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION"',
      ].join("\n"),
    );
  });

  it("runs mlflow server through SERVER_PROGRAM, with job execution on and off alike", () => {
    for (const jobs of [true, false]) {
      const server = resolveServerCommand(input({ jobs }));
      expect(server.execsUvicorn).toBe(!jobs);
      const line = serverScript(server).slice(`${DB_URI}\n`.length);
      // One single-quoted word of Python, then mlflow server's flags.
      expect(line.startsWith(PROGRAM_EXEC)).toBe(true);
      expect(line.slice(PROGRAM_EXEC.length)).toMatch(/^--host 0\.0\.0\.0 --port 5000 --workers 2 /);
    }
    expect(SERVER_PROGRAM).not.toContain("'");
    // It hands the process to uvicorn only with jobs off, and steps aside for an MLflow without the step.
    expect(SERVER_PROGRAM).toContain('os.environ.get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "true")');
    expect(SERVER_PROGRAM).toContain("if run_child is not None:");
    expect(SERVER_PROGRAM).toContain(`os.environ.get("${WORKER_CONCURRENCY_VARIABLE}")`);
  });

  it("renders --no-serve-artifacts and the default artifact root with artifact proxying off", () => {
    expect(execLine({ proxyArtifacts: false })).toBe(
      'exec mlflow server --host 0.0.0.0 --port 5000 --workers 2 --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" --no-serve-artifacts --default-artifact-root "$MLFLOW_ARTIFACTS_DESTINATION"',
    );
  });

  it("basic auth writes the auth config after the setup and adds --app-name basic-auth to the flags", () => {
    const server = resolveServerCommand(input({ auth: "basic" }));
    expect(server.setup).toEqual([DB_URI]);
    const lines = script(server).split("\n");
    expect(lines.slice(1, -1)).toEqual([
      "cat > /tmp/mlflow-auth.ini <<EOF",
      "[mlflow]",
      "default_permission = READ",
      "database_uri = ${MLFLOW_BACKEND_STORE_URI}",
      "admin_username = admin",
      "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
      "auth_cache_ttl_seconds = 60",
      "EOF",
      "export MLFLOW_AUTH_CONFIG_PATH=/tmp/mlflow-auth.ini",
    ]);
    expect(server.flags.at(-1)).toEqual({ flag: "--app-name", value: "basic-auth", source: "mlflow-dev" });
    expect(execLine({ auth: "basic" })).toMatch(/ --app-name basic-auth$/);
  });

  it("renders the credential cache's TTL into the auth config, 0 when the spec turns it off, none without auth", () => {
    expect(resolveServerCommand(input({ auth: "basic", authCacheTtlSeconds: 5 })).authConfig).toMatchObject({
      auth_cache_ttl_seconds: "5",
    });
    expect(script(resolveServerCommand(input({ auth: "basic", authCacheTtlSeconds: 0 })))).toContain(
      "\nauth_cache_ttl_seconds = 0\n",
    );
    const none = resolveServerCommand(input({ auth: "none", authCacheTtlSeconds: 30 }));
    expect(none.authConfig).toBeUndefined();
    expect(serverScript(none)).not.toContain("auth_cache_ttl_seconds");
  });

  it("takes the TTL from mlflow.authCacheTtlSeconds: 60 by default, 0 to 3600, the same on both runtimes", () => {
    const spec = (extra: string) =>
      `name: ttl\nmlflow:\n  auth: basic\n${extra}artifacts: { bucket: ttl-artifacts }\nenvironments:\n  local: {}\n  staging: { region: eu-west-1, account: "123456789012", bucket: ttl-staging-artifacts }\n`;
    const ttl = (text: string, env: string) =>
      resolve(parseSpecOrThrow(spec(text)), env).mlflow.server.authConfig?.auth_cache_ttl_seconds;
    expect(ttl("", "local")).toBe("60");
    expect(ttl("  authCacheTtlSeconds: 0\n", "local")).toBe("0");
    expect(ttl("  authCacheTtlSeconds: 5\n", "local")).toBe("5");
    expect(ttl("  authCacheTtlSeconds: 5\n", "staging")).toBe("5");
    for (const [bad, message] of [
      ["-1", "mlflow.authCacheTtlSeconds: must be at least 0, got -1"],
      ["3601", "mlflow.authCacheTtlSeconds: must be at most 3600, got 3601"],
      ["1.5", "mlflow.authCacheTtlSeconds: "],
    ]) {
      const r = parseSpec(spec(`  authCacheTtlSeconds: ${bad}\n`));
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.issues.map((i) => `${i.path}: ${i.message}`).join("\n"), bad).toContain(message);
    }
  });

  it("quotes the spec's extra flags for the shell, word by word, as given", () => {
    const line = execLine({
      extraArgs: [
        {
          args: ["--gunicorn-opts", "--timeout 120", "--static-prefix", "/it's", "--x=a b", "--y=$HOME", "--dev"],
          source: "mlflow.extraArgs",
        },
      ],
    });
    expect(line).toMatch(
      / "\$MLFLOW_ARTIFACTS_DESTINATION" --gunicorn-opts '--timeout 120' --static-prefix '\/it'\\''s' '--x=a b' '--y=\$HOME' --dev$/,
    );
  });

  it("keeps where each flag comes from: mlflow-dev, mlflow.extraArgs, then the environment's own", () => {
    const spec = parseSpecOrThrow(
      [
        "name: tracking",
        "mlflow:",
        "  extraArgs: [--dev]",
        "artifacts:",
        "  bucket: mlflow-artifacts",
        "environments:",
        "  local:",
        "    mlflow:",
        '      extraArgs: ["--gunicorn-opts", "--timeout 30", "--expose-prometheus=/tmp/m"]',
        "",
      ].join("\n"),
    );
    const flags = resolve(spec, "local").mlflow.server.flags;
    expect(flags.filter((f) => f.source === "mlflow-dev").map((f) => f.flag)).toEqual([
      "--host",
      "--port",
      "--workers",
      "--backend-store-uri",
      "--serve-artifacts",
      "--artifacts-destination",
    ]);
    expect(flags.filter((f) => f.source !== "mlflow-dev")).toEqual([
      { flag: "--dev", source: "mlflow.extraArgs" },
      { flag: "--gunicorn-opts", value: "--timeout 30", source: "environments.local.mlflow.extraArgs" },
      {
        flag: "--expose-prometheus",
        value: "/tmp/m",
        joined: true,
        source: "environments.local.mlflow.extraArgs",
      },
    ]);
  });

  it("reads a value after a flag unless it is a flag itself", () => {
    const src = "mlflow.extraArgs" as const;
    expect(extraArgFlags(["--a", "--b", "v", "-x", "1"], src)).toEqual([
      { flag: "--a", source: src },
      { flag: "--b", value: "v", source: src },
      { flag: "-x", value: "1", source: src },
    ]);
  });

  it("renders an argument vector with the variables' values", () => {
    const server = resolveServerCommand(
      input({ extraArgs: [{ args: ["--gunicorn-opts", "--timeout 120", "--x=1"], source: "mlflow.extraArgs" }] }),
    );
    const argv = flagsToArgv(server.flags, (name) => `<${name}>`);
    expect(argv.slice(6, 10)).toEqual([
      "--backend-store-uri",
      "<MLFLOW_BACKEND_STORE_URI>",
      "--serve-artifacts",
      "--artifacts-destination",
    ]);
    expect(argv.slice(-3)).toEqual(["--gunicorn-opts", "--timeout 120", "--x=1"]);
  });

  it("gives every runtime the same command: the Model's flags, rendered once", () => {
    const spec = parseSpecOrThrow(
      'name: tracking\nartifacts:\n  bucket: mlflow-artifacts\nenvironments:\n  local: {}\n  staging:\n    region: eu-west-1\n    account: "123456789012"\n    bucket: tracking-staging-artifacts\n',
    );
    expect(serverCommand(resolve(spec, "local").mlflow.server)).toEqual(
      serverCommand(resolve(spec, "staging").mlflow.server),
    );
  });
});

describe("the checks derived from the contract", () => {
  const base = "name: tracking\nartifacts:\n  bucket: mlflow-artifacts\nenvironments:\n  local:\n";

  it("reserves every flag mlflow-dev passes in any configuration, and the flags its bindings stand for", () => {
    const passed = [true, false].flatMap((proxyArtifacts) =>
      managedFlags({ workers: 1, proxyArtifacts, auth: "basic" }).map((f) => f.flag),
    );
    expect(new Set(RESERVED_FLAGS)).toEqual(new Set([...passed, "--allowed-hosts"]));
    expect([...RESERVED_FLAGS].sort()).toEqual([
      "--allowed-hosts",
      "--app-name",
      "--artifacts-destination",
      "--backend-store-uri",
      "--default-artifact-root",
      "--host",
      "--no-serve-artifacts",
      "--port",
      "--serve-artifacts",
      "--workers",
    ]);
  });

  it("refuses every reserved flag in extraArgs with the same message", () => {
    for (const flag of RESERVED_FLAGS) {
      const r = parseSpec(`${base}    mlflow:\n      extraArgs: ["${flag}=x"]\n`);
      expect(r.ok, flag).toBe(false);
      if (!r.ok)
        expect(r.issues.map((i) => [i.path, i.message])).toContainEqual([
          "environments.local.mlflow.extraArgs[0]",
          `sets ${flag}, which mlflow-dev manages. Use the matching spec setting instead (got "${flag}=x")`,
        ]);
    }
  });

  it("manages every variable it sets, every binding, and the variables behind its flags", () => {
    for (const name of [
      ...RUNTIME_BINDINGS.map((b) => b.name),
      "MLFLOW_DB_USER",
      "MLFLOW_DB_PASSWORD",
      "MLFLOW_BACKEND_STORE_URI",
      "MLFLOW_AUTH_CONFIG_PATH",
      "MLFLOW_CRYPTO_KEK_VERSION",
      "MLFLOW_PORT",
      "MLFLOW_WORKERS",
      "MLFLOW_SERVE_ARTIFACTS",
      "MLFLOW_DEFAULT_ARTIFACT_ROOT",
    ])
      expect(MANAGED_SERVER_ENV, name).toContain(name);
  });

  it("lists every variable the setup script exports", () => {
    const exported = serverPreamble(resolveServerCommand(input({ auth: "basic" }))).flatMap(
      (line) => /^export ([A-Z_][A-Z0-9_]*)=/.exec(line)?.[1] ?? [],
    );
    expect(exported).toEqual([...SCRIPT_VARIABLES]);
  });

  it("refuses a managed variable in mlflow.env with the same message, for every one of them", () => {
    for (const name of MANAGED_SERVER_ENV) {
      const r = parseSpec(`${base}    mlflow:\n      env: { ${name}: "x" }\n`);
      expect(r.ok, name).toBe(false);
      if (!r.ok)
        expect(r.issues.map((i) => [i.path, i.message])).toContainEqual([
          `environments.local.mlflow.env.${name}`,
          'is set by mlflow-dev on the server. Use the matching spec setting instead, or remove it (got "x")',
        ]);
    }
  });

  it("names each binding once, with a value on at least one side and a reason", () => {
    const names = RUNTIME_BINDINGS.map((b) => b.name);
    expect(new Set(names).size).toBe(names.length);
    for (const b of RUNTIME_BINDINGS) {
      expect(b.local ?? b.aws, b.name).toBeDefined();
      expect(b.parity.reason, b.name).not.toBe("");
    }
    expect(bindingNames("aws")).toEqual([
      "MLFLOW_DB_HOST",
      "PGSSLMODE",
      "PGSSLROOTCERT",
      "AWS_DEFAULT_REGION",
      "MLFLOW_SERVER_ALLOWED_HOSTS",
      "MLFLOW_ARTIFACTS_DESTINATION",
    ]);
  });
});

describe("database TLS: plain locally, verified on AWS", () => {
  const spec = parseSpecOrThrow(
    'name: tracking\nartifacts:\n  bucket: b-artifacts\nenvironments:\n  local: {}\n  staging:\n    region: eu-west-1\n    account: "123456789012"\n',
  );
  const binding = (name: string) => RUNTIME_BINDINGS.find((b) => b.name === name);
  const facts = { databaseHost: "db.example.eu-west-1.rds.amazonaws.com", allowedHosts: [] };
  const awsValue = (name: string) => binding(name)?.aws?.value(resolve(spec, "staging") as AwsEnvironmentModel, facts);

  it("verifies the RDS certificate and name against the bundle in the image on AWS; no TLS locally", () => {
    expect(awsValue("PGSSLMODE")).toBe("verify-full");
    expect(awsValue("PGSSLROOTCERT")).toBe("/etc/mlflow-dev/db-ca/rds-ca-bundle.pem");
    expect(DATABASE_CA_BUNDLE_PATH).toBe("/etc/mlflow-dev/db-ca/rds-ca-bundle.pem");
    const pgsslmode = binding("PGSSLMODE")?.local;
    expect(pgsslmode && "value" in pgsslmode && pgsslmode.value(resolve(spec, "local") as LocalModel)).toBe("disable");
    expect(binding("PGSSLROOTCERT")?.local).toBeUndefined();
  });

  it("declares the difference for parity only as the reason explains it", () => {
    const ctx = { local: resolve(spec, "local"), remote: resolve(spec, "staging") };
    const mode = binding("PGSSLMODE")?.parity;
    expect(mode?.applies("disable", "verify-full", ctx)).toBe(true);
    expect(mode?.applies("disable", "require", ctx)).toBe(false);
    expect(mode?.reason).toMatch(/verify-full .*rds\.force_ssl.*RDS CA bundle/);
    const root = binding("PGSSLROOTCERT")?.parity;
    expect(root?.applies(undefined, DATABASE_CA_BUNDLE_PATH, ctx)).toBe(true);
    expect(root?.applies(undefined, "/tmp/other.pem", ctx)).toBe(false);
    expect(root?.applies(DATABASE_CA_BUNDLE_PATH, DATABASE_CA_BUNDLE_PATH, ctx)).toBe(false);
  });
});
