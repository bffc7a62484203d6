import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INTEGRATION_FILES, LANES, laneFiles, sparePort, stackPorts } from "../src/lanes.ts";
import { ROOT } from "../src/root.ts";

const integration = join(ROOT, "test/integration");
const files = readdirSync(integration).filter((f) => f.endsWith(".test.ts"));

describe("the integration lanes", () => {
  it("hold every integration file, each in one lane", () => {
    expect(Object.keys(INTEGRATION_FILES).sort()).toEqual([...files].sort());
    const laned = LANES.flatMap(laneFiles);
    expect(laned.sort()).toEqual([...files].sort());
  });

  it("give each file a block of 100 ports of its own, clear of the emulator's database ports and the ephemeral range", () => {
    const bases = Object.values(INTEGRATION_FILES).map((f) => f.portBase);
    expect(new Set(bases).size).toBe(bases.length);
    for (const base of bases) {
      expect(base % 100, `port base ${base}`).toBe(0);
      expect(base, "MiniStack publishes databases on 15432, 15433, ...").toBeGreaterThanOrEqual(16000);
      expect(base + 99, "ports from 32768 up are the kernel's ephemeral range").toBeLessThan(32768);
    }
  });

  it("derive a stack's ports and spare ports from the file's base, and refuse a file without a lane", () => {
    const url = `file://${join(integration, "local-stack.test.ts")}`;
    const base = INTEGRATION_FILES["local-stack.test.ts"]!.portBase;
    expect(stackPorts(url)).toEqual({ mlflow: base, minio: base + 1, minioConsole: base + 2, postgres: base + 3 });
    expect(stackPorts(url, 2).mlflow).toBe(base + 20);
    expect(sparePort(url, 9)).toBe(base + 99);
    expect(() => stackPorts(url, 9)).toThrow("stacks 0 to 8");
    expect(() => stackPorts(`file://${join(integration, "new.test.ts")}`)).toThrow(
      "new.test.ts has no lane and no ports: add it to INTEGRATION_FILES in packages/test-support/src/lanes.ts",
    );
  });

  it("no file sets another file's ports or spec names by hand", () => {
    const owner = new Map<string, string>();
    for (const file of files) {
      const source = readFileSync(join(integration, file), "utf8");
      // Ports come from the table: no literal host port in a PORTS object or a spec's ports.
      expect(source, file).not.toMatch(/\b(mlflow|minio|minioConsole|postgres): \d{4,5}\b|_PORT = \d{4,5}\b/);
      // Spec names (compose projects mlflow-dev-<name>, AWS stacks) are each file's own.
      for (const m of source.matchAll(/(?:NAME = |testSpecDir\(|name: |\.name\()["`]?(it[a-z0-9]+)/g)) {
        const name = m[1]!;
        expect(owner.get(name) ?? file, `spec name ${name}`).toBe(file);
        owner.set(name, file);
      }
    }
    expect(owner.size).toBeGreaterThanOrEqual(10);
  });
});
