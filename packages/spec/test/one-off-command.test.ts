import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import {
  DB_URI_EXPORT,
  ONE_OFF_NAME,
  oneOffCommand,
  oneOffScript,
  PSQL_STANDIN,
  parseSpecOrThrow,
  resolve,
} from "../src/index.ts";

/** exec's one-off script, run by a real /bin/sh as the container's entrypoint runs it (`/bin/sh -c <script> <name> <words>`). */

const basic = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");
const server = resolve(parseSpecOrThrow(basic), "staging").mlflow.server;

const SERVER_ENV = {
  MLFLOW_DB_USER: "mlflow",
  MLFLOW_DB_PASSWORD: "s3cret",
  MLFLOW_DB_HOST: "db.internal",
  MLFLOW_DB_PORT: "5432",
  MLFLOW_DB_NAME: "mlflow",
};

/** Runs the command as `/bin/sh -c` would in the container, with only `bin` (and the system's) on PATH. */
function runInShell(
  argv: string[],
  bin: string,
  env: Record<string, string> = {},
  path = `${bin}:/usr/local/bin:/usr/bin:/bin`,
) {
  const [script, ...rest] = oneOffCommand(server, argv);
  const r = spawnSync("/bin/sh", ["-c", script ?? "", ...rest], {
    encoding: "utf8",
    env: { PATH: path, ...SERVER_ENV, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function binDir(tools: Record<string, string>): string {
  const dir = tempDir("mlflow-dev-one-off-");
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

describe("the one-off command", () => {
  it("is the script, its name, then the words unchanged", () => {
    expect(oneOffCommand(server, ["mlflow", "db", "upgrade"])).toEqual([
      oneOffScript(server),
      ONE_OFF_NAME,
      "mlflow",
      "db",
      "upgrade",
    ]);
    expect(oneOffScript(server).split("\n")[0]).toBe(DB_URI_EXPORT);
  });

  it("passes every word as it is: no shell re-reads spaces, quotes, globs or dollars", () => {
    const words = ["a b", "'q'", '"d"', "*", "$HOME", "$(echo no)", ""];
    const r = runInShell(["printf", "[%s]\\n", ...words], binDir({}));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${words.map((w) => `[${w}]`).join("\n")}\n`);
  });

  it("gives the command the backend store URI, the tracking URI and the PostgreSQL client variables", () => {
    const r = runInShell(
      [
        "sh",
        "-c",
        'echo "$MLFLOW_BACKEND_STORE_URI|$MLFLOW_TRACKING_URI|$PGHOST|$PGPORT|$PGUSER|$PGPASSWORD|$PGDATABASE"',
      ],
      binDir({}),
    );
    const uri = "postgresql+psycopg2://mlflow:s3cret@db.internal:5432/mlflow";
    expect(r.stdout.trim()).toBe(`${uri}|${uri}|db.internal|5432|mlflow|s3cret|mlflow`);
    // A tracking URI the environment sets is kept.
    const own = runInShell(["sh", "-c", 'echo "$MLFLOW_TRACKING_URI"'], binDir({}), {
      MLFLOW_TRACKING_URI: "http://elsewhere",
    });
    expect(own.stdout.trim()).toBe("http://elsewhere");
  });

  it("returns the command's exit code", () => {
    expect(runInShell(["sh", "-c", "exit 7"], binDir({})).code).toBe(7);
    expect(runInShell(["no-such-command-here"], binDir({})).code).toBe(127);
  });

  it("psql is the image's when it has one, else the stand-in on python with the same words", () => {
    const own = runInShell(["psql", "-c", "select 1"], binDir({ psql: 'echo "real psql: $*"' }));
    expect(own.stdout.trim()).toBe("real psql: -c select 1");
    // Without a psql on PATH: python -c <the stand-in> <the words after psql> (shell builtins only here).
    const bin = binDir({
      python:
        '[ "$1" = -c ] || exit 9\ncase "$2" in *"import psycopg2"*) ;; *) exit 8 ;; esac\nshift 2\nprintf "[%s]" "$@"',
    });
    const standIn = runInShell(["psql", "-c", "select 'a b'"], bin, {}, bin);
    expect(standIn.code, standIn.stderr).toBe(0);
    expect(standIn.stdout).toBe("[-c][select 'a b']");
  });

  it("the stand-in is Python that compiles, and fits ECS's 8 KiB of overrides with room for the command", () => {
    const dir = tempDir("mlflow-dev-psql-");
    writeFileSync(join(dir, "psql.py"), PSQL_STANDIN);
    const r = spawnSync("python3", ["-m", "py_compile", join(dir, "psql.py")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.stringify(oneOffCommand(server, [])).length).toBeLessThan(4096);
  });
});
