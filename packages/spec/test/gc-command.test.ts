import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import {
  GC_PROGRAM,
  GC_REPORT_MARKER,
  gcArgv,
  oneOffCommand,
  parseGcReport,
  parseSpecOrThrow,
  resolve,
} from "../src/index.ts";

/** gc's program and its report line; the program itself runs in the integration tests. */

const basic = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");

describe("gc", () => {
  it("takes gc.olderThanDays from the spec (default 30) into the program's words", () => {
    const model = resolve(parseSpecOrThrow(basic), "staging");
    expect(model.gc.olderThanDays).toBe(30);
    expect(gcArgv(30, false)).toEqual(["python", "-c", GC_PROGRAM, "--older-than-days", "30"]);
    expect(gcArgv(0, true).slice(3)).toEqual(["--older-than-days", "0", "--dry-run"]);
    const zero = resolve(parseSpecOrThrow(`${basic}gc:\n  olderThanDays: 0\n`), "local");
    expect(zero.gc.olderThanDays).toBe(0);
  });

  it("reads the report from its line, and nothing from any other", () => {
    const report = {
      olderThanDays: 30,
      dryRun: false,
      cutoff: "2026-11-07T00:00:00Z",
      runs: { found: 2, removed: 2 },
      experiments: { found: 1, removed: 1 },
      artifactObjects: { found: 4, removed: 4 },
      bytes: { found: 3000, freed: 3000 },
      gcExitCode: 0,
    };
    expect(parseGcReport(`${GC_REPORT_MARKER}${JSON.stringify(report)}`)).toEqual(report);
    expect(parseGcReport("mlflow-dev gc: 2 run(s)")).toBeUndefined();
    expect(parseGcReport(`${GC_REPORT_MARKER}{not json`)).toBeUndefined();
  });

  it("the program is Python that compiles, and the task's command fits ECS's 8192 characters of overrides", () => {
    const dir = tempDir("mlflow-dev-gc-");
    writeFileSync(join(dir, "gc.py"), GC_PROGRAM);
    const r = spawnSync("python3", ["-m", "py_compile", join(dir, "gc.py")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const server = resolve(parseSpecOrThrow(basic), "staging").mlflow.server;
    const overrides = { containerOverrides: [{ name: "mlflow", command: oneOffCommand(server, gcArgv(3650, true)) }] };
    expect(JSON.stringify(overrides).length).toBeLessThan(8192);
  });
});
