import { GC_REPORT_MARKER, type GcReport } from "@mlflow-dev/spec";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run as backup } from "../src/commands/backup.ts";
import { run as exec } from "../src/commands/exec.ts";
import { run as gc } from "../src/commands/gc.ts";
import { run as logs } from "../src/commands/logs.ts";
import { run as open } from "../src/commands/open.ts";
import { run as restore } from "../src/commands/restore.ts";
import { run as status } from "../src/commands/status.ts";
import { UserError } from "../src/errors.ts";
import { type Report, type RuntimeFor, runtimeFor, type ServiceRuntime } from "../src/runtimes/runtime.ts";

/**
 * The commands that act on either runtime: runtimeFor picks the runtime by --env, each runtime
 * refuses the other's flags before anything runs, and a command only parses, calls and prints
 * (here against a fake runtime that records what it was asked).
 */

/** A spec that is not there: a refusal that names the flag proves nothing was read or asked. */
const NO_SPEC = "/nonexistent/mlflow-dev.yaml";

function args(values: Record<string, string | boolean | undefined> = {}) {
  return { values, global: { file: NO_SPEC, json: false } };
}

async function refusal(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(e).toBeInstanceOf(UserError);
  return e as UserError;
}

describe("runtimeFor", () => {
  it("no --env and --env local are the local stack; any other --env is that AWS environment", () => {
    expect(runtimeFor(args()).kind).toBe("local");
    expect(runtimeFor(args({ env: "local" }))).toMatchObject({ kind: "local", environment: "local" });
    expect(runtimeFor(args({ env: "staging" }))).toMatchObject({ kind: "aws", environment: "staging" });
  });

  it("every runtime answers every verb", () => {
    for (const env of [undefined, "staging"]) {
      const runtime = runtimeFor(args({ env }));
      for (const verb of ["status", "logs", "open", "exec", "gc", "backup", "restore"] as const)
        expect(typeof runtime[verb], `${runtime.kind} ${verb}`).toBe("function");
    }
  });
});

describe("the local runtime refuses what only AWS takes, before the spec is read (exit 2)", () => {
  const local = (values: Record<string, string | boolean | undefined> = {}) => runtimeFor(args(values));

  it("restore --snapshot, in restore's words", async () => {
    const e = await refusal(local().restore({ snapshot: "snap-1" }));
    expect(e.message).toBe("restore: --snapshot restores an AWS environment and needs --env <name>");
    expect(e.exitCode).toBe(2);
  });

  it("--profile and --endpoint-url on each verb", async () => {
    const calls: [string, (r: ServiceRuntime) => Promise<unknown>][] = [
      ["status", (r) => r.status()],
      ["logs", (r) => r.logs({ timestamps: false, follow: false })],
      ["open", (r) => r.open()],
      ["exec", (r) => r.exec(["true"])],
      ["gc", (r) => r.gc({ dryRun: true, onLine: () => {} })],
      ["backup", (r) => r.backup({})],
      ["restore", (r) => r.restore({ dir: "some-dir" })],
    ];
    for (const [verb, call] of calls)
      for (const flag of ["profile", "endpoint-url"]) {
        const e = await refusal(call(local({ [flag]: "x" })));
        expect(e.message).toBe(`${verb}: --${flag} is for an AWS environment and needs --env <name>`);
        expect(e.exitCode).toBe(2);
      }
  });

  it("restore without a directory; logs of a service the stack lacks, with the nearest one", async () => {
    expect((await refusal(local().restore({}))).message).toBe("restore: the backup directory is required");
    const e = await refusal(local().logs({ service: "mlflw", timestamps: false, follow: false }));
    expect(e.message).toBe('logs: unknown service "mlflw"; did you mean "mlflow"?');
    expect(e.exitCode).toBe(2);
  });
});

describe("the AWS runtime refuses what only the local stack takes, before AWS is asked (exit 2)", () => {
  const aws = () => runtimeFor(args({ env: "staging" }));

  it("backup --out and a restore directory", async () => {
    const out = await refusal(aws().backup({ out: "x" }));
    expect(out.message).toBe("backup: --out is for a local backup; --env staging takes an RDS snapshot");
    expect(out.exitCode).toBe(2);
    const dir = await refusal(aws().restore({ dir: "some-dir" }));
    expect(dir.message).toBe("restore: a backup directory (some-dir) is for the local stack, not --env staging");
    expect(dir.exitCode).toBe(2);
  });

  it("logs of a local-only service says what it is on AWS; a typo gets the nearest AWS service", async () => {
    const postgres = await refusal(aws().logs({ service: "postgres", timestamps: false, follow: false }));
    expect(postgres.message).toContain('no "postgres" logs for staging: the database is an RDS instance on AWS');
    expect(postgres.hint).toContain("Services on AWS: mlflow, migrate");
    const typo = await refusal(aws().logs({ service: "migrat", timestamps: false, follow: false }));
    expect(typo.message).toBe('logs: unknown service "migrat"; did you mean "migrate"?');
  });

  it("a verb that gets past its own checks reads the spec first (here: not there, exit 2)", async () => {
    const e = await aws()
      .status()
      .then(
        () => undefined,
        (e: unknown) => e as { exitCode?: number; message: string },
      );
    expect(e?.message).toContain(NO_SPEC);
  });
});

/** A runtime that records each call and answers with what the test gives it. */
function fakeRuntime(answers: { report?: Report; exitCode?: number; gcLines?: string[] } = {}) {
  const calls: { verb: string; options: unknown; env: unknown }[] = [];
  const report = answers.report ?? { json: { fake: true }, text: "fake text\n", exitCode: 0 };
  const runtimes: RuntimeFor = ({ values }) => {
    /** Records the call and answers with `answer`. */
    const answer =
      <T>(verb: string, value: T) =>
      async (options?: unknown): Promise<T> => {
        calls.push({ verb, options, env: values.env });
        return value;
      };
    const exitCode = answers.exitCode ?? 0;
    return {
      kind: values.env === undefined ? "local" : "aws",
      environment: String(values.env ?? "local"),
      status: answer("status", report),
      logs: answer("logs", exitCode),
      open: answer("open", { environment: "local", url: "http://127.0.0.1:5050", auth: "none" as const }),
      exec: answer("exec", exitCode),
      gc: async (o) => {
        calls.push({ verb: "gc", options: { dryRun: o.dryRun }, env: values.env });
        for (const line of answers.gcLines ?? []) o.onLine(line);
        return exitCode;
      },
      backup: answer("backup", report),
      restore: answer("restore", report),
    };
  };
  return { calls, runtimes };
}

let stdout = "";
let stderr = "";
beforeEach(() => {
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe("a command parses its flags, calls its runtime's verb and prints what comes back", () => {
  it("status: the report's text, or its data with --json; the report's exit code", async () => {
    const fake = fakeRuntime({ report: { json: { healthy: false }, text: "not healthy\n", exitCode: 1 } });
    expect(await status(["--env", "staging"], fake.runtimes)).toBe(1);
    expect(stdout).toBe("not healthy\n");
    stdout = "";
    expect(await status(["--json"], fake.runtimes)).toBe(1);
    expect(JSON.parse(stdout)).toEqual({ healthy: false });
    expect(fake.calls).toEqual([
      { verb: "status", options: undefined, env: "staging" },
      { verb: "status", options: undefined, env: undefined },
    ]);
  });

  it("logs: the service, --tail, --since, --timestamps and -f as follow", async () => {
    const fake = fakeRuntime({ exitCode: 1 });
    expect(await logs(["mlflow", "--tail", "5", "--since", "10m", "--timestamps", "-f"], fake.runtimes)).toBe(1);
    expect(fake.calls[0]).toMatchObject({
      verb: "logs",
      options: { service: "mlflow", tail: 5, since: { compose: "600s" }, timestamps: true, follow: true },
    });
    await logs(["--env", "staging"], fake.runtimes);
    expect(fake.calls[1]).toEqual({ verb: "logs", options: { timestamps: false, follow: false }, env: "staging" });
  });

  it("exec: the words after -- and the command's exit code", async () => {
    const fake = fakeRuntime({ exitCode: 3 });
    expect(await exec(["--env", "staging", "--", "mlflow", "--version"], fake.runtimes)).toBe(3);
    expect(fake.calls).toEqual([{ verb: "exec", options: ["mlflow", "--version"], env: "staging" }]);
  });

  it("gc: the report line parsed and printed, the other lines on stderr; no report is exit 1", async () => {
    const report: GcReport = {
      olderThanDays: 30,
      dryRun: true,
      cutoff: "2026-11-07T00:00:00Z",
      runs: { found: 2, removed: 0 },
      experiments: { found: 1, removed: 0 },
      artifactObjects: { found: 4, removed: 0 },
      bytes: { found: 3000, freed: 0 },
    };
    const fake = fakeRuntime({ gcLines: ["counting", `${GC_REPORT_MARKER}${JSON.stringify(report)}`] });
    expect(await gc(["--dry-run", "--json"], fake.runtimes)).toBe(0);
    expect(JSON.parse(stdout)).toEqual(report);
    expect(stderr).toBe("  counting\n");
    expect(fake.calls).toEqual([{ verb: "gc", options: { dryRun: true }, env: undefined }]);
    const silent = fakeRuntime({ exitCode: 2 });
    const e = await refusal(gc([], silent.runtimes));
    expect(e.message).toBe("gc: the gc task ended (exit 2) without its report");
    expect(e.exitCode).toBe(1);
  });

  it("backup and restore: the flags given, and nothing for those not given", async () => {
    const fake = fakeRuntime();
    expect(await backup(["--out", "backups/x"], fake.runtimes)).toBe(0);
    expect(await backup(["--env", "staging"], fake.runtimes)).toBe(0);
    expect(await restore(["some-dir", "--force"], fake.runtimes)).toBe(0);
    expect(await restore(["--env", "staging", "--snapshot", "snap-1", "--json"], fake.runtimes)).toBe(0);
    expect(fake.calls).toEqual([
      { verb: "backup", options: { out: "backups/x" }, env: undefined },
      { verb: "backup", options: {}, env: "staging" },
      { verb: "restore", options: { dir: "some-dir", force: true }, env: undefined },
      { verb: "restore", options: { snapshot: "snap-1" }, env: "staging" },
    ]);
    expect(stdout).toBe('fake text\nfake text\nfake text\n{\n  "fake": true\n}\n');
  });

  it("open: the target as text or JSON", async () => {
    const fake = fakeRuntime();
    expect(await open(["--no-browser"], fake.runtimes)).toBe(0);
    expect(stdout).toBe("http://127.0.0.1:5050\n  no login (auth: none)\n");
    stdout = "";
    await open(["--json"], fake.runtimes);
    expect(JSON.parse(stdout)).toEqual({ environment: "local", url: "http://127.0.0.1:5050", auth: "none" });
  });
});
