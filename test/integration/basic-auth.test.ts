import { join } from "node:path";
import { createAwsClients, destroyAwsClients, send, targetFor } from "@mlflow-dev/aws/deploy";
import {
  cli,
  destroyEmulated,
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  emulatorEnv,
  imageOverride,
  MlflowClient,
  readEnvFile,
  removeLeftovers,
  requireImagesInCi,
  runPythonClient,
  specFixture,
  stackDatabase,
  stackPorts,
  testSpecDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * `auth: basic` for real: on the local stack (MLflow's basic-auth app in the project's image, its
 * admin created from the generated password, its users in the stack's PostgreSQL), then the same
 * spec promoted to ECS on the AWS emulator (the admin password from Secrets Manager, the database
 * reached over TLS verified against the CA at PGSSLROOTCERT), and live parity between the two
 * basic-auth servers.
 */
const NAME = "itauth";
/** Every checkout of the spec has a project that starts so. */
const STACKS = `mlflow-dev-${NAME}`;
const PORTS = stackPorts(import.meta.url);
const url = `http://127.0.0.1:${PORTS.mlflow}`;
let dir: string;
let env: Record<string, string>;
let up: ReturnType<typeof cli>;

const as = (username: string, password: string) => new MlflowClient(url, { credentials: { username, password } });
const anonymous = new MlflowClient(url);
const search = (c: MlflowClient) =>
  c.request("GET", "/api/2.0/mlflow/experiments/search", { query: { max_results: 1 } });

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(STACKS);
  dir = testSpecDir(NAME, PORTS, (spec) => spec.set("mlflow.auth", "basic"));
  up = cli(["up"], { cwd: dir });
  expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
  env = readEnvFile(join(dir, ".mlflow-dev/.env"));
}, 600_000);

const emulatorUp = await emulatorAnswers("basic-auth.test.ts");
const AWS_ENV = emulatorEnv("363636363636");
const AWS_ACCOUNT = AWS_ENV.AWS_ACCESS_KEY_ID;
let promoted = false;

afterAll(() => {
  if (dir && promoted) destroyEmulated(dir, AWS_ENV);
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

describe("basic auth on the local stack", () => {
  it("up names the admin user and where its password is, and prints no secret", () => {
    expect(up.stdout).toContain(
      `basic auth: user admin, password in ${join(dir, ".mlflow-dev/.env")} (MLFLOW_DEV_AUTH_ADMIN_PASSWORD)`,
    );
    expect(env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD).toMatch(/^[A-Za-z0-9]{32}$/);
    for (const value of Object.values(env)) {
      expect(up.stdout).not.toContain(value);
      expect(up.stderr).not.toContain(value);
    }
  });

  it("answers 401 without credentials or with a wrong password, 200 with the generated admin's; /health stays open", async () => {
    expect((await search(anonymous)).status).toBe(401);
    expect((await search(as("admin", "not-the-password"))).status).toBe(401);
    expect((await search(as("admin", env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD ?? ""))).status).toBe(200);
    expect((await anonymous.request("GET", "/health")).status).toBe(200);
  });

  it("a user created through the auth API logs in, may read, and may not administer", async () => {
    const admin = as("admin", env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD ?? "");
    const password = "Alice-s3cret-password-42";
    const created = await admin.request("POST", "/api/2.0/mlflow/users/create", {
      json: { username: "alice", password },
    });
    expect(created.status, created.text).toBe(200);
    const alice = as("alice", password);
    expect((await search(alice)).status).toBe(200);
    const denied = await alice.request("POST", "/api/2.0/mlflow/users/create", {
      json: { username: "mallory", password },
    });
    expect(denied.status).toBe(403);
    // The auth app keeps its users in the stack's PostgreSQL, beside the tracking tables.
    const db = await stackDatabase(PORTS.postgres, env);
    try {
      const users = await db.query("select username, is_admin from users order by username");
      expect(users.rows).toEqual([
        { username: "admin", is_admin: true },
        { username: "alice", is_admin: false },
      ]);
    } finally {
      await db.end();
    }
  });

  it("the Python client (examples/python-client) logs with MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD", async () => {
    const { runId } = await runPythonClient({
      image: imageOverride("mlflow") ?? `ghcr.io/mlflow/mlflow:v${pins.mlflow}-full`,
      trackingUri: url,
      experiment: "python-client-auth",
      modelName: "iris-auth",
      env: { MLFLOW_TRACKING_USERNAME: "admin", MLFLOW_TRACKING_PASSWORD: env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD ?? "" },
    });
    const admin = as("admin", env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD ?? "");
    const run = await admin.call<{ run: { info: { status: string } } }>("GET", "runs/get", { run_id: runId });
    expect(run.run.info.status).toBe("FINISHED");
  }, 600_000);

  it("encrypts the secrets MLflow stores with the generated passphrase, not MLflow's default", async () => {
    const admin = as("admin", env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD ?? "");
    const r = await admin.request("GET", "/ajax-api/3.0/mlflow/gateway/secrets/config");
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ using_default_passphrase: false });
    expect(env.MLFLOW_DEV_KEK_PASSPHRASE).toMatch(/^[A-Za-z0-9]{32}$/);
  });
});

describe.skipIf(!emulatorUp && !process.env.CI)("basic auth on ECS (the AWS emulator)", () => {
  let remote: string;
  let adminPassword: string;

  beforeAll(async () => {
    if (!emulatorUp) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    emulatedEnv(specFixture.file(join(dir, "mlflow-dev.yaml")), {
      account: AWS_ACCOUNT,
      bucket: `itauth-${Date.now().toString(36)}-artifacts`,
    }).write(dir);
    const r = cli(["promote", "--env", "staging", "--json"], { cwd: dir, env: AWS_ENV });
    promoted = true;
    expect(r.code, `promote failed:\n${r.stderr.slice(-3000)}`).toBe(0);
    remote = JSON.parse(r.stdout).url;
    const clients = await createAwsClients({
      region: AWS_ENV.AWS_REGION,
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: AWS_ACCOUNT, secretAccessKey: "test" },
    });
    try {
      const secret = await clients.secretsManager.getSecretValue({
        SecretId: `mlflow-dev/${NAME}/staging/auth-admin-password`,
      });
      adminPassword = secret.SecretString ?? "";
    } finally {
      destroyAwsClients(clients);
    }
    // promote's smoke test wrote and read a run: it authenticated with that password.
    expect(r.stderr).toContain("smoke test");
    expect(adminPassword).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(adminPassword).not.toBe(env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD);
  }, 900_000);

  it("the server reaches the emulated RDS over verified TLS only: verify-full connects, a plain connection and a wrong name are refused", () => {
    // One one-off task of the server's revision (its image, environment and CA mount): what the
    // server's own connections look like from the database's side, then three connections of our own.
    const probe = [
      "import os, socket, psycopg2",
      "def attempt(**kw):",
      "    try:",
      "        c = psycopg2.connect(**kw)",
      "    except psycopg2.OperationalError as e:",
      "        return 'refused: ' + ' '.join(str(e).split())",
      "    cur = c.cursor()",
      "    cur.execute('select ssl from pg_stat_ssl where pid = pg_backend_pid()')",
      "    ssl = cur.fetchone()[0]",
      "    cur.execute(\"select s.ssl, count(*) from pg_stat_activity a join pg_stat_ssl s using (pid) where a.backend_type = 'client backend' and a.pid <> pg_backend_pid() group by s.ssl order by s.ssl\")",
      "    others = cur.fetchall()",
      "    c.close()",
      "    return f'connected ssl={ssl} others={others}'",
      "print('settings', os.environ['PGSSLMODE'], os.environ['PGSSLROOTCERT'])",
      "print('ca certificates', open(os.environ['PGSSLROOTCERT']).read().count('BEGIN CERTIFICATE'))",
      "print('verify-full', attempt())",
      "print('plain', attempt(sslmode='disable'))",
      "print('by address', attempt(host=socket.gethostbyname(os.environ['PGHOST'])))",
    ].join("\n");
    const r = cli(["exec", "--env", "staging", "--", "python", "-c", probe], { cwd: dir, env: AWS_ENV });
    expect(r.code, `${r.stderr.slice(-3000)}\n${r.stdout}`).toBe(0);
    const line = (key: string) => r.stdout.split("\n").find((l) => l.startsWith(`${key} `)) ?? `${key}: (no line)`;
    expect(line("settings")).toBe("settings verify-full /etc/mlflow-dev/db-ca/rds-ca-bundle.pem");
    // On the twin the path holds the emulator's one CA (mounted over the image's RDS bundle).
    expect(line("ca certificates")).toBe("ca certificates 1");
    // The server's pooled connections (and its migration's, if still open) all use TLS, and some exist.
    expect(line("verify-full")).toMatch(/^verify-full connected ssl=True others=\[\(True, [1-9]\d*\)\]$/);
    // rds.force_ssl=1: the database refuses a connection without TLS, as RDS does.
    expect(line("plain")).toMatch(/^plain refused: .*no pg_hba\.conf entry for host .*no encryption/);
    // The certificate names the endpoint, not its address: verify-full checks the name.
    expect(line("by address")).toMatch(/^by address refused: .*server certificate .* does not match host name/);
  });

  it("through the load balancer: 401 without credentials, 200 with the admin password from Secrets Manager", async () => {
    const target = targetFor(remote, EMULATOR);
    const path = "/api/2.0/mlflow/experiments/search?max_results=1";
    expect((await send(target, "GET", path)).status).toBe(401);
    const basic = (user: string, password: string) => ({
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
    });
    expect((await send(target, "GET", path, { headers: basic("admin", "wrong-password") })).status).toBe(401);
    expect((await send(target, "GET", path, { headers: basic("admin", adminPassword) })).status).toBe(200);
  });

  it("live parity between the local and the emulated basic-auth servers: no difference", () => {
    const r = cli(
      [
        "parity",
        "--live",
        "--local",
        url,
        "--remote",
        remote,
        "--connect-to",
        `${new URL(remote).host}:80:127.0.0.1:4566`,
        "--json",
      ],
      {
        cwd: dir,
        env: {
          MLFLOW_PARITY_LOCAL_USERNAME: "admin",
          MLFLOW_PARITY_LOCAL_PASSWORD: env.MLFLOW_DEV_AUTH_ADMIN_PASSWORD ?? "",
          MLFLOW_PARITY_REMOTE_USERNAME: "admin",
          MLFLOW_PARITY_REMOTE_PASSWORD: adminPassword,
        },
      },
    );
    expect(r.code, `${r.stderr}\n${r.stdout.slice(0, 3000)}`).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.differences).toEqual([]);
    expect(report.local.incomplete).toEqual([]);
    expect(report.remote.incomplete).toEqual([]);
  });
});
