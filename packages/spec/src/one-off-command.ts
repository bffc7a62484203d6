import { type ServerCommand, shellQuote } from "./runtime-contract.ts";

/**
 * `exec`: a one-off command in the server's container, the same on both runtimes. The server's
 * image, environment and secrets, its entrypoint (`/bin/sh -c`) and a command of our own: a short
 * script that runs the server's setup (the backend store URI), points the PostgreSQL client
 * variables and MLflow's tracking URI at the database, then execs the user's words unchanged
 * (they are the script's positional parameters, never re-parsed by a shell).
 *
 * The database stays private: the command runs beside the server, where the database is
 * reachable. The MLflow image has no `psql`; when the image lacks it, `psql` is a small stand-in
 * on the image's psycopg2 (`PSQL_STANDIN`), which takes `-c`, `-f` and SQL on stdin.
 */

/** `$0` of the one-off script (what `ps` shows). */
export const ONE_OFF_NAME = "mlflow-dev-exec";

/**
 * A minimal `psql` on psycopg2 for images without the client: runs each `-c` command (or the
 * `-f` file, or stdin) with autocommit and prints rows as `psql -A` does (`|` between columns, a
 * header and a row count unless `-t`). Exit 1 on an SQL error, 2 when it cannot connect, as psql.
 */
export const PSQL_STANDIN = [
  "import getopt, os, sys",
  "import psycopg2",
  "try:",
  '    opts, rest = getopt.gnu_getopt(sys.argv[1:], "c:f:AtXqP:", ["command=", "file=", "no-align", "tuples-only", "no-psqlrc", "quiet"])',
  "except getopt.GetoptError as e:",
  '    sys.exit(f"psql (mlflow-dev stand-in, the image has no psql): {e}; it takes -c <sql>, -f <file>, -A, -t, -X, -q")',
  "tuples = any(o in ('-t', '--tuples-only') for o, _ in opts)",
  "sql = [v for o, v in opts if o in ('-c', '--command')]",
  "sql += [open(v).read() for o, v in opts if o in ('-f', '--file')]",
  "if not sql:",
  "    sql = [sys.stdin.read()]",
  "try:",
  "    conn = psycopg2.connect(dbname=rest[0] if rest else None)",
  "except psycopg2.OperationalError as e:",
  '    print(f"psql: error: {str(e).strip()}", file=sys.stderr)',
  "    sys.exit(2)",
  "conn.autocommit = True",
  "cur = conn.cursor()",
  "show = lambda v: '' if v is None else str(v)",
  "for statement in sql:",
  "    try:",
  "        cur.execute(statement)",
  "    except psycopg2.Error as e:",
  "        print(f\"ERROR:  {(e.pgerror or str(e)).strip().removeprefix('ERROR:').strip()}\", file=sys.stderr)",
  "        sys.exit(1)",
  "    if cur.description is None:",
  "        print(cur.statusmessage)",
  "        continue",
  "    rows = cur.fetchall()",
  "    if not tuples:",
  "        print('|'.join(c.name for c in cur.description))",
  "    for row in rows:",
  "        print('|'.join(show(v) for v in row))",
  "    if not tuples:",
  "        print(f\"({len(rows)} row{'' if len(rows) == 1 else 's'})\")",
].join("\n");

/** The one-off script: the server's setup lines, the client variables, then the user's command. */
export function oneOffScript(server: ServerCommand): string {
  return [
    ...server.setup,
    'export PGHOST="$MLFLOW_DB_HOST" PGPORT="$MLFLOW_DB_PORT" PGUSER="$MLFLOW_DB_USER" PGPASSWORD="$MLFLOW_DB_PASSWORD" PGDATABASE="$MLFLOW_DB_NAME"',
    'export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-$MLFLOW_BACKEND_STORE_URI}"',
    `if [ "$1" = psql ] && ! command -v psql >/dev/null 2>&1; then shift; exec python -c ${shellQuote(PSQL_STANDIN)} "$@"; fi`,
    'exec "$@"',
  ].join("\n");
}

/** The container's command (after the `/bin/sh -c` entrypoint) that runs `argv` once. */
export function oneOffCommand(server: ServerCommand, argv: readonly string[]): string[] {
  return [oneOffScript(server), ONE_OFF_NAME, ...argv];
}
