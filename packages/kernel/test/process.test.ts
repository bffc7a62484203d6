import { describe, expect, it } from "vitest";
import { lastLines, runStreaming, succeeds } from "../src/process.ts";

describe("runStreaming", () => {
  it("streams every non-empty line of stdout and stderr, keeps the output and resolves with the exit code", async () => {
    const lines: string[] = [];
    const r = await runStreaming("sh", ["-c", 'echo one; echo "  two  " >&2; echo; printf "$X"; exit 3'], {
      env: { X: "last" },
      onLine: (l) => lines.push(l),
    });
    expect(r.exitCode).toBe(3);
    expect(r.startError).toBeUndefined();
    // stdout and stderr are two pipes: their lines may come in either order.
    expect(lines.sort()).toEqual(["last", "one", "two"]);
    expect(r.output).toContain("one\n");
    expect(lastLines("a\n\n  b  \nc", 2)).toEqual(["  b", "c"]);
  });

  it("says why a program that does not exist did not start", async () => {
    const r = await runStreaming("mlflow-dev-no-such-program", []);
    expect(r.exitCode).toBeUndefined();
    expect(r.startError).toMatch(/ENOENT/);
    expect(await succeeds("mlflow-dev-no-such-program", [])).toBe(false);
    expect(await succeeds("true", [])).toBe(true);
  });
});
