import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, projectContainers, removeLeftovers, requireImagesInCi, testSpecDir } from "../support/stack.ts";

/**
 * Operating the local stack: `logs --since/--timestamps` (docker compose's own flags), and `exec`,
 * a one-off container of the mlflow service on the stack's network (compose run), running an
 * MLflow command, SQL against the stack's database (not published), and a failing command.
 */
const NAME = "itoperate";
const PROJECT = `mlflow-dev-${NAME}`;
const PORTS = { mlflow: 26250, minio: 29260, minioConsole: 29261, postgres: 26632 };
let dir: string;

function show(r: { code: number | null; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

beforeAll(() => {
  requireImagesInCi();
  removeLeftovers(PROJECT);
  dir = testSpecDir(NAME, PORTS);
  const up = cli(["up"], { cwd: dir });
  expect(up.code, `up failed:\n${up.stderr}`).toBe(0);
});

afterAll(() => {
  if (dir) cli(["down", "--volumes", "--yes"], { cwd: dir });
});

describe("operating the local stack", () => {
  it("logs --since and --timestamps select and stamp the server's lines", () => {
    const r = cli(["logs", "mlflow", "--since", "1h", "--timestamps"], { cwd: dir });
    expect(r.code, show(r)).toBe(0);
    const startup = r.stdout.split("\n").find((l) => l.includes("Application startup complete"));
    const stamp = /\| (\d{4}-\d{2}-\d{2}T\S+) /.exec(startup ?? "")?.[1];
    expect(stamp, show(r)).toBeDefined();
    expect(Date.now() - Date.parse(stamp ?? "")).toBeLessThan(3_600_000);
    const future = cli(["logs", "mlflow", "--since", new Date(Date.now() + 3_600_000).toISOString()], { cwd: dir });
    expect(future.code, show(future)).toBe(0);
    expect(future.stdout).not.toContain("Application startup complete");
  });

  it("exec runs an mlflow command against the stack's database, in a container that is removed after", () => {
    const r = cli(["exec", "--", "mlflow", "experiments", "search", "--view", "all"], { cwd: dir });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^0\s+Default\s+/m);
    // Only the stack's own containers are left (compose run --rm).
    expect(projectContainers(PROJECT).filter((n) => n.includes("-run-"))).toEqual([]);
  });

  it("exec psql reaches the unpublished database; a failing query and a failing command give their exit codes", () => {
    const r = cli(["exec", "--", "psql", "-c", "select name, lifecycle_stage from experiments"], { cwd: dir });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain("name|lifecycle_stage\nDefault|active\n(1 row)");
    const bad = cli(["exec", "--", "psql", "-c", "select * from no_such_table"], { cwd: dir });
    expect(bad.code, show(bad)).toBe(1);
    expect(bad.stderr).toContain('ERROR:  relation "no_such_table" does not exist');
    const failing = cli(["exec", "--", "sh", "-c", "echo about to fail; exit 3"], { cwd: dir });
    expect(failing.code, show(failing)).toBe(3);
    expect(failing.stdout).toContain("about to fail");
  });
});
