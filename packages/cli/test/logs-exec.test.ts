import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import { splitExecArgs } from "../src/commands/exec.ts";
import { formatGcReport } from "../src/commands/gc.ts";
import { UserError } from "../src/errors.ts";
import { parseSince } from "../src/since.ts";

/** `logs --since/--timestamps` on both runtimes, and what `logs --env` refuses before AWS is asked. */

const bin = fileURLToPath(new URL("../bin/mlflow-dev.js", import.meta.url));
const basicText = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");

function cli(args: string[]) {
  const dir = tempDir("mlflow-dev-logs-");
  writeFileSync(join(dir, "mlflow-dev.yaml"), basicText);
  const { DOCKER_HOST: _h, AWS_ENDPOINT_URL: _e, ...rest } = process.env;
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout: 20_000,
    // Nothing here may reach Docker or AWS: a dead engine and a dead endpoint.
    env: { ...rest, NO_COLOR: "1", DOCKER_HOST: "unix:///nonexistent/x.sock", AWS_ENDPOINT_URL: "http://127.0.0.1:9" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

describe("--since", () => {
  it("takes durations back from now, in days, hours, minutes and seconds", () => {
    expect(parseSince("30s", NOW)).toEqual({ startMs: NOW - 30_000, compose: "30s" });
    expect(parseSince("10m", NOW)).toEqual({ startMs: NOW - 600_000, compose: "600s" });
    expect(parseSince("1h30m", NOW)).toEqual({ startMs: NOW - 5_400_000, compose: "5400s" });
    expect(parseSince("2d", NOW).startMs).toBe(NOW - 2 * 86_400_000);
  });

  it("takes a date or a time, UTC unless it names an offset", () => {
    expect(parseSince("2026-12-07", NOW)).toEqual({
      startMs: Date.UTC(2026, 11, 7),
      compose: "2026-12-07T00:00:00.000Z",
    });
    expect(parseSince("2026-12-07T09:30:00Z", NOW).startMs).toBe(Date.UTC(2026, 11, 7, 9, 30));
    expect(parseSince("2026-12-07T09:30", NOW).startMs).toBe(Date.UTC(2026, 11, 7, 9, 30));
    expect(parseSince("2026-12-07T09:30:00+02:00", NOW).startMs).toBe(Date.UTC(2026, 11, 7, 7, 30));
  });

  it("refuses anything else, naming the forms it takes (exit 2)", () => {
    for (const bad of ["", "10", "10 minutes", "-5m", "1.5h", "5y", "yesterday", "2026-13-45"]) {
      expect(() => parseSince(bad, NOW), bad).toThrow(UserError);
      try {
        parseSince(bad, NOW);
      } catch (e) {
        expect((e as UserError).exitCode).toBe(2);
        expect((e as UserError).hint).toContain("1h30m");
      }
    }
  });

  it("a bad --since stops logs before Docker or AWS is asked, on both runtimes", () => {
    for (const args of [
      ["logs", "--since", "ten minutes"],
      ["logs", "mlflow", "--env", "staging", "--since", "10x"],
    ]) {
      const r = cli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/error: logs: --since "(ten minutes|10x)" is neither a duration nor a date and time/);
    }
  });
});

describe("logs --env", () => {
  it("refuses the local-only services with what they are on AWS (exit 2)", () => {
    const r = cli(["logs", "postgres", "--env", "staging"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('no "postgres" logs for staging: the database is an RDS instance on AWS');
    expect(r.stderr).toContain("Services on AWS: mlflow, migrate");
  });

  it("suggests the nearest AWS service for a typo", () => {
    const r = cli(["logs", "migrat", "--env", "staging"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown service "migrat"; did you mean "migrate"?');
  });

  it("AWS flags without an AWS --env are refused", () => {
    const r = cli(["logs", "--endpoint-url", "http://127.0.0.1:4566"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--endpoint-url is for an AWS environment and needs --env <name>");
  });

  it("help names --since and --timestamps, and the AWS form", () => {
    const r = cli(["logs", "--help"]);
    expect(r.stdout).toContain("--since <duration|time>");
    expect(r.stdout).toContain("--timestamps");
    expect(r.stdout).toContain("mlflow-dev logs [mlflow|migrate] --env <aws env>");
  });
});

describe("exec: the command after --", () => {
  it("splits mlflow-dev's flags from the command's words", () => {
    expect(splitExecArgs(["--env", "staging", "--", "psql", "-c", "select 1", "--", "x"])).toEqual({
      own: ["--env", "staging"],
      command: ["psql", "-c", "select 1", "--", "x"],
    });
  });

  it("without -- or without a command: exit 2 with an example, before Docker or AWS", () => {
    for (const [args, message] of [
      [["exec", "mlflow", "--version"], "exec: put the command after --"],
      [["exec", "--env", "staging", "--"], "exec: no command after --"],
    ] as const) {
      const r = cli([...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain("Example: mlflow-dev exec --env staging -- ");
    }
  });

  it("--help after -- is the command's, not mlflow-dev's; before it, mlflow-dev's", () => {
    const own = cli(["exec", "--help"]);
    expect(own.code).toBe(0);
    expect(own.stdout).toContain("Usage: mlflow-dev exec");
    // The command's --help goes to the command: here it needs the (dead) Docker engine.
    const theirs = cli(["exec", "--", "mlflow", "--help"]);
    expect(theirs.stdout).not.toContain("Usage: mlflow-dev exec");
    expect(theirs.code).toBe(1);
    expect(theirs.stderr).not.toContain("internal error");
  });

  it("shell, ssh and console suggest exec", () => {
    const r = cli(["shell"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Did you mean "exec"?');
  });
});

describe("gc", () => {
  it("prints the report: removed of found, or what a dry run would remove", () => {
    const report = {
      olderThanDays: 30,
      dryRun: false,
      cutoff: "2026-11-07T00:00:00Z",
      runs: { found: 2, removed: 2 },
      experiments: { found: 1, removed: 0 },
      artifactObjects: { found: 4, removed: 4 },
      bytes: { found: 3000, freed: 3000 },
      gcExitCode: 1,
    };
    const text = formatGcReport(report);
    expect(text).toContain("runs and experiments deleted before 2026-11-07T00:00:00Z (gc.olderThanDays: 30)");
    expect(text).toContain("runs:             2 of 2");
    expect(text).toContain("experiments:      0 of 1");
    expect(text).toContain("bytes:            3000 of 3000 freed");
    expect(text).toContain("mlflow gc exited 1");
    const dry = formatGcReport({ ...report, dryRun: true, gcExitCode: undefined as unknown as number });
    expect(dry).toContain("dry run: nothing removed");
    expect(dry).toContain("bytes:            3000 to free");
  });

  it("AWS flags without --env are refused; prune suggests gc", () => {
    const r = cli(["gc", "--profile", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--profile is for an AWS environment");
    expect(cli(["prune"]).stderr).toContain('Did you mean "gc"?');
  });
});
