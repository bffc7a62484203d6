import { describe, expect, it } from "vitest";
import { checkCompatibility, largeArtifacts, placeholderContext, toTaskDefinition, toTemplate } from "../src/index.ts";
import { exampleModel } from "./helpers.ts";

const basic = exampleModel("basic", "staging");

function withArtifacts(change: (m: typeof basic) => void): typeof basic {
  const model = structuredClone(basic);
  change(model);
  return model;
}

function idleTimeout(model: typeof basic): string | undefined {
  const attributes = toTemplate(model).Resources.LoadBalancer?.Properties.LoadBalancerAttributes;
  return (attributes as { Key: string; Value: string }[]).find((a) => a.Key === "idle_timeout.timeout_seconds")?.Value;
}

describe("largeArtifacts", () => {
  it("examples/basic staging (5 GiB, 2 workers), against a hand calculation", () => {
    // Silent while the server moves 5 GiB between its disk and S3: 5 × 1024 / 25 MiB/s = 204.8 -> 205 s,
    // plus 60 s margin = 265 s. Spool: 2 workers × (an upload + a download) × 5 GiB = 20 GiB, plus
    // 4 GiB for the image and system = 24 GiB, more than Fargate's default 20.
    expect(largeArtifacts(basic)).toEqual({
      largestGiB: 5,
      silentSeconds: 265,
      idleTimeoutSeconds: 265,
      spoolGiB: 20,
      neededStorageGiB: 24,
      ephemeralStorageGiB: 24,
    });
  });

  it("renders the idle timeout on the load balancer and the ephemeral storage on the server's task only", () => {
    expect(idleTimeout(basic)).toBe("265");
    expect(toTaskDefinition(basic, placeholderContext(basic)).ephemeralStorage).toEqual({ sizeInGiB: 24 });
  });

  it("a small artifact keeps AWS's defaults: an idle timeout of a minute and a little, and no ephemeral storage beyond 20 GiB", () => {
    const small = withArtifacts((m) => {
      m.artifacts.largestGiB = 0.5;
    });
    // 0.5 × 1024 / 25 = 20.48 -> 21 s + 60 = 81 s; spool 2 × 2 × 0.5 = 2 GiB + 4 = 6 GiB.
    expect(largeArtifacts(small)).toMatchObject({
      idleTimeoutSeconds: 81,
      neededStorageGiB: 6,
      ephemeralStorageGiB: undefined,
    });
    expect(toTaskDefinition(small, placeholderContext(small))).not.toHaveProperty("ephemeralStorage");
  });

  it("a server that does not serve artifacts holds none: AWS's defaults stay, whatever the size", () => {
    const direct = withArtifacts((m) => {
      m.mlflow.proxyArtifacts = false;
      m.artifacts.largestGiB = 500;
    });
    expect(largeArtifacts(direct)).toMatchObject({ idleTimeoutSeconds: 60, ephemeralStorageGiB: undefined });
    expect(idleTimeout(direct)).toBe("60");
    expect(checkCompatibility(direct)).toEqual([]);
  });

  it("a larger artifact with more workers asks for more disk, up to Fargate's 200 GiB", () => {
    const prod = exampleModel("existing-vpc", "prod");
    // 4 workers × 2 × 5 GiB = 40 GiB + 4 = 44 GiB.
    expect(largeArtifacts(prod).ephemeralStorageGiB).toBe(44);
    const big = withArtifacts((m) => {
      m.artifacts.largestGiB = 49;
    });
    // 2 × 2 × 49 = 196 + 4 = 200 GiB: the most Fargate gives, still accepted.
    expect(largeArtifacts(big).ephemeralStorageGiB).toBe(200);
    expect(checkCompatibility(big)).toEqual([]);
  });
});
