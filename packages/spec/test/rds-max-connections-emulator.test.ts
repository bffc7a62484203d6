import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { rdsMaxConnections } from "../src/index.ts";

/**
 * The emulator's RDS starts PostgreSQL with the max_connections of its instance class
 * (images/ministack/rds_max_connections.py, MiniStack patch 14): the same number validate and the
 * pool sizing use (connection-budget.ts), for every class either side knows.
 */
const PROGRAM = fileURLToPath(new URL("../../../images/ministack/rds_max_connections.py", import.meta.url));

const FAMILIES = ["t3", "t4g", "t2", "m5", "m6g", "m6i", "m7g", "m8g", "m4", "r5", "r6g", "r7g", "r8g", "x2g", "c6g"];
const SIZES = [
  "micro",
  "small",
  "medium",
  "large",
  "xlarge",
  "2xlarge",
  "4xlarge",
  "8xlarge",
  "12xlarge",
  "16xlarge",
  "24xlarge",
];
const CLASSES = [...FAMILIES.flatMap((f) => SIZES.map((s) => `db.${f}.${s}`)), "db.t4g", "m5.large", "db.serverless"];

describe("the emulator's max_connections table", () => {
  it("gives what rdsMaxConnections gives, for every class", () => {
    const r = spawnSync("python3", [PROGRAM, ...CLASSES], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const emulator = Object.fromEntries(
      r.stdout
        .trim()
        .split("\n")
        .map((line) => line.split(" ") as [string, string]),
    );
    const ours = Object.fromEntries(CLASSES.map((c) => [c, String(rdsMaxConnections(c) ?? "-")]));
    expect(emulator).toEqual(ours);
    // Known and unknown classes are both in the list, so the comparison covers both answers.
    expect(ours["db.t4g.micro"]).toBe("84");
    expect(ours["db.c6g.large"]).toBe("-");
  });
});
