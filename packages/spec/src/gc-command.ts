/**
 * `gc`: MLflow's garbage collection of deleted runs and experiments, run as a one-off command
 * (one-off-command.ts) on either runtime. The program below runs in the server's container: it
 * counts what `mlflow gc --older-than` will remove (the rows MLflow's own selection takes: runs
 * deleted before the cutoff and every run of an experiment deleted before it, and the artifact
 * objects under their artifact locations, by listing the bucket), runs `mlflow gc` unless it is a
 * dry run (with an artifacts-only server beside it for proxied artifacts, see GC_ARTIFACT_PORT),
 * counts again, and prints one report line (GC_REPORT_MARKER + JSON) for the CLI.
 */

/**
 * `mlflow gc` deletes the artifacts of a run whose location is `mlflow-artifacts:` through the
 * tracking server's artifact API (MLflow 3.17: get_artifact_repository(run.info.artifact_uri)
 * needs an http tracking URI). The program starts an artifacts-only MLflow server on this loopback
 * port of its own task, serving the same destination, and points `mlflow gc` at it.
 */
export const GC_ARTIFACT_PORT = 5987;

/** The line of the program's output that carries the report. */
export const GC_REPORT_MARKER = "mlflow-dev-gc-report: ";

/** What the program reports. "found" is before gc; "removed" is what is gone after (0 on a dry run). */
export interface GcReport {
  olderThanDays: number;
  dryRun: boolean;
  /** ISO time: runs and experiments deleted before it are removed. */
  cutoff: string;
  runs: { found: number; removed: number };
  experiments: { found: number; removed: number };
  artifactObjects: { found: number; removed: number };
  bytes: { found: number; freed: number };
  /** `mlflow gc`'s exit code (absent on a dry run). */
  gcExitCode?: number;
}

export const GC_PROGRAM = [
  "import json, os, subprocess, sys, time, urllib.request",
  "from datetime import datetime, timezone",
  "import boto3, psycopg2",
  "args = sys.argv[1:]",
  'days = int(args[args.index("--older-than-days") + 1])',
  'dry = "--dry-run" in args',
  "cutoff = int((time.time() - days * 86400) * 1000)",
  "conn = psycopg2.connect()",
  "conn.autocommit = True",
  "cur = conn.cursor()",
  'dest = os.environ.get("MLFLOW_ARTIFACTS_DESTINATION", "").rstrip("/")',
  's3 = boto3.client("s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None)',
  "def selection():",
  "    cur.execute(\"select experiment_id from experiments where lifecycle_stage = 'deleted' and last_update_time <= %s\", (cutoff,))",
  "    experiments = sorted(r[0] for r in cur.fetchall())",
  "    cur.execute(\"select run_uuid, artifact_uri from runs where (lifecycle_stage = 'deleted' and deleted_time <= %s) or experiment_id = any(%s)\", (cutoff, experiments))",
  "    return experiments, sorted(cur.fetchall())",
  "def location(uri):",
  '    if uri.startswith("mlflow-artifacts:"):',
  '        path = uri[len("mlflow-artifacts:"):].lstrip("/")',
  '        uri = f"{dest}/{path}" if dest else ""',
  '    if not uri.startswith("s3://"):',
  "        return None",
  '    bucket, _, key = uri[len("s3://"):].partition("/")',
  '    return bucket, key.rstrip("/") + "/"',
  "def objects(runs):",
  "    count, size = 0, 0",
  "    for _, uri in runs:",
  "        where = location(uri or '')",
  "        if where is None:",
  "            continue",
  '        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=where[0], Prefix=where[1]):',
  '            for o in page.get("Contents", []):',
  "                count += 1",
  '                size += o["Size"]',
  "    return count, size",
  "def present(table, column, ids):",
  "    if not ids:",
  "        return 0",
  '    cur.execute(f"select count(*) from {table} where {column} = any(%s)", (list(ids),))',
  "    return cur.fetchone()[0]",
  "experiments, runs = selection()",
  "objs, size = objects(runs)",
  'print(f"mlflow-dev gc: {len(runs)} run(s) and {len(experiments)} experiment(s) deleted before the cutoff, {objs} artifact object(s), {size} bytes", flush=True)',
  "code = None",
  "if not dry:",
  '    cmd = ["mlflow", "gc", "--backend-store-uri", os.environ["MLFLOW_BACKEND_STORE_URI"]]',
  "    if days > 0:",
  '        cmd += ["--older-than", f"{days}d"]',
  "    env = dict(os.environ)",
  "    helper = None",
  '    if dest and any((uri or "").startswith("mlflow-artifacts:") for _, uri in runs):',
  "        # mlflow gc deletes mlflow-artifacts: locations through the tracking server's artifact API;",
  "        # an artifacts-only server on loopback in this task serves the same destination. It takes",
  "        # no backend store: MLflow refuses --artifacts-only with MLFLOW_BACKEND_STORE_URI set.",
  '        helper_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_BACKEND_STORE_URI"}',
  `        helper_env["MLFLOW_SERVER_ALLOWED_HOSTS"] = "127.0.0.1:${GC_ARTIFACT_PORT}"`,
  `        helper = subprocess.Popen(["mlflow", "server", "--artifacts-only", "--serve-artifacts", "--artifacts-destination", dest, "--host", "127.0.0.1", "--port", "${GC_ARTIFACT_PORT}", "--workers", "1"], stdout=subprocess.DEVNULL, env=helper_env)`,
  "        for _ in range(240):",
  "            if helper.poll() is not None:",
  '                sys.exit(f"mlflow-dev gc: the artifacts-only server for mlflow-artifacts: locations exited ({helper.returncode}) before it answered; nothing was removed")',
  "            try:",
  `                urllib.request.urlopen("http://127.0.0.1:${GC_ARTIFACT_PORT}/health", timeout=2)`,
  "                break",
  "            except Exception:",
  "                time.sleep(0.5)",
  `        env["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:${GC_ARTIFACT_PORT}"`,
  "    code = subprocess.call(cmd, env=env)",
  "    if helper is not None:",
  "        helper.terminate()",
  "        helper.wait()",
  "left_runs = present('runs', 'run_uuid', [r[0] for r in runs])",
  "left_experiments = present('experiments', 'experiment_id', experiments)",
  "left_objs, left_size = objects(runs)",
  "report = {",
  '    "olderThanDays": days,',
  '    "dryRun": dry,',
  '    "cutoff": datetime.fromtimestamp(cutoff / 1000, timezone.utc).isoformat().replace("+00:00", "Z"),',
  '    "runs": {"found": len(runs), "removed": len(runs) - left_runs},',
  '    "experiments": {"found": len(experiments), "removed": len(experiments) - left_experiments},',
  '    "artifactObjects": {"found": objs, "removed": objs - left_objs},',
  '    "bytes": {"found": size, "freed": size - left_size},',
  "}",
  "if code is not None:",
  '    report["gcExitCode"] = code',
  `print(${JSON.stringify(GC_REPORT_MARKER)} + json.dumps(report), flush=True)`,
  "sys.exit(code or 0)",
].join("\n");

/** The words exec runs for gc (they go after the one-off script). */
export function gcArgv(olderThanDays: number, dryRun: boolean): string[] {
  return ["python", "-c", GC_PROGRAM, "--older-than-days", String(olderThanDays), ...(dryRun ? ["--dry-run"] : [])];
}

/** The report in a line of the program's output, or undefined (pure). */
export function parseGcReport(line: string): GcReport | undefined {
  const at = line.indexOf(GC_REPORT_MARKER);
  if (at < 0) return undefined;
  try {
    return JSON.parse(line.slice(at + GC_REPORT_MARKER.length)) as GcReport;
  } catch {
    return undefined;
  }
}
