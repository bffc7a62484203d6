import { readFileSync } from "node:fs";
import { join } from "node:path";
import { starterSpec } from "@mlflow-dev/cli/init";
import { parseSpec } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../src/root.ts";
import { emulatedEnv, specFixture } from "../src/spec-fixture.ts";
import { tempDir } from "../src/temp-dir.ts";

const basicText = readFileSync(join(ROOT, "examples/basic/mlflow-dev.yaml"), "utf8");

describe("specFixture", () => {
  it("without changes is the example's text, byte for byte", () => {
    expect(specFixture("examples/basic").text()).toBe(basicText);
    expect(specFixture("examples/existing-vpc").text()).toBe(
      readFileSync(join(ROOT, "examples/existing-vpc/mlflow-dev.yaml"), "utf8"),
    );
  });

  it("sets values by path and keeps every other line and comment", () => {
    const spec = specFixture("examples/basic")
      .name("itfixture")
      .set("mlflow.auth", "basic")
      .set("mlflow.authCacheTtlSeconds", 5)
      .env("staging", { account: "333344445555", database: { deletionProtection: false } });
    const text = spec.text();
    const data = parse(text);
    expect(data.name).toBe("itfixture");
    expect(data.mlflow).toMatchObject({ auth: "basic", authCacheTtlSeconds: 5, workers: 2 });
    expect(data.environments.staging.account).toBe("333344445555");
    expect(data.environments.staging.database).toMatchObject({
      deletionProtection: false,
      instanceClass: "db.t4g.micro",
    });
    // The example's comments and its quoting stay.
    for (const line of basicText.split("\n").filter((l) => l.trim().startsWith("#")))
      expect(text.split("\n")).toContain(line);
    expect(text).toContain('account: "333344445555"');
    // Only the lines set changed, and one was added.
    const changed = text.split("\n").filter((l) => !basicText.split("\n").includes(l));
    expect(changed).toEqual([
      "name: itfixture",
      "  auth: basic",
      "  authCacheTtlSeconds: 5",
      '    account: "333344445555"',
      "      deletionProtection: false",
    ]);
    // The result is a valid spec.
    const parsed = parseSpec(text, "mlflow-dev.yaml");
    expect(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.issues)).toBe(true);
  });

  it("creates what is missing, replaces arrays whole, removes undefined settings and environments", () => {
    const spec = specFixture("examples/existing-vpc")
      .set("images.build.context", "./image")
      .env("prod", { network: { publicSubnetIds: ["subnet-a", "subnet-b"] }, access: { sourceCidrs: ["10.0.0.0/16"] } })
      .env("local", { ports: { mlflow: 21000, minio: 21001 } });
    const data = spec.data() as {
      images: unknown;
      environments: Record<string, { network?: Record<string, unknown>; access?: unknown; ports?: unknown }>;
    };
    expect(data.images).toEqual({ build: { context: "./image" } });
    expect(data.environments.prod?.network?.publicSubnetIds).toEqual(["subnet-a", "subnet-b"]);
    expect(data.environments.local?.ports).toMatchObject({ mlflow: 21000, minio: 21001 });
    const dropped = specFixture("examples/basic").dropEnv("staging").env("local", { ports: undefined });
    expect(Object.keys((dropped.data() as { environments: object }).environments)).toEqual(["local"]);
    expect((dropped.data() as { environments: { local: object } }).environments.local).toEqual({});
    expect(() => specFixture("examples/basic").delete("gc")).toThrow("cannot delete gc: it is not there");
    expect(() => specFixture("examples/basic").set("mlflow.auth.x" as "mlflow.auth", "none")).toThrow(
      "mlflow.auth is not a mapping",
    );
  });

  it("clone() branches without touching the original", () => {
    const base = specFixture("examples/basic").name("itbase");
    const other = base.clone().set("backend.database", "renamed");
    expect((base.data() as { backend: { database: string } }).backend.database).toBe("mlflow");
    expect((other.data() as { name: string; backend: { database: string } }).backend.database).toBe("renamed");
    expect((other.data() as { name: string }).name).toBe("itbase");
  });

  it("uncomments the init starter's AWS environment as a user would, its own comments kept", () => {
    expect(specFixture.starter("churn-model").text()).toBe(starterSpec("churn-model"));
    const spec = specFixture.starter("churn-model").uncommentEnv("staging");
    const data = spec.data() as { environments: Record<string, Record<string, unknown>> };
    expect(data.environments.staging).toEqual({
      region: "eu-west-1",
      account: "123456789012",
      cpu: 512,
      memory: 1024,
      bucket: "churn-model-staging-artifacts-123456789012",
      access: { loadBalancer: "internal" },
    });
    expect(spec.text()).toContain("    # Who may reach it.");
    expect(spec.text()).not.toContain("# staging:");
    // Where a user's uncommenting leaves it: the comment above the block stays above it.
    expect(spec.text()).toContain(
      "  # An AWS environment: uncomment and fill in.\n  staging:\n    region: eu-west-1\n",
    );
    expect(parseSpec(spec.text(), "mlflow-dev.yaml").ok).toBe(true);
    expect(() => specFixture("examples/basic").uncommentEnv("prod")).toThrow("no commented-out environment prod");
  });

  it("emulatedEnv makes an example's AWS environment a test's own: account, bucket, no deletion protection", () => {
    const spec = emulatedEnv(specFixture("examples/basic").name("itemulated"), { account: "333344445555" });
    expect(spec.get("name")).toBe("itemulated");
    const staging = (spec.data() as { environments: { staging: Record<string, unknown> } }).environments.staging;
    expect(staging).toMatchObject({
      account: "333344445555",
      bucket: "itemulated-staging-artifacts-333344445555",
      database: { deletionProtection: false, instanceClass: "db.t4g.micro" },
      region: "eu-west-1",
    });
    const prod = emulatedEnv(specFixture("examples/existing-vpc"), {
      env: "prod",
      account: "444455556666",
      bucket: "own-bucket",
      settings: { desiredCount: 1 },
    });
    expect((prod.data() as { environments: { prod: Record<string, unknown> } }).environments.prod).toMatchObject({
      account: "444455556666",
      bucket: "own-bucket",
      desiredCount: 1,
      database: { deletionProtection: false },
    });
    expect(parseSpec(spec.text(), "mlflow-dev.yaml").ok).toBe(true);
  });

  it("writes mlflow-dev.yaml into a directory", () => {
    const dir = tempDir("mlflow-dev-fixture-");
    const path = specFixture("examples/basic").name("itwrite").write(join(dir, "project"));
    expect(path).toBe(join(dir, "project", "mlflow-dev.yaml"));
    expect(parse(readFileSync(path, "utf8")).name).toBe("itwrite");
  });
});
