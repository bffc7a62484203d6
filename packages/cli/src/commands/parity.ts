import { writeFileSync } from "node:fs";
import { randomHex } from "@mlflow-dev/kernel/random";
import type { MlflowClient, ReadinessCheck } from "@mlflow-dev/mlflow-client";
import { environmentNames } from "@mlflow-dev/spec";
import { parseCommandArgs, requireString } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { loadSpec, resolveAwsEnv, resolveLocalEnv } from "../load-spec.ts";
import { withSpecFlag } from "../spec-file.ts";

export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("parity", argv);
  const usage = (message: string, hint: string) =>
    new UserError(`parity: ${message}`, { exitCode: EXIT.invalidInput, hint });
  if (values.live === true) {
    if (values.env !== undefined)
      throw usage("--env is for static parity; --live compares two running servers", "Drop --env, or drop --live.");
    try {
      return await runLive(values, global.json);
    } catch (e) {
      // Its hints name local stack commands (up, status, logs): make them work from here.
      if (e instanceof UserError && e.hint !== undefined)
        throw new UserError(e.message, { exitCode: e.exitCode, hint: withSpecFlag(e.hint, global.file) });
      throw e;
    }
  }
  for (const flag of ["local", "remote", "save", "connect-to"] as const)
    if (values[flag] !== undefined)
      throw usage(`--${flag} needs --live`, "Example: mlflow-dev parity --live --local <url> --remote <url>");
  return runStatic(requireString(values, "env", "parity"), global.file, global.json);
}

// --- static parity -------------------------------------------------------------

async function runStatic(env: string, file: string, json: boolean): Promise<number> {
  const loaded = loadSpec(file);
  const names = environmentNames(loaded.spec);
  const aws = names.filter((n) => n !== "local");
  if (env === "local")
    throw new UserError("parity: --env names the AWS environment to compare with local", {
      exitCode: EXIT.invalidInput,
      hint: aws.length
        ? withSpecFlag(`Example: mlflow-dev parity --env ${aws[0]}`, file)
        : "The spec defines no AWS environment.",
    });
  if (!names.includes("local"))
    throw new UserError(`parity: ${loaded.shown} has no local environment to compare ${env} with`, {
      exitCode: EXIT.invalidInput,
      hint: "Add `local: {}` under environments:.",
    });
  // The spec's images on both sides: MLFLOW_DEV_IMAGES is a local run-time substitute, not a setting.
  const local = resolveLocalEnv(loaded);
  const remote = resolveAwsEnv(loaded, env);
  const { staticParity, formatStaticReport } = await import("@mlflow-dev/parity");
  const report = staticParity(local, remote);
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatStaticReport(report, { width: process.stdout.columns ?? 140 }));
  return report.drift.length === 0 ? EXIT.ok : EXIT.failed;
}

// --- live parity ----------------------------------------------------------------

type Side = "local" | "remote";

/** Basic-auth credentials come from the environment, never from flags (flags show in `ps`). */
export const CREDENTIAL_VARS = {
  local: { username: "MLFLOW_PARITY_LOCAL_USERNAME", password: "MLFLOW_PARITY_LOCAL_PASSWORD" },
  remote: { username: "MLFLOW_PARITY_REMOTE_USERNAME", password: "MLFLOW_PARITY_REMOTE_PASSWORD" },
  both: { username: "MLFLOW_TRACKING_USERNAME", password: "MLFLOW_TRACKING_PASSWORD" },
} as const;

function credentialsFor(side: Side, env: NodeJS.ProcessEnv): { username: string; password: string } | undefined {
  for (const vars of [CREDENTIAL_VARS[side], CREDENTIAL_VARS.both]) {
    const username = env[vars.username];
    const password = env[vars.password];
    if (username === undefined && password === undefined) continue;
    if (!username || !password)
      throw new UserError(`parity: ${username ? vars.password : vars.username} is not set`, {
        exitCode: EXIT.invalidInput,
        hint: `Set both ${vars.username} and ${vars.password}, or neither.`,
      });
    return { username, password };
  }
  return undefined;
}

function parseServerUrl(side: Side, raw: unknown): string {
  if (typeof raw !== "string" || raw === "")
    throw new UserError(`parity: --${side} <url> is required with --live`, {
      exitCode: EXIT.invalidInput,
      hint: "Example: mlflow-dev parity --live --local http://127.0.0.1:5050 --remote https://mlflow.example.com",
    });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserError(`parity: --${side} "${raw}" is not a URL`, {
      exitCode: EXIT.invalidInput,
      hint: "Give the server's base URL, such as http://127.0.0.1:5050.",
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UserError(`parity: --${side} must be an http:// or https:// URL (got ${url.protocol})`, {
      exitCode: EXIT.invalidInput,
    });
  if (url.username || url.password)
    throw new UserError(`parity: --${side} carries credentials in the URL`, {
      exitCode: EXIT.invalidInput,
      hint: `A URL shows in ps and shell history. Remove them and set ${CREDENTIAL_VARS[side].username} and ${CREDENTIAL_VARS[side].password} instead.`,
    });
  return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
}

interface ConnectToRule {
  host: string;
  port: number;
  to: { host: string; port: number };
  given: string;
}

/** `--connect-to HOST:PORT:ADDR:PORT` (as curl): requests for HOST:PORT go to ADDR:PORT, Host kept. */
function parseConnectTo(raw: unknown): ConnectToRule[] {
  const list = Array.isArray(raw) ? raw.map(String) : [];
  return list.map((given) => {
    const m = /^([^:\s]+):(\d{1,5}):([^:\s]+):(\d{1,5})$/.exec(given);
    if (!m)
      throw new UserError(`parity: --connect-to "${given}" is not HOST:PORT:ADDRESS:PORT`, {
        exitCode: EXIT.invalidInput,
        hint: "Example: --connect-to my-alb-123.eu-west-1.elb.amazonaws.com:80:127.0.0.1:4566",
      });
    return { host: m[1] ?? "", port: Number(m[2]), to: { host: m[3] ?? "", port: Number(m[4]) }, given };
  });
}

function connectToFor(url: string, rules: ConnectToRule[]): { host: string; port: number } | undefined {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  return rules.find((r) => r.host === u.hostname && r.port === port)?.to;
}

async function runLive(values: Record<string, unknown>, json: boolean): Promise<number> {
  const urls = { local: parseServerUrl("local", values.local), remote: parseServerUrl("remote", values.remote) };
  const creds = { local: credentialsFor("local", process.env), remote: credentialsFor("remote", process.env) };
  const rules = parseConnectTo(values["connect-to"]);
  for (const rule of rules)
    if (!connectToFor(urls.local, [rule]) && !connectToFor(urls.remote, [rule]))
      throw new UserError(`parity: --connect-to ${rule.given} matches neither --local nor --remote`, {
        exitCode: EXIT.invalidInput,
        hint: "HOST:PORT must be the host and port of one of the two URLs (port 80 for http://, 443 for https://).",
      });
  const { MlflowClient } = await import("@mlflow-dev/mlflow-client");
  const { runWorkload, compare, liveReport, formatLiveReport } = await import("@mlflow-dev/parity");
  const options = (side: Side) => {
    const to = connectToFor(urls[side], rules);
    const c = creds[side];
    return {
      ...(c ? { credentials: c } : {}),
      ...(to ? { via: `${new URL(urls[side]).protocol}//${to.host}:${to.port}` } : {}),
    };
  };
  const clients = {
    local: new MlflowClient(urls.local, options("local")),
    remote: new MlflowClient(urls.remote, options("remote")),
  };
  for (const side of ["local", "remote"] as const) await preflight(side, clients[side], urls[side]);

  const base = `mlflow-dev-parity-${randomHex(4)}`;
  process.stderr.write(`running the workload against both servers (names start with ${base})\n`);
  const t0 = Date.now();
  const [a, b] = await Promise.all([
    runWorkload(clients.local, { token: `${base}-l` }),
    runWorkload(clients.remote, { token: `${base}-r` }),
  ]);
  process.stderr.write(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  if (typeof values.save === "string") {
    writeFileSync(values.save, `${JSON.stringify({ local: a, remote: b }, null, 2)}\n`);
    process.stderr.write(`recordings written to ${values.save}\n`);
  }
  const report = liveReport(a, b, compare(a, b));
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatLiveReport(report));
  const complete = report.local.incomplete.length === 0 && report.remote.incomplete.length === 0;
  return complete && report.differences.length === 0 ? EXIT.ok : EXIT.failed;
}

/**
 * Before anything is created: the server answers /health, accepts the credentials, and its API
 * answers several times in a row (a freshly started server loads its workers lazily; a worker
 * that is still starting can drop a connection).
 */
async function preflight(side: Side, client: MlflowClient, url: string, warmUpMs = 120_000): Promise<void> {
  const { NotReadyError, waitUntilReady } = await import("@mlflow-dev/mlflow-client");
  const reason = (e: unknown) => (e as { code?: string }).code ?? (e as Error).message;
  let health: number;
  try {
    health = (await client.request("GET", "/health", { retry: false })).status;
  } catch (e) {
    throw new UserError(`parity: cannot reach the ${side} server at ${url}: ${reason(e)}`, {
      hint:
        side === "local"
          ? "Start it with `mlflow-dev up`, or check the URL."
          : "Check the URL and that the service is running.",
    });
  }
  if (health !== 200)
    throw new UserError(`parity: the ${side} server at ${url} answers /health with HTTP ${health}`, {
      hint: "Wait until it is healthy (mlflow-dev status), then run parity again.",
    });
  const api: ReadinessCheck = async (c) => {
    const probe = await c.request("GET", "/api/2.0/mlflow/experiments/search", {
      query: { max_results: 1 },
      retry: false,
    });
    if (probe.status === 403 && /host header/i.test(probe.text))
      throw new UserError(`parity: the ${side} server at ${url} does not accept its Host header (HTTP 403)`, {
        hint: `MLflow answers only the hosts it allows: add ${new URL(url).host} to them (mlflow.allowedHosts in the spec, or the server's --allowed-hosts).`,
      });
    if (probe.status === 401 || probe.status === 403)
      throw new UserError(`parity: the ${side} server at ${url} refused the request (HTTP ${probe.status})`, {
        hint:
          probe.status === 401
            ? `It runs with basic auth: set ${CREDENTIAL_VARS[side].username} and ${CREDENTIAL_VARS[side].password} (or MLFLOW_TRACKING_USERNAME/PASSWORD for both).`
            : "The user may not read experiments: use a user with access to the whole server (the workload creates and deletes its own experiments).",
      });
    return probe.status === 200 ? { ready: true } : { ready: false, reason: `HTTP ${probe.status}` };
  };
  try {
    await waitUntilReady(client, { checks: [api], consecutive: 5, timeoutMs: warmUpMs, intervalMs: 1000 });
  } catch (e) {
    if (!(e instanceof NotReadyError)) throw e;
    throw new UserError(`parity: the ${side} server at ${url} does not answer its API reliably: ${e.last}`, {
      hint: "Check its logs (mlflow-dev logs mlflow for the local stack), then run parity again.",
    });
  }
}
