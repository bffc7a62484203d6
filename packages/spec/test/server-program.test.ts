import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SERVER_PROGRAM, WORKER_CONCURRENCY_VARIABLE } from "../src/index.ts";

/**
 * SERVER_PROGRAM run by Python against a stand-in `mlflow` package whose `cli()` makes the call
 * `mlflow server` makes at its last step (`mlflow.server._exec_cmd([python, "-m", "uvicorn", ...],
 * extra_env, synchronous=False)`), whose `_exec_cmd` prints what it was given, and a stand-in
 * `uvicorn` whose `main()` prints what it runs as, in which process, and how its workers would
 * start. The real server is run by the integration tier (local-stack.test.ts reads its processes,
 * connection-budget.test.ts counts each worker's request threads under load).
 */
function standIn(lastArg: string, factory: boolean, options: { uvicornSpawn?: string; cli?: string[] } = {}): string {
  const root = mkdtempSync(join(tmpdir(), "mlflow-dev-program-"));
  mkdirSync(join(root, "mlflow", "server"), { recursive: true });
  writeFileSync(join(root, "mlflow", "__init__.py"), "");
  writeFileSync(
    join(root, "mlflow", "server", "__init__.py"),
    [
      "import json, os",
      "def _exec_cmd(cmd, extra_env=None, synchronous=True, **kwargs):",
      '    print(json.dumps({"child": cmd, "env": extra_env, "pid": os.getpid()}), flush=True)',
    ].join("\n"),
  );
  // MLflow's app module, as the preload imports it: it reads the variables MLflow's CLI sets.
  writeFileSync(
    join(root, "mlflow", "server", "fastapi_app.py"),
    'import os\nfrom_mlflow = os.environ.get("FROM_MLFLOW")\napp = None\n',
  );
  writeFileSync(
    join(root, "mlflow", "cli.py"),
    options.cli?.join("\n") ??
      [
        "import os, sys",
        "import mlflow.server as server",
        "def cli(prog_name):",
        "    print('{\"parent\": %d}' % os.getpid(), flush=True)",
        `    cmd = [sys.executable, "-m", "uvicorn", "--workers", "2"${factory ? ', "--factory"' : ""}, ${JSON.stringify(lastArg)}]`,
        '    server._exec_cmd(cmd, extra_env={"FROM_MLFLOW": "1"}, synchronous=False)',
      ].join("\n"),
  );
  mkdirSync(join(root, "uvicorn"));
  writeFileSync(join(root, "uvicorn", "__init__.py"), "");
  writeFileSync(
    join(root, "uvicorn", "_subprocess.py"),
    `import multiprocessing\nspawn = ${options.uvicornSpawn ?? 'multiprocessing.get_context("spawn")'}\n`,
  );
  writeFileSync(
    join(root, "uvicorn", "main.py"),
    [
      "import gc, json, multiprocessing.forkserver, os, sys",
      "import uvicorn._subprocess",
      "def main():",
      "    spawn = uvicorn._subprocess.spawn",
      '    spec = sys.modules["__main__"].__spec__',
      '    app = sys.modules.get("mlflow.server.fastapi_app")',
      '    print(json.dumps({"exec": sys.argv, "main": spec.name if spec else None,',
      '        "env": {k: v for k, v in os.environ.items() if k.startswith(("MLFLOW_DEV_", "PYTHONPATH", "FROM_MLFLOW"))},',
      '        "start": spawn.get_start_method() if spawn else None,',
      '        "preload": multiprocessing.forkserver._forkserver._preload_modules,',
      '        "app": app.from_mlflow if app else None, "frozen": gc.get_freeze_count() > 0, "pid": os.getpid()}))',
    ].join("\n"),
  );
  return root;
}

function programEnv(root: string, env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "", PYTHONPATH: root, TMPDIR: root, ...env };
}

function runProgram(root: string, env: Record<string, string>) {
  const r = spawnSync("python3", ["-c", SERVER_PROGRAM, "server"], { encoding: "utf8", env: programEnv(root, env) });
  expect(r.status, r.stderr).toBe(0);
  return {
    pid: r.pid,
    lines: r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const JOBS_OFF = { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false", [WORKER_CONCURRENCY_VARIABLE]: "3" };

describe("SERVER_PROGRAM: mlflow server's last step", () => {
  it("with jobs off, MLflow's CLI runs in a fork and hands uvicorn's command to the main process, which runs it with MLflow's app imported in MLflow's environment and its workers forked from it", () => {
    const root = standIn("mlflow.server.fastapi_app:app", false);
    const { pid, lines } = runProgram(root, JOBS_OFF);
    const [cli, exec] = lines;
    expect(lines).toHaveLength(2);
    expect(cli?.parent).not.toBe(pid);
    expect(exec?.pid).toBe(pid);
    expect(exec?.exec).toEqual(["uvicorn", "--workers", "2", "mlflow_dev_bounded_app:app"]);
    expect(exec?.start).toBe("fork");
    expect(exec?.preload ?? []).not.toContain("mlflow_dev_preload");
    // The preload imported MLflow's app after the main process took the CLI's environment, then froze it.
    expect(exec?.app).toBe("1");
    expect(exec?.frozen).toBe(true);
    const env = exec?.env as Record<string, string>;
    expect(env).toMatchObject({
      FROM_MLFLOW: "1",
      MLFLOW_DEV_ASGI_APP: "mlflow.server.fastapi_app:app",
      MLFLOW_DEV_ASGI_FACTORY: "0",
      [WORKER_CONCURRENCY_VARIABLE]: "3",
    });
    const home = env.PYTHONPATH?.split(":")[0] ?? "";
    expect(home.startsWith(root)).toBe(true);
    expect(readFileSync(join(home, "mlflow_dev_bounded_app.py"), "utf8")).toContain("limiter.total_tokens = limit");
  });

  it("with jobs off, a CLI that fails ends the program with its exit status and starts no uvicorn", () => {
    const root = standIn("mlflow.server.fastapi_app:app", false, {
      cli: ["import sys", "def cli(prog_name):", '    print("no database", file=sys.stderr)', "    sys.exit(3)"],
    });
    const r = spawnSync("python3", ["-c", SERVER_PROGRAM, "server"], {
      encoding: "utf8",
      env: programEnv(root, JOBS_OFF),
    });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("no database");
    expect(r.stdout).toBe("");
  });

  it("with jobs off, SIGTERM to the main process while MLflow's CLI runs stops the CLI, and the program ends with its status", async () => {
    const root = standIn("mlflow.server.fastapi_app:app", false, {
      cli: ["import os, time", "def cli(prog_name):", "    print(os.getpid(), flush=True)", "    time.sleep(60)"],
    });
    const child = spawn("python3", ["-c", SERVER_PROGRAM, "server"], { env: programEnv(root, JOBS_OFF) });
    const cliPid = await new Promise<number>((resolve) =>
      child.stdout.once("data", (d) => resolve(Number(String(d).trim()))),
    );
    expect(cliPid).not.toBe(child.pid);
    const ended = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await ended).toBe(128 + 15);
    expect(() => process.kill(cliPid, 0)).toThrow();
  });

  it("with jobs off, a SIGTERM passed on while the CLI runs still ends the program when the CLI hands over anyway: exit 143, no uvicorn", () => {
    const root = standIn("mlflow.server.fastapi_app:app", false, {
      cli: [
        "import os, signal, sys, time",
        "import mlflow.server as server",
        "def cli(prog_name):",
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)",
        "    os.kill(os.getppid(), signal.SIGTERM)",
        "    time.sleep(0.3)",
        '    server._exec_cmd([sys.executable, "-m", "uvicorn", "--workers", "2", "mlflow.server.fastapi_app:app"], extra_env={}, synchronous=False)',
      ],
    });
    const r = spawnSync("python3", ["-c", SERVER_PROGRAM, "server"], {
      encoding: "utf8",
      env: programEnv(root, JOBS_OFF),
    });
    expect(r.status, r.stderr).toBe(128 + 15);
    expect(r.stdout).toBe("");
  });

  it("with jobs on, MLflow's own child runs it (the parent stays); a factory (basic auth) is called by the app", () => {
    const root = standIn("mlflow.server.auth:create_app", true);
    const { pid, lines } = runProgram(root, {
      MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "true",
      [WORKER_CONCURRENCY_VARIABLE]: "2",
    });
    const [cli, child] = lines;
    expect(cli?.parent).toBe(pid);
    const cmd = child?.child as string[];
    expect(cmd.slice(1)).toEqual(["-m", "mlflow_dev_uvicorn", "--workers", "2", "mlflow_dev_bounded_app:app"]);
    expect(child?.env).toMatchObject({
      FROM_MLFLOW: "1",
      MLFLOW_DEV_ASGI_APP: "mlflow.server.auth:create_app",
      MLFLOW_DEV_ASGI_FACTORY: "1",
    });
  });

  it("a uvicorn without spawn's place runs as it is: its workers start the way it starts them", () => {
    const root = standIn("mlflow.server.fastapi_app:app", false, { uvicornSpawn: "None" });
    const [, exec] = runProgram(root, JOBS_OFF).lines;
    expect(exec?.exec).toEqual(["uvicorn", "--workers", "2", "mlflow_dev_bounded_app:app"]);
    expect(exec?.start).toBeNull();
  });

  it("without the variable, runs MLflow's command as MLflow built it", () => {
    const root = standIn("mlflow.server.fastapi_app:app", false);
    const [, child] = runProgram(root, { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "true" }).lines;
    expect((child?.child as string[] | undefined)?.at(-1)).toBe("mlflow.server.fastapi_app:app");
    expect(child?.env).toEqual({ FROM_MLFLOW: "1" });
  });

  it("the preload imports MLflow's app module once and freezes what it imported for the garbage collector", () => {
    const root = standIn("mlflow.server.fastapi_app:app", false);
    const [, exec] = runProgram(root, JOBS_OFF).lines;
    const home = (((exec?.env ?? {}) as Record<string, string>).PYTHONPATH ?? "").split(":")[0] ?? "";
    writeFileSync(join(root, "target.py"), "imported = True\ndef make():\n    pass\n");
    const check = [
      "import gc, sys",
      "assert gc.get_freeze_count() == 0",
      "import mlflow_dev_preload",
      'print("target" in sys.modules, gc.get_freeze_count() > 0)',
    ].join("\n");
    const r = spawnSync("python3", ["-c", check], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", PYTHONPATH: `${home}:${root}`, MLFLOW_DEV_ASGI_APP: "target:make" },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("True True");
  });

  it("the bounded app sets its worker's thread pool to the bound, then hands every call to MLflow's app", () => {
    const root = standIn("mlflow.server.fastapi_app:app", false);
    runProgram(root, { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "true", [WORKER_CONCURRENCY_VARIABLE]: "4" });
    // The module the program wrote, loaded against a stand-in anyio and a stand-in MLflow app.
    const written = spawnSync("sh", ["-c", `ls -d ${root}/mlflow-dev-app-*`], { encoding: "utf8" }).stdout.trim();
    mkdirSync(join(root, "anyio"));
    writeFileSync(join(root, "anyio", "__init__.py"), "");
    writeFileSync(
      join(root, "anyio", "to_thread.py"),
      "class Limiter:\n    total_tokens = 40\nLIMITER = Limiter()\ndef current_default_thread_limiter():\n    return LIMITER\n",
    );
    writeFileSync(
      join(root, "target.py"),
      "calls = []\ndef make():\n    async def app(scope, receive, send):\n        calls.append(scope)\n    return app\n",
    );
    const check = [
      "import asyncio, anyio.to_thread, target",
      "import mlflow_dev_bounded_app as bounded",
      "assert anyio.to_thread.LIMITER.total_tokens == 40",
      'asyncio.run(bounded.app({"type": "http"}, None, None))',
      'print(anyio.to_thread.LIMITER.total_tokens, [s["type"] for s in target.calls])',
    ].join("\n");
    const r = spawnSync("python3", ["-c", check], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH ?? "",
        PYTHONPATH: `${written}:${root}`,
        MLFLOW_DEV_ASGI_APP: "target:make",
        MLFLOW_DEV_ASGI_FACTORY: "1",
        [WORKER_CONCURRENCY_VARIABLE]: "4",
      },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("4 ['http']");
  });
});
