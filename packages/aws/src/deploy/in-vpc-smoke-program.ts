import { deflateSync } from "node:zlib";
import type { HttpTarget } from "@mlflow-dev/mlflow-client";

/**
 * The smoke test as a program that runs inside the VPC (in-vpc-smoke.ts starts it as a one-off
 * task of the server's own task definition): the Python standard library only, so it runs in any
 * MLflow image. Pure: the program's text, its words and the line that carries its result.
 *
 * `health` waits until the health path answers 200 through the load balancer (a server that
 * answers anything but 200 or a load balancer's 502-504 for 30 s has failed, as in smoke.ts); `smoke` does that,
 * then the tracking round trip (the smoke-test experiment, a run, a metric read back) and, when the
 * run's artifacts are proxied, an artifact uploaded and read back; it ends the run. Calls that get
 * 502-504 or no answer are retried for a minute, as smoke.ts does. With `--user`, it signs in with
 * the admin password the task itself holds (MLFLOW_AUTH_ADMIN_PASSWORD, from Secrets Manager), so
 * the password never leaves AWS. Exit 0 when everything answered as expected, 1 otherwise, with a
 * line saying what failed.
 */

/** The line of the program's output that carries its result (JSON). */
export const IN_VPC_RESULT_MARKER = "mlflow-dev-smoke-result: ";

/** The prefix of the program's progress lines. */
export const IN_VPC_LINE_PREFIX = "in-VPC smoke test: ";

/** The secret variable the program signs in with (the server's own, runtime-contract SERVER_SECRETS). */
export const IN_VPC_PASSWORD_VARIABLE = "MLFLOW_AUTH_ADMIN_PASSWORD";

export const IN_VPC_SMOKE_PROGRAM = [
  "import base64, http.client as hc, json, os, socket, ssl, sys, time, uuid",
  "from urllib.parse import urlencode, urlsplit, quote",
  "a = sys.argv[1:]",
  "opt = lambda n, d=None: a[a.index(n) + 1] if n in a else d",
  `say = lambda m: print("${IN_VPC_LINE_PREFIX}" + m, flush=True)`,
  "def fail(m):",
  '    say("failed: " + m)',
  "    sys.exit(1)",
  'svc, e = urlsplit(opt("--url")), os.environ',
  'if "--dial-aws-endpoint" in a and not e.get("AWS_ENDPOINT_URL"): fail("the task has no AWS_ENDPOINT_URL to dial")',
  'dial = urlsplit(e["AWS_ENDPOINT_URL"] if "--dial-aws-endpoint" in a else opt("--dial", opt("--url")))',
  'tls = dial.scheme == "https"',
  'H = {"Host": svc.hostname + ":443" if svc.scheme == "https" and not tls and not svc.port else svc.netloc}',
  'T, P = float(opt("--timeout", "300")), float(opt("--poll", "5"))',
  'if opt("--user"):',
  `    if not e.get("${IN_VPC_PASSWORD_VARIABLE}"): fail("the task has no ${IN_VPC_PASSWORD_VARIABLE} (the admin password secret)")`,
  `    H["Authorization"] = "Basic " + base64.b64encode((opt("--user") + ":" + e["${IN_VPC_PASSWORD_VARIABLE}"]).encode()).decode()`,
  "class Tls(hc.HTTPSConnection):",
  "    def connect(self):",
  "        self.sock = self._context.wrap_socket(socket.create_connection((self.host, self.port), self.timeout), server_hostname=svc.hostname)",
  'def once(m, path, body=None, ct="application/json"):',
  "    port = dial.port or (443 if tls else 80)",
  "    c = Tls(dial.hostname, port, timeout=30, context=ssl.create_default_context()) if tls else hc.HTTPConnection(dial.hostname, port, timeout=30)",
  '    h = dict(H, **({"Content-Type": ct} if body is not None else {}))',
  "    try:",
  '        c.request(m, svc.path.rstrip("/") + path, body=body, headers=h)',
  "        r = c.getresponse()",
  "        return r.status, r.read()",
  "    finally:",
  "        c.close()",
  "def call(*args):",
  "    end = time.time() + 60",
  "    while True:",
  "        try:",
  "            s, d = once(*args)",
  "            if s not in (502, 503, 504) or time.time() > end: return s, d",
  "        except OSError as x:",
  '            if time.time() > end: fail(args[0] + " " + args[1] + ": no answer: " + str(x))',
  "        time.sleep(P)",
  "def api(m, ep, q=None, missing=False):",
  '    get = m == "GET"',
  '    s, d = call(m, "/api/2.0/mlflow/" + ep + ("?" + urlencode(q) if get else ""), None if get else json.dumps(q).encode())',
  "    if missing and s == 404: return None",
  '    if s != 200: fail(m + " " + ep + ": HTTP " + str(s) + " " + d[:300].decode(errors="replace"))',
  "    return json.loads(d)",
  'hp, t0, bad = opt("--health-path", "/health"), time.time(), None',
  "while True:",
  '    try: last = once("GET", hp)[0]',
  "    except OSError as x: last = x",
  "    if last == 200: break",
  "    bad = (bad or time.time()) if isinstance(last, int) and last not in (502, 503, 504) else None",
  '    if time.time() > t0 + T or (bad and time.time() - bad > 30): fail("GET " + hp + " did not answer 200 within " + str(round(time.time() - t0)) + "s (last: " + str(last) + ")")',
  "    time.sleep(P)",
  'say("GET " + hp + ": 200 through " + svc.netloc)',
  'out = {"url": opt("--url")}',
  'if a[0] == "smoke":',
  '    x = (api("GET", "experiments/get-by-name", {"experiment_name": opt("--experiment")}, True) or {}).get("experiment")',
  '    if x and x.get("lifecycle_stage") == "deleted": api("POST", "experiments/restore", {"experiment_id": x["experiment_id"]})',
  '    eid = x["experiment_id"] if x else api("POST", "experiments/create", {"name": opt("--experiment")})["experiment_id"]',
  "    now = int(time.time() * 1000)",
  '    tags = [{"key": "mlflow-dev.smoke-test", "value": opt("--environment", "")}]',
  '    info = api("POST", "runs/create", {"experiment_id": eid, "run_name": "promote-in-vpc-" + str(now), "start_time": now, "tags": tags})["run"]["info"]',
  '    rid, uri = info["run_id"], info.get("artifact_uri", "")',
  '    api("POST", "runs/log-metric", {"run_id": rid, "key": "smoke_check", "value": 1, "timestamp": now, "step": 0})',
  '    if not any(m.get("key") == "smoke_check" and m.get("value") == 1 for m in api("GET", "runs/get", {"run_id": rid})["run"].get("data", {}).get("metrics", [])):',
  '        fail("runs/get does not return the metric smoke_check=1 just logged to run " + rid)',
  '    say("tracking: experiment " + eid + ", run " + rid + ", metric smoke_check=1 logged and read back")',
  "    out.update(experimentId=eid, runId=rid)",
  '    if uri.startswith("mlflow-artifacts:"):',
  '        p = uri[17:].lstrip("/") + "/mlflow-dev-smoke.txt"',
  '        url, body = "/api/2.0/mlflow-artifacts/artifacts/" + quote(p), ("mlflow-dev smoke test " + uuid.uuid4().hex[:16] + "\\n").encode()',
  '        s, d = call("PUT", url, body, "application/octet-stream")',
  '        if s != 200: fail("PUT artifact " + p + ": HTTP " + str(s) + " " + d[:300].decode(errors="replace"))',
  '        s, d = call("GET", url)',
  '        if s != 200 or d != body: fail("GET artifact " + p + ": HTTP " + str(s) + ", " + str(len(d)) + " bytes; not what was uploaded")',
  '        say("artifact: uploaded through the server and read back (" + p + ")")',
  "        out.update(artifactPath=p)",
  "    else:",
  '        say("artifact: skipped (proxyArtifacts is false: clients write to " + uri + " directly)")',
  '    api("POST", "runs/update", {"run_id": rid, "status": "FINISHED", "end_time": int(time.time() * 1000)})',
  `print("${IN_VPC_RESULT_MARKER}" + json.dumps(out), flush=True)`,
].join("\n");

/**
 * What the task runs: the program compressed (zlib, base64) behind a one-line loader. ECS allows
 * 8192 characters of overrides in all, and the one-off script around the words takes a third.
 */
export const IN_VPC_SMOKE_LOADER = `import base64, zlib; exec(zlib.decompress(base64.b64decode("${deflateSync(
  Buffer.from(IN_VPC_SMOKE_PROGRAM),
  { level: 9 },
).toString("base64")}")))`;

/** What the program reports on its result line. */
export interface InVpcResult {
  url: string;
  experimentId?: string;
  runId?: string;
  /** The artifact as the proxy serves it, relative to /api/2.0/mlflow-artifacts/artifacts/. */
  artifactPath?: string;
}

export interface InVpcArgs {
  mode: "health" | "smoke";
  /** The service as promote knows it (its URL, and the load balancer's name to dial before DNS points there). */
  target: HttpTarget;
  /** On the emulator: dial the emulator's load-balancer data plane the task's AWS_ENDPOINT_URL names. */
  emulated: boolean;
  healthPath: string;
  timeoutMs: number;
  pollMs: number;
  environment: string;
  experiment: string;
  /** The basic-auth admin user; the password is the task's own secret. */
  user?: string;
}

/** The one-off task's words: `python -c <loader> <mode> ...` (never a secret). */
export function inVpcSmokeArgv(args: InVpcArgs): string[] {
  const dial = args.emulated
    ? ["--dial-aws-endpoint"]
    : args.target.via && args.target.via !== args.target.url
      ? ["--dial", args.target.via]
      : [];
  return [
    "python",
    "-c",
    IN_VPC_SMOKE_LOADER,
    args.mode,
    "--url",
    args.target.url,
    ...dial,
    "--health-path",
    args.healthPath,
    "--timeout",
    String(Math.max(1, Math.round(args.timeoutMs / 1000))),
    "--poll",
    String(Math.max(1, Math.round(args.pollMs / 1000))),
    "--environment",
    args.environment,
    ...(args.mode === "smoke" ? ["--experiment", args.experiment] : []),
    ...(args.user ? ["--user", args.user] : []),
  ];
}

/** The result on one line of the program's output; undefined for any other line. */
export function parseInVpcResult(line: string): InVpcResult | undefined {
  const at = line.indexOf(IN_VPC_RESULT_MARKER);
  if (at < 0) return undefined;
  try {
    const value = JSON.parse(line.slice(at + IN_VPC_RESULT_MARKER.length)) as unknown;
    if (!value || typeof value !== "object" || typeof (value as { url?: unknown }).url !== "string") return undefined;
    return value as InVpcResult;
  } catch {
    return undefined;
  }
}

/** The program's own account of why it failed, from its lines. */
export function inVpcFailure(lines: readonly string[]): string | undefined {
  const failed = [...lines].reverse().find((l) => l.startsWith(`${IN_VPC_LINE_PREFIX}failed: `));
  return failed?.slice(`${IN_VPC_LINE_PREFIX}failed: `.length);
}
