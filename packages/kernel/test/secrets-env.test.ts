import { describe, expect, it } from "vitest";
import { parseEnvFile } from "../src/env-file.ts";
import { newSecret, randomHex, systemRandom } from "../src/random.ts";
import { generateSecret } from "../src/secrets.ts";

describe("generateSecret", () => {
  it("is URL- and shell-safe, of the length asked, and uniform over its 62 symbols", () => {
    expect(newSecret()).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(newSecret(43)).toMatch(/^[A-Za-z0-9]{43}$/);
    const counts = new Map<string, number>();
    for (const c of generateSecret(systemRandom, 62_000)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) expect(n).toBeGreaterThan(700);
  });

  it("takes its randomness from the caller and drops bytes past 247 (rejection sampling)", () => {
    const bytes = [255, 248, 0, 1, 61, 62];
    const random = (n: number) => Uint8Array.from({ length: n }, (_, i) => bytes[i % bytes.length] ?? 0);
    expect(generateSecret(random, 4)).toBe("AB9A");
  });

  it("randomHex gives two hex digits a byte", () => {
    expect(randomHex(6)).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe("parseEnvFile", () => {
  it("reads KEY=value lines, comments, quotes and export as Compose does", () => {
    const env = parseEnvFile(
      "# Generated\nA=1\r\n B = two \nC=\"q # x\"\nD=val # comment\nexport E=5\nF='s'\nG=a=b\nA=3\nEMPTY=\n",
    );
    expect(Object.fromEntries(env)).toEqual({
      A: "3",
      B: "two",
      C: "q # x",
      D: "val",
      E: "5",
      F: "s",
      G: "a=b",
      EMPTY: "",
    });
  });
});
