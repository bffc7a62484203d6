import { describe, expect, it } from "vitest";
import {
  largeArtifactEnvironment,
  PRESIGNED_DOWNLOAD_TTL,
  parseSpecOrThrow,
  presignedDownloadTtlSeconds,
  resolve,
  transferSeconds,
} from "../src/index.ts";

const yaml = (extra: string) => `
name: big
artifacts:
  bucket: big-artifacts
${extra}
environments:
  local: {}
  staging:
    region: us-east-1
    account: "111122223333"
`;

describe("large artifacts", () => {
  it("transferSeconds: the size at a pace, rounded up, plus a minute", () => {
    expect(transferSeconds(5, 25)).toBe(205 + 60);
    expect(transferSeconds(1, 1024)).toBe(1 + 60);
  });

  it("the presigned download URL lives long enough for a slow client to fetch the largest artifact", () => {
    // 5 GiB at 10 MiB/s: 512 s, plus 60 s.
    expect(presignedDownloadTtlSeconds(5)).toBe(572);
    // Never below MLflow's default of 300 s, never above the providers' 7 days.
    expect(presignedDownloadTtlSeconds(0.1)).toBe(PRESIGNED_DOWNLOAD_TTL.defaultSeconds);
    expect(presignedDownloadTtlSeconds(1e6)).toBe(PRESIGNED_DOWNLOAD_TTL.maxSeconds);
  });

  it("only a server that serves artifacts gets the setting", () => {
    expect(largeArtifactEnvironment({ largestGiB: 5, proxyArtifacts: true })).toEqual({
      MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS: "572",
    });
    expect(largeArtifactEnvironment({ largestGiB: 5, proxyArtifacts: false })).toEqual({});
  });

  it("artifacts.largestGiB defaults to 5 and reaches both runtimes' Models with the same server setting", () => {
    const spec = parseSpecOrThrow(yaml(""), "big.yaml");
    expect(spec.artifacts.largestGiB).toBe(5);
    const local = resolve(spec, "local");
    const staging = resolve(spec, "staging");
    expect(local.artifacts.largestGiB).toBe(5);
    expect(local.mlflow.environment.MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS).toBe("572");
    expect(staging.mlflow.environment.MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS).toBe("572");
  });

  it("an environment's mlflow.env may set the lifetime itself", () => {
    const spec = parseSpecOrThrow(
      yaml("").replace(
        'account: "111122223333"',
        'account: "111122223333"\n    mlflow:\n      env:\n        MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS: "3600"',
      ),
      "big.yaml",
    );
    expect(resolve(spec, "staging").mlflow.environment.MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS).toBe("3600");
  });

  it("refuses a size that is not a positive number of GiB", () => {
    expect(() => parseSpecOrThrow(yaml("  largestGiB: 0"), "big.yaml")).toThrow(/artifacts\.largestGiB/);
    expect(() => parseSpecOrThrow(yaml("  largestGiB: 2048"), "big.yaml")).toThrow(/artifacts\.largestGiB/);
  });
});
