import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../bin/mlflow-dev.js", import.meta.url));
const basic = fileURLToPath(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-backup-args-"));
writeFileSync(join(dir, "mlflow-dev.yaml"), readFileSync(basic, "utf8"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI against an address where nothing listens: a refusal must come before any AWS call. */
function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    encoding: "utf8",
    env: {
      ...process.env,
      NO_COLOR: "1",
      AWS_ENDPOINT_URL: "http://127.0.0.1:9",
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "x",
    },
  });
  return { code: r.status, stderr: r.stderr };
}

describe("backup and restore: the local form and the AWS form are told apart before anything runs", () => {
  it.each([
    [
      ["restore", "--env", "staging", "some-dir"],
      "restore: a backup directory (some-dir) is for the local stack, not --env staging",
    ],
    [["restore", "--snapshot", "snap-1"], "restore: --snapshot restores an AWS environment and needs --env <name>"],
    [["restore", "--env", "staging"], "restore staging: --snapshot <RDS snapshot id> is required"],
    [["restore", "--env", "staging", "--snapshot", "snap-1", "--force"], "restore: --force is for a local restore"],
    [["restore", "some-dir", "--profile", "p"], "restore: --profile is for an AWS environment and needs --env <name>"],
    [
      ["backup", "--env", "staging", "--out", "x"],
      "backup: --out is for a local backup; --env staging takes an RDS snapshot",
    ],
    [
      ["backup", "--endpoint-url", "http://127.0.0.1:4566"],
      "backup: --endpoint-url is for an AWS environment and needs --env <name>",
    ],
    [["backup", "--env", "nope"], 'environment "nope" is not defined in the spec'],
  ])("%j is refused with exit 2", (args, message) => {
    const r = cli(args);
    expect(r.stderr).toContain(message);
    expect(r.code).toBe(2);
  });
});
