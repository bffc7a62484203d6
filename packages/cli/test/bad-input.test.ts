import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import { parseSpecText } from "../src/load-spec.ts";

const bin = fileURLToPath(new URL("../bin/mlflow-dev.js", import.meta.url));
const basicText = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8", timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, timedOut: r.error !== undefined };
}

function dirWith(files: Record<string, string> = {}): string {
  const dir = tempDir("mlflow-dev-bad-input-");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A refusal: exit 2, the message on stderr, no stack trace, nothing on stdout. */
function expectRefused(r: ReturnType<typeof cli>, message: string | RegExp) {
  expect(r.timedOut).toBe(false);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toContain("internal error");
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("every command refuses what validate refuses: the AWS rules run in validation", () => {
  const cases: [string, (yaml: string) => string, RegExp][] = [
    [
      "a CIDR with host bits",
      (y) => y.replace("cidr: 10.40.0.0/16", "cidr: 10.40.1.0/16"),
      /:\d+:\d+ environments\.staging\.network\.cidr: 10\.40\.1\.0\/16 has host bits set/,
    ],
    [
      "a VPC too small for its subnets",
      (y) => y.replace("cidr: 10.40.0.0/16", "cidr: 10.40.0.0/27"),
      /environments\.staging\.network\.cidr: \/27 is too small/,
    ],
    [
      "a tag key with the aws: prefix",
      (y) => y.replace("team: ml-platform", '"aws:team": ml-platform'),
      /environments\.staging\.tags\.aws:team: uses the aws: prefix/,
    ],
  ];
  it.each(cases)("%s: validate and render --env staging both exit 2 with the position", (_name, edit, message) => {
    const dir = dirWith({ "mlflow-dev.yaml": edit(basicText) });
    expectRefused(cli(["validate"], dir), message);
    expectRefused(cli(["render", "--env", "staging"], dir), message);
    expectRefused(cli(["render", "--env", "local"], dir), message);
  });
});

describe("warnings", () => {
  it("bindAddress 0.0.0.0 is valid but warned about by validate and render, exit 0; --json marks it a warning", () => {
    const dir = dirWith({
      "mlflow-dev.yaml": basicText.replace("  local:\n", "  local:\n    bindAddress: 0.0.0.0\n"),
    });
    const warning =
      /^mlflow-dev\.yaml:16:18 warning: environments\.local\.bindAddress: publishes the local stack's ports .* on every network interface/;
    const validate = cli(["validate"], dir);
    expect(validate.code).toBe(0);
    expect(validate.stderr).toMatch(warning);
    expect(validate.stdout).toContain("is valid");
    const render = cli(["render", "--env", "local"], dir);
    expect(render.code).toBe(0);
    expect(render.stderr).toBe(validate.stderr);
    expect(render.stdout).toContain("- 0.0.0.0:5050:5000");
    const json = JSON.parse(cli(["validate", "--json"], dir).stdout);
    expect(json.valid).toBe(true);
    expect(json.issues).toMatchObject([
      { line: 16, col: 18, path: "environments.local.bindAddress", severity: "warning" },
    ]);
  });
});

describe("reading a spec", () => {
  it("refuses a FIFO without blocking, a device, and a directory", () => {
    const dir = dirWith();
    const fifo = join(dir, "fifo.yaml");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    expectRefused(cli(["validate", "-f", fifo], dir), /is not a regular file \(a device, FIFO or socket\)/);
    expectRefused(cli(["validate", "-f", "/dev/zero"], dir), /is not a regular file/);
    mkdirSync(join(dir, "spec.yaml"));
    expectRefused(cli(["validate", "-f", "spec.yaml"], dir), /is not a regular file \(a directory\)/);
  });

  it("refuses a file above 1 MiB before reading it, and bytes that are not UTF-8, with their position", () => {
    const dir = dirWith({ "big.yaml": `name: tracking\nx: "${"a".repeat(1024 * 1024)}"\n` });
    expectRefused(cli(["validate", "-f", "big.yaml"], dir), /is \d+ bytes; a spec is at most 1048576 \(1 MiB\)/);
    writeFileSync(join(dir, "latin1.yaml"), Buffer.from("name: tracking\nartifacts:\n  bucket: caf\xe9\n", "latin1"));
    expectRefused(cli(["validate", "-f", "latin1.yaml"], dir), /latin1\.yaml:3:14 is not UTF-8 text/);
  });

  it("names a UTF-16 or UTF-32 spec's encoding (with a byte order mark or without) instead of a YAML error", () => {
    const dir = dirWith();
    const text = "name: tracking\nartifacts:\n  bucket: b-artifacts\n";
    const cases: [string, Buffer, RegExp][] = [
      [
        "le-bom.yaml",
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]),
        /is UTF-16LE \(with a byte order mark\) text/,
      ],
      ["le.yaml", Buffer.from(text, "utf16le"), /is UTF-16LE text; mlflow-dev reads UTF-8 only/],
      ["be.yaml", Buffer.from(text, "utf16le").swap16(), /is UTF-16BE text/],
      ["le32.yaml", Buffer.concat([...text].map((c) => Buffer.from([c.charCodeAt(0), 0, 0, 0]))), /is UTF-32LE text/],
    ];
    for (const [name, bytes, message] of cases) {
      writeFileSync(join(dir, name), bytes);
      const r = cli(["validate", "-f", name], dir);
      expectRefused(r, message);
      expect(r.stderr).toContain("iconv -f UTF-");
      expect(r.stderr).not.toContain("top level");
    }
  });
});

describe("writing files", () => {
  it("render --out refuses a .env that is a link: the link's target and the directory stay unchanged", () => {
    const dir = dirWith({ "mlflow-dev.yaml": basicText, "victim.txt": "SECRET=keep\n" });
    mkdirSync(join(dir, "out"));
    symlinkSync(join(dir, "victim.txt"), join(dir, "out", ".env"));
    expectRefused(cli(["render", "--env", "local", "--out", "out"], dir), /out\/\.env is a symbolic link/);
    expect(readFileSync(join(dir, "victim.txt"), "utf8")).toBe("SECRET=keep\n");
    expect(readdirSync(join(dir, "out"))).toEqual([".env"]);
  });

  it("render --out refuses a compose.yaml that is a link, and writes no .env either", () => {
    const dir = dirWith({ "mlflow-dev.yaml": basicText, "victim.txt": "keep\n" });
    mkdirSync(join(dir, "out"));
    symlinkSync(join(dir, "victim.txt"), join(dir, "out", "compose.yaml"));
    expectRefused(cli(["render", "--env", "local", "--out", "out"], dir), /compose\.yaml is a symbolic link/);
    expect(readFileSync(join(dir, "victim.txt"), "utf8")).toBe("keep\n");
    expect(existsSync(join(dir, "out", ".env"))).toBe(false);
  });

  it("init refuses a --name that YAML would read as another name, and writes nothing", () => {
    const dir = dirWith();
    for (const name of ["abc #x", "abc\nmlflow: {}", "Tracking", "tr\u0430cking"]) {
      const r = cli(["init", "--name", name], dir);
      expectRefused(r, /--name ".*" is not a service name: /);
      expect(readdirSync(dir)).toEqual([]);
    }
    expectRefused(
      cli(["init", "--name", "abc #x"], dir),
      /--name "abc #x" is not a service name: must be 2-32 lowercase/,
    );
  });

  it("init keeps an mlflow-dev.schema.json that is not this version's schema unless --force", () => {
    const dir = dirWith({ "mlflow-dev.schema.json": '{"mine": true}\n' });
    expectRefused(
      cli(["init", "--name", "demo"], dir),
      /mlflow-dev\.schema\.json already exists .* not overwriting it/,
    );
    expect(readFileSync(join(dir, "mlflow-dev.schema.json"), "utf8")).toBe('{"mine": true}\n');
    expect(existsSync(join(dir, "mlflow-dev.yaml"))).toBe(false);
    // This version's own schema is no one's edit: init writes beside it.
    const fresh = dirWith();
    expect(cli(["init", "--name", "demo"], fresh).code).toBe(0);
    rmSync(join(fresh, "mlflow-dev.yaml"));
    expect(cli(["init", "--name", "demo"], fresh).code).toBe(0);
    expect(cli(["init", "--name", "demo", "--force"], dir).code).toBe(0);
    expect(readFileSync(join(dir, "mlflow-dev.schema.json"), "utf8")).toContain('"$schema"');
  });

  it("init refuses a dangling link, --force or not, and creates nothing where it points", () => {
    const dir = dirWith();
    symlinkSync(join(dir, "elsewhere.yaml"), join(dir, "mlflow-dev.yaml"));
    expectRefused(cli(["init"], dir), /already exists/);
    expectRefused(cli(["init", "--force"], dir), /mlflow-dev\.yaml is a symbolic link/);
    expect(existsSync(join(dir, "elsewhere.yaml"))).toBe(false);
    expect(existsSync(join(dir, "mlflow-dev.schema.json"))).toBe(false);
    expect(lstatSync(join(dir, "mlflow-dev.yaml")).isSymbolicLink()).toBe(true);
  });

  it("--out naming a file, or a place that cannot hold a directory, is a clear error (exit 1), not a crash or a hang", () => {
    const dir = dirWith({ "mlflow-dev.yaml": basicText, afile: "x" });
    for (const [out, reason] of [
      ["afile", /cannot write the directory .*afile: it exists and is not a directory \(EEXIST\)/],
      ["/proc/mlflow-dev-out", /cannot write the directory \/proc\/mlflow-dev-out: .*\((ENOENT|EACCES|EPERM)\)/],
    ] as const) {
      for (const env of ["local", "staging"]) {
        const r = cli(["render", "--env", env, "--out", out], dir);
        expect(r.timedOut).toBe(false);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(reason);
        expect(r.stderr).not.toContain("internal error");
      }
    }
    expect(readFileSync(join(dir, "afile"), "utf8")).toBe("x");
  });
});

describe("no input makes validation crash", () => {
  it("validate on random bytes and random YAML: exit 0, 1 or 2 within 10 s, never a stack trace", () => {
    const dir = dirWith();
    const keys = ["name", "mlflow", "environments", "local", "staging", "ports", "cpu", "memory", "- x", "&a", "*a"];
    for (let i = 0; i < 12; i++) {
      const text =
        i % 3 === 0
          ? randomBytes(64 + i * 50)
          : Buffer.from(
              Array.from(
                { length: 20 },
                (_, j) =>
                  `${" ".repeat((j * 7 + i) % 6)}${keys[(i * 13 + j * 5) % keys.length]}: ${randomBytes(4).toString("base64")}`,
              ).join("\n"),
            );
      writeFileSync(join(dir, `fuzz-${i}.yaml`), text);
      const r = cli(["validate", "-f", `fuzz-${i}.yaml`], dir);
      expect(r.timedOut, `fuzz-${i}.yaml hung`).toBe(false);
      expect([0, 1, 2], r.stderr).toContain(r.code);
      expect(r.stderr).not.toContain("internal error");
    }
  }, 60_000);

  it("random bytes and shuffled lines of a real spec give a result, never an exception", () => {
    const lines = basicText.split("\n");
    for (let i = 0; i < 200; i++) {
      const text =
        i % 2 === 0
          ? randomBytes(1 + (i % 300)).toString("latin1")
          : lines
              .map((l) => (Math.random() < 0.2 ? l.replace(/:\s.*$/, `: ${randomBytes(3).toString("base64")}`) : l))
              .sort(() => Math.random() - 0.5)
              .join("\n");
      const r = parseSpecText(text, "fuzz.yaml");
      expect(typeof r.ok).toBe("boolean");
      if (!r.ok) for (const issue of r.issues) expect(issue.line).toBeGreaterThan(0);
    }
  });
});
