import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asLocalModel, type LocalModel, parseSpecOrThrow, resolve, serverCommand } from "@mlflow-dev/spec";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { writeLocalFiles } from "../src/files.ts";
import {
  completeEnvFile,
  generateSecret,
  parseEnvFile,
  requiredEnvVars,
  toComposeFile,
  toComposeYaml,
} from "../src/index.ts";

const root = new URL("../../../", import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), "utf8");
const basicModel = (): LocalModel => resolve(parseSpecOrThrow(read("examples/basic/mlflow-dev.yaml")), "local");
const authModel = (): LocalModel =>
  resolve(
    parseSpecOrThrow(
      "name: secure\nmlflow:\n  auth: basic\nimages:\n  build:\n    context: images/mlflow\n    baseImage: python:3.13-slim\nartifacts:\n  bucket: secure-artifacts\n  localServer: minio\nenvironments:\n  local:\n    bindAddress: 127.0.0.1\n",
    ),
    "local",
  );

function goldenCheck(name: string, actual: string) {
  const path = new URL(`./golden/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, actual);
  expect(actual, `golden ${name} differs: review the change, then UPDATE_GOLDEN=1`).toBe(readFileSync(path, "utf8"));
}

describe("compose golden files (reviewed)", () => {
  it("examples/basic local", () => goldenCheck("basic-local.compose.yaml", toComposeYaml(basicModel())));
  it("basic auth + built image", () => goldenCheck("auth-build-local.compose.yaml", toComposeYaml(authModel())));
  it("the root compose.yaml is the rendering of examples/basic (run `pnpm mlflow-dev render --env local -f examples/basic/mlflow-dev.yaml > compose.yaml`)", () => {
    expect(read("compose.yaml")).toBe(toComposeYaml(basicModel(), { specDir: "examples/basic" }));
  });
});

describe("compose semantics", () => {
  for (const [label, model] of [
    ["basic", basicModel()],
    ["auth", authModel()],
  ] as const) {
    const file = toComposeFile(model);
    const services = Object.entries(file.services);

    it(`${label}: limits the server and its migration job to the model's task size, with no swap`, () => {
      const { cpu, memory } = model.resources;
      for (const name of ["mlflow", "migrate"])
        expect(file.services[name], name).toMatchObject({
          cpus: String(cpu / 1024),
          mem_limit: `${memory}m`,
          memswap_limit: `${memory}m`,
        });
    });

    const store = model.target.kind === "local" ? model.target.objectStore : "minio";

    it(`${label}: the server and the object store (${store}) share one network namespace; the S3 endpoint is its published address`, () => {
      const t = model.target.kind === "local" ? model.target : undefined;
      for (const name of ["mlflow", store]) expect(file.services[name]?.network_mode, name).toBe("service:network");
      expect(file.services.network?.ports).toContain(`127.0.0.1:${t?.ports.minio}:${t?.ports.minio}`);
      const endpoint = `http://127.0.0.1:${t?.ports.minio}`;
      expect(file.services.mlflow?.environment).toMatchObject({ MLFLOW_S3_ENDPOINT_URL: endpoint });
      if (store === "versitygw") {
        expect(file.services.versitygw?.environment).toMatchObject({ VGW_PORT: `:${t?.ports.minio}` });
        expect(file.services["versitygw-setup"]?.environment).toMatchObject({ MLFLOW_DEV_S3_ENDPOINT: endpoint });
        return;
      }
      expect(file.services.minio?.environment).toMatchObject({
        MLFLOW_DEV_S3_ENDPOINT: endpoint,
        MLFLOW_DEV_MINIO_ADDRESS: `:${t?.ports.minio}`,
        MLFLOW_DEV_MINIO_CONSOLE_ADDRESS: ":9001",
      });
    });

    if (store === "minio")
      it(`${label}: MinIO sets up its bucket and the server's user itself, and is healthy only then`, () => {
        expect(Object.keys(file.services).sort()).toEqual(["migrate", "minio", "mlflow", "network", "postgres"]);
        const script = String((file.services.minio?.entrypoint as string[] | undefined)?.[2]);
        expect(script).toContain("exec minio server /data");
        expect(script).toContain('mc mb --ignore-existing "local/$$MLFLOW_DEV_BUCKET"');
        expect(script).toContain("touch /tmp/mlflow-dev-bucket-ready");
        expect(JSON.stringify(file.services.minio?.healthcheck)).toContain(
          "test -f /tmp/mlflow-dev-bucket-ready && curl",
        );
      });

    if (store === "versitygw")
      it(`${label}: versitygw runs from its image's entrypoint on the posix backend; a job sets up the bucket, user and policy`, () => {
        expect(Object.keys(file.services).sort()).toEqual([
          "migrate",
          "mlflow",
          "network",
          "postgres",
          "versitygw",
          "versitygw-setup",
        ]);
        const gw = file.services.versitygw!;
        expect(String((gw.entrypoint as string[])[2])).toContain("exec docker-entrypoint.sh");
        expect(gw.environment).toMatchObject({
          VGW_BACKEND: "posix",
          VGW_BACKEND_ARG: "/data/buckets",
          VGW_IAM_DIR: "/data/iam",
          VGW_HEALTH: "/_health",
          ROOT_ACCESS_KEY: expect.stringContaining("${MLFLOW_DEV_MINIO_ROOT_USER:?"),
          ROOT_SECRET_KEY: expect.stringContaining("${MLFLOW_DEV_MINIO_ROOT_PASSWORD:?"),
        });
        expect(gw.volumes).toEqual(["versitygw-data:/data"]);
        expect(JSON.stringify(gw.healthcheck)).toContain("/_health");
        const setup = file.services["versitygw-setup"]!;
        // The MLflow image's Python and boto3, after versitygw answers its health check.
        expect(setup.image).toBe(file.services.migrate?.image);
        expect((setup.entrypoint as string[]).slice(0, 2)).toEqual(["python", "-c"]);
        expect(setup.depends_on).toEqual({ versitygw: { condition: "service_started" } });
        const script = String((setup.entrypoint as string[])[2]);
        for (const step of ["s3.create_bucket(", 'admin("create-user"', "update-user?access=", "s3.put_bucket_policy("])
          expect(script).toContain(step);
        // No root key reaches the server; the set-up job is the only other holder.
        expect(JSON.stringify(file.services.mlflow?.environment)).not.toContain("ROOT");
      });

    it(`${label}: the server signs in as an object-store user limited to its prefix, never with the root key`, () => {
      for (const name of ["mlflow", "migrate"]) {
        const env = file.services[name]?.environment as Record<string, string>;
        expect(env.AWS_ACCESS_KEY_ID, name).toBe("mlflow-server");
        expect(env.AWS_SECRET_ACCESS_KEY, name).toContain("${MLFLOW_DEV_MINIO_SERVER_SECRET_KEY:?");
        expect(JSON.stringify(env), name).not.toContain("MLFLOW_DEV_MINIO_ROOT_");
      }
      const job = file.services[store === "minio" ? "minio" : "versitygw-setup"]?.environment as Record<string, string>;
      expect(job.MLFLOW_DEV_SERVER_ACCESS_KEY).toBe("mlflow-server");
      const { bucket, prefix } = model.artifacts;
      // versitygw's is a bucket policy: the same statements, each naming the user as its principal.
      const principal = store === "minio" ? {} : { Principal: { AWS: ["mlflow-server"] } };
      expect(JSON.parse(job.MLFLOW_DEV_SERVER_POLICY ?? "").Statement).toEqual([
        expect.objectContaining({
          Action: ["s3:ListBucket"],
          Resource: [`arn:aws:s3:::${bucket}`],
          Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}/*`] } },
          ...principal,
        }),
        expect.objectContaining({
          Action: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
          Resource: [`arn:aws:s3:::${bucket}/${prefix}/*`],
          ...principal,
        }),
      ]);
    });

    it(`${label}: publishes every port on the loopback address only`, () => {
      for (const [, svc] of services)
        for (const p of (svc.ports as string[] | undefined) ?? []) expect(p).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    });

    it(`${label}: has health checks on mlflow, postgres and ${store}, none with start_interval`, () => {
      for (const name of ["mlflow", "postgres", store]) expect(file.services[name]?.healthcheck).toBeDefined();
      expect(toComposeYaml(model)).not.toContain("start_interval");
    });

    it(`${label}: starts the server after the migration, and the jobs after what they need`, () => {
      expect(file.services.mlflow?.depends_on).toEqual({
        postgres: { condition: "service_started" },
        migrate: { condition: "service_completed_successfully" },
      });
      // The migration waits for PostgreSQL to accept connections itself.
      expect(file.services.migrate?.depends_on).toEqual({ postgres: { condition: "service_started" } });
    });

    it(`${label}: keeps data in named volumes, and the server's scratch in one of its own`, () => {
      expect(Object.keys(file.volumes).sort()).toEqual([`${store}-data`, "mlflow-scratch", "postgres-data"].sort());
    });

    it(`${label}: the server and the migration run hardened (non-root, read-only root, no capabilities, init)`, () => {
      for (const name of ["mlflow", "migrate"]) {
        const svc = file.services[name] as Record<string, unknown>;
        expect(svc.user, name).toBe("10001:10001");
        expect(svc.read_only, name).toBe(true);
        expect(svc.cap_drop, name).toEqual(["ALL"]);
        expect(svc.init, name).toBe(true);
        expect(svc.volumes, name).toEqual(["mlflow-scratch:/tmp"]);
      }
    });

    it(`${label}: holds no secret value, only references to .env`, () => {
      const text = toComposeYaml(model);
      const secretVars = requiredEnvVars(model);
      for (const v of secretVars) expect(text).toContain(`\${${v}:?`);
      for (const [, svc] of services) {
        for (const [key, value] of Object.entries((svc.environment as Record<string, string>) ?? {})) {
          // Access key ids name a user; the secrets are references.
          if (/PASSWORD|SECRET/.test(key)) expect(value, key).toMatch(/^\$\{MLFLOW_DEV_[A-Z_]+:\?/);
        }
      }
      // A real generated .env's values never appear in the rendering.
      const env = parseEnvFile(
        completeEnvFile(undefined, model, (n) => new Uint8Array(n).map((_, i) => (i * 37) % 256)).text,
      );
      for (const value of env.values()) expect(text).not.toContain(value);
    });

    it(`${label}: uses no :latest image`, () => {
      for (const [, svc] of services) expect(String(svc.image)).not.toMatch(/:latest$|^[^:]+$/);
    });

    it(`${label}: runs the server with the model's entrypoint and command (Compose escapes $)`, () => {
      const parsed = parseYaml(toComposeYaml(model));
      expect(parsed.services.mlflow.entrypoint).toEqual(model.mlflow.entrypoint);
      expect(parsed.services.mlflow.command[0].replaceAll("$$", "$")).toBe(serverCommand(model.mlflow.server)[0]);
    });

    it(`${label}: carries every model setting and secret into the server's environment`, () => {
      const env = file.services.mlflow?.environment as Record<string, string>;
      for (const key of Object.keys(model.mlflow.environment)) expect(env).toHaveProperty(key);
      for (const ref of model.mlflow.secrets) expect(env).toHaveProperty(ref.env);
    });
  }

  it("is deterministic", () => {
    expect(toComposeYaml(basicModel())).toBe(toComposeYaml(basicModel()));
  });

  it("takes only the local Model: an AWS environment's does not type-check, and asLocalModel refuses it", () => {
    const staging = resolve(parseSpecOrThrow(read("examples/basic/mlflow-dev.yaml")), "staging");
    expect(asLocalModel(staging)).toBeUndefined();
    // @ts-expect-error the Compose renderer takes a LocalModel only
    const render = () => toComposeFile(staging);
    expect(typeof render).toBe("function");
  });
});

describe(".env", () => {
  it("generates strong URL-safe secrets", () => {
    const s = generateSecret((n) => randomBytes(n));
    expect(s).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it("is written with mode 0600 and never overwritten", () => {
    const dir = tempDir("mlflow-dev-env-");
    const first = writeLocalFiles(dir, basicModel());
    expect(first.secretsAdded.sort()).toEqual(requiredEnvVars(basicModel()));
    expect(statSync(first.envPath).mode & 0o777).toBe(0o600);
    const before = readFileSync(first.envPath, "utf8");
    const second = writeLocalFiles(dir, basicModel());
    expect(second.secretsAdded).toEqual([]);
    expect(readFileSync(first.envPath, "utf8")).toBe(before);
    // Turning on auth adds the new secrets and keeps the old lines.
    const third = writeLocalFiles(dir, authModel());
    expect(third.secretsAdded.sort()).toEqual(["MLFLOW_DEV_AUTH_ADMIN_PASSWORD", "MLFLOW_DEV_FLASK_SECRET_KEY"]);
    expect(readFileSync(first.envPath, "utf8").startsWith(before)).toBe(true);
  });

  it("is ignored by git", () => {
    const out = spawnSync("git", ["check-ignore", "examples/basic/.env", ".env", ".mlflow-dev/.env"], {
      cwd: new URL(".", root),
    });
    expect(out.status).toBe(0);
  });
});

/** The real checker: `docker compose config`. Required in CI; skipped with a reason elsewhere. */
const composeAvailable = spawnSync("docker", ["compose", "version"], { stdio: "ignore" }).status === 0;
if (!composeAvailable) {
  if (process.env.CI)
    throw new Error("docker compose is required in CI for the compose config check (.ci/provision installs it)");
  console.warn(
    "skipping `docker compose config` checks: the docker compose plugin is not installed (run .ci/provision)",
  );
}
describe.runIf(composeAvailable)("docker compose config", () => {
  it.each([
    ["basic", basicModel],
    ["auth", authModel],
  ] as const)("accepts the %s rendering", (_label, model) => {
    const dir = tempDir("mlflow-dev-compose-");
    writeLocalFiles(dir, model());
    expect(existsSync(join(dir, ".env"))).toBe(true);
    const out = execFileSync("docker", ["compose", "-f", join(dir, "compose.yaml"), "config", "-q"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(out).toBe("");
  });

  it("fails clearly without .env", () => {
    const dir = tempDir("mlflow-dev-compose-");
    writeFileSync(join(dir, "compose.yaml"), toComposeYaml(basicModel()));
    const r = spawnSync("docker", ["compose", "-f", join(dir, "compose.yaml"), "config", "-q"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("is not set: run mlflow-dev up");
  });
});

describe("published ports", () => {
  const local = (ports: string, store = "versitygw"): LocalModel =>
    asLocalModel(
      resolve(
        parseSpecOrThrow(
          `name: ports\nartifacts: { bucket: ports-artifacts, localServer: ${store} }\nenvironments:\n  local:\n    ports: ${ports}\n`,
        ),
        "local",
      ),
    ) as LocalModel;

  it("by default MLflow on 5050 and the object store's S3 API only: no PostgreSQL, no console on the host", () => {
    for (const store of ["versitygw", "minio"]) {
      const file = toComposeFile(local("{}", store));
      expect(file.services.network?.ports).toEqual(["127.0.0.1:5050:5000", "127.0.0.1:9000:9000"]);
      expect(file.services.postgres?.ports).toBeUndefined();
    }
    expect(toComposeFile(local("{}", "minio")).services.minio?.environment).toMatchObject({
      MLFLOW_DEV_MINIO_CONSOLE_ADDRESS: ":9001",
    });
    expect(JSON.stringify(toComposeFile(local("{}", "versitygw")).services.versitygw?.environment)).not.toContain(
      "WEBUI",
    );
  });

  it("PostgreSQL and the console are published when the spec sets their ports", () => {
    const file = toComposeFile(local("{ postgres: 15432, minioConsole: 19001 }", "minio"));
    expect(file.services.network?.ports).toContain("127.0.0.1:19001:19001");
    expect(file.services.postgres?.ports).toEqual(["127.0.0.1:15432:5432"]);
    expect(file.services.minio?.environment).toMatchObject({ MLFLOW_DEV_MINIO_CONSOLE_ADDRESS: ":19001" });
    // versitygw's web console, pointed at the S3 API as the browser reaches it.
    const gw = toComposeFile(local("{ minioConsole: 19001 }", "versitygw"));
    expect(gw.services.network?.ports).toContain("127.0.0.1:19001:19001");
    expect(gw.services.versitygw?.environment).toMatchObject({
      VGW_WEBUI_PORT: ":19001",
      VGW_WEBUI_NO_TLS: "true",
      VGW_WEBUI_GATEWAYS: "http://127.0.0.1:9000",
      VGW_CORS_ALLOW_ORIGIN: "http://127.0.0.1:19001",
    });
  });

  it("an unpublished console keeps off the S3 API's port", () => {
    const file = toComposeFile(local("{ minio: 9001 }", "minio"));
    expect(file.services.minio?.environment).toMatchObject({
      MLFLOW_DEV_MINIO_ADDRESS: ":9001",
      MLFLOW_DEV_MINIO_CONSOLE_ADDRESS: ":9002",
    });
  });
});
