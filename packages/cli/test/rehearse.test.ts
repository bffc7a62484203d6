import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { formatRehearsal, type RehearsalResult, rehearsalVerdict, rolloutCause } from "../src/rehearse/report.ts";
import { rehearsalDeployImage, rehearsalSpec, standInsNeeded, twinAwsEnv } from "../src/rehearse/spec.ts";
import { TWIN_DOES_NOT_ENFORCE, TWIN_ENFORCES } from "../src/twin/fidelity.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const basic = readFileSync(join(ROOT, "examples/basic/mlflow-dev.yaml"), "utf8");
const existingVpc = readFileSync(join(ROOT, "examples/existing-vpc/mlflow-dev.yaml"), "utf8");

describe("the rehearsal's copy of the spec", () => {
  it("turns the database's deletion protection off (so the rehearsal can remove it), says so, keeps the rest", () => {
    const r = rehearsalSpec(basic, "staging");
    const doc = parse(r.text);
    expect(doc.environments.staging.database.deletionProtection).toBe(false);
    expect({ ...doc, environments: { ...doc.environments, staging: undefined } }).toEqual({
      ...parse(basic),
      environments: { ...parse(basic).environments, staging: undefined },
    });
    expect(r.text).toContain("# Who may reach it"); // comments kept
    expect(r.changes).toEqual([
      expect.stringMatching(/^environments\.staging\.database\.deletionProtection: false on the twin/),
    ]);
    expect(standInsNeeded(basic, "staging")).toEqual({});
  });

  it("a spec without a database section gets one; one already without protection is not changed", () => {
    const bare = basic.replace(/ {4}database:\n( {6}.*\n)+/, "");
    expect(parse(rehearsalSpec(bare, "staging").text).environments.staging.database).toEqual({
      deletionProtection: false,
    });
    const off = basic.replace("deletionProtection: true", "deletionProtection: false");
    expect(rehearsalSpec(off, "staging")).toEqual({ text: expect.any(String), changes: [] });
  });

  it("an existing VPC, its subnets and a certificate need stand-ins, which replace them in the copy", () => {
    expect(standInsNeeded(existingVpc, "prod")).toEqual({
      network: { vpcId: "vpc-0a1b2c3d4e5f60718", publicSubnets: 2, privateSubnets: 2 },
      certificate: { arn: expect.stringMatching(/^arn:aws:acm:eu-central-1:/), domain: "mlflow.example.com" },
    });
    const r = rehearsalSpec(existingVpc, "prod", {
      network: {
        vpcId: "vpc-1",
        publicSubnetIds: ["subnet-a", "subnet-b"],
        privateSubnetIds: ["subnet-c", "subnet-d"],
      },
      certificateArn: "arn:aws:acm:eu-central-1:210987654321:certificate/x",
    });
    const prod = parse(r.text).environments.prod;
    expect(prod.network).toMatchObject({
      vpcId: "vpc-1",
      publicSubnetIds: ["subnet-a", "subnet-b"],
      privateSubnetIds: ["subnet-c", "subnet-d"],
    });
    expect(prod.certificateArn).toBe("arn:aws:acm:eu-central-1:210987654321:certificate/x");
    expect(r.changes).toHaveLength(3);
    expect(r.changes[1]).toContain(
      "the account's VPC vpc-0a1b2c3d4e5f60718 and its subnets are stand-ins created on the twin",
    );
    expect(r.changes[2]).toContain("a self-signed stand-in for mlflow.example.com");
  });
});

describe("the rehearsal's AWS settings", () => {
  it("send every call to the twin as the spec's account, and drop whatever names real credentials", () => {
    const env = twinAwsEnv(
      {
        PATH: "/bin",
        AWS_PROFILE: "prod",
        AWS_SESSION_TOKEN: "t",
        AWS_ROLE_ARN: "arn:aws:iam::1:role/x",
        AWS_WEB_IDENTITY_TOKEN_FILE: "/tok",
        AWS_ENDPOINT_URL: "https://elsewhere",
      },
      { endpoint: "http://127.0.0.1:4566" },
      { account: "123456789012", region: "eu-west-1" },
    );
    expect(env).toEqual({
      PATH: "/bin",
      AWS_ENDPOINT_URL: "http://127.0.0.1:4566",
      AWS_ACCESS_KEY_ID: "123456789012",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: "eu-west-1",
      AWS_DEFAULT_REGION: "eu-west-1",
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    });
  });

  it("run MLFLOW_DEV_DEPLOY_IMAGE on the twin, else the local stack's MLFLOW_DEV_IMAGES mlflow=, else the spec's", () => {
    expect(rehearsalDeployImage({ MLFLOW_DEV_DEPLOY_IMAGE: "r/a:1", MLFLOW_DEV_IMAGES: "mlflow=r/b:1" }).image).toBe(
      "r/a:1",
    );
    expect(rehearsalDeployImage({ MLFLOW_DEV_IMAGES: "postgres=r/p:1, mlflow=r/b:1" }).image).toBe("r/b:1");
    expect(rehearsalDeployImage({ MLFLOW_DEV_IMAGES: "mlflow-base=r/py:3" })).toEqual({});
  });
});

describe("the rehearsal's verdict and report", () => {
  const passed: RehearsalResult = {
    environment: "staging",
    verdict: "passed",
    twin: { endpoint: "http://127.0.0.1:4566", image: "localhost/mlflow-dev/ministack:x", started: true },
    changes: ["environments.staging.database.deletionProtection: false on the twin"],
    staticParity: { drift: 0 },
    rollout: { ok: true, stack: "mlflow-dev-t-staging", url: "http://t.elb.amazonaws.com" },
    liveParity: { ok: true, differences: 0, incomplete: 0, report: "r.json", recordings: "rec.json" },
    teardown: ["the twin's stack"],
    kept: false,
    enforced: TWIN_ENFORCES,
    notEnforced: TWIN_DOES_NOT_ENFORCE,
  };

  it("passes only with no drift, a rollout that passed its smoke test and no live difference", () => {
    expect(rehearsalVerdict(passed)).toBe("passed");
    expect(rehearsalVerdict({ ...passed, staticParity: { drift: 1 } })).toBe("failed");
    expect(rehearsalVerdict({ ...passed, rollout: { ok: false, cause: "x" } })).toBe("failed");
    expect(rehearsalVerdict({ ...passed, liveParity: { ...passed.liveParity!, ok: false, differences: 2 } })).toBe(
      "failed",
    );
    const { liveParity: _, ...noLive } = passed;
    expect(rehearsalVerdict(noLive)).toBe("failed");
  });

  it("names the failed revision's cause from promote's error output", () => {
    const stderr =
      "[6/7] rollout\n  waiting\nerror: promote staging: the new revision failed: exit code 3\n  task abc stopped: Essential container in task exited\n  last log lines:\n  boom\n";
    expect(rolloutCause(stderr)).toBe(
      "error: promote staging: the new revision failed: exit code 3\n  task abc stopped: Essential container in task exited\n  last log lines:\n  boom",
    );
    const text = formatRehearsal({ ...passed, verdict: "failed", rollout: { ok: false, cause: rolloutCause(stderr) } });
    expect(text).toContain(
      "rollout:        FAILED on the twin\n    error: promote staging: the new revision failed: exit code 3",
    );
  });

  it("prints the verdict, where the recordings are, what was torn down and what the twin enforces", () => {
    const text = formatRehearsal(passed);
    expect(text.split("\n")[0]).toBe("rehearsal of staging on the AWS twin (http://127.0.0.1:4566): PASSED");
    expect(text).toContain("recordings rec.json");
    expect(text).toContain("torn down:\n    - the twin's stack");
    expect(text).toContain("the twin enforces:");
    expect(text).toContain("the twin does not enforce (check these on AWS):");
  });
});
