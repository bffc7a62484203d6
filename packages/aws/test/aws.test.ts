import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkFargateSize, type Model, parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  placeholderContext,
  secretName,
  TAGGABLE,
  toMigrationTaskDefinition,
  toTaskDefinition,
  toTemplate,
  toTemplateYaml,
} from "../src/index.ts";

const root = new URL("../../../", import.meta.url);
const model = (example: string, env: string): Model =>
  resolve(parseSpecOrThrow(readFileSync(new URL(`examples/${example}/mlflow-dev.yaml`, root), "utf8")), env);
const EXAMPLES: Array<[string, string]> = [
  ["basic", "staging"],
  ["existing-vpc", "prod"],
];

function golden(name: string, actual: string) {
  const path = new URL(`./golden/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, actual);
  return readFileSync(path, "utf8");
}

describe.each(EXAMPLES)("%s / %s", (example, env) => {
  const m = model(example, env);
  const template = toTemplate(m);
  const ctx = placeholderContext(m);
  const td = toTaskDefinition(m, ctx);
  const container = td.containerDefinitions[0]!;

  it("matches the reviewed golden template, resource by resource", () => {
    const expected = parseYaml(golden(`${example}-${env}.template.yaml`, toTemplateYaml(m)));
    expect(Object.keys(template.Resources).sort()).toEqual(Object.keys(expected.Resources).sort());
    for (const [id, resource] of Object.entries(template.Resources))
      expect(JSON.parse(JSON.stringify(resource)), `resource ${id}`).toEqual(expected.Resources[id]);
    expect(JSON.parse(JSON.stringify(template.Outputs))).toEqual(expected.Outputs);
    expect(JSON.parse(JSON.stringify(template.Parameters))).toEqual(expected.Parameters);
  });

  it("matches the reviewed golden task definition", () => {
    const text = `${JSON.stringify(td, null, 2)}\n`;
    expect(text).toBe(golden(`${example}-${env}.task-definition.json`, text));
  });

  it("tags every taggable resource", () => {
    for (const [id, r] of Object.entries(template.Resources)) {
      if (!TAGGABLE.has(r.Type)) continue;
      const tags = r.Properties.Tags as Array<{ Key: string; Value: string }>;
      expect(tags, id).toEqual(
        expect.arrayContaining([
          { Key: "mlflow-dev:service", Value: m.name },
          { Key: "mlflow-dev:environment", Value: env },
        ]),
      );
    }
  });

  it("resolves every Ref and GetAtt to a resource or parameter", () => {
    const names = new Set([
      ...Object.keys(template.Resources),
      ...Object.keys(template.Parameters),
      "AWS::Region",
      "AWS::Partition",
      "AWS::AccountId",
    ]);
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) {
        for (const x of v) walk(x);
        return;
      }
      if (v && typeof v === "object") {
        for (const [k, x] of Object.entries(v)) {
          if (k === "Ref") expect(names.has(String(x)), `Ref ${x}`).toBe(true);
          else if (k === "Fn::GetAtt") expect(names.has(String((x as string[])[0])), `GetAtt ${x}`).toBe(true);
          else if (k === "Fn::Sub" && typeof x === "string")
            for (const [, n] of x.matchAll(/\$\{([A-Za-z0-9:]+)(\.[A-Za-z.]+)?\}/g))
              expect(names.has(n ?? ""), `Sub ${n}`).toBe(true);
          else walk(x);
        }
      }
    };
    walk(template.Resources);
    walk(template.Outputs);
  });

  it("keeps RDS private and encrypted, the bucket encrypted, versioned and closed", () => {
    const db = template.Resources.Database!.Properties;
    expect([db.PubliclyAccessible, db.StorageEncrypted]).toEqual([false, true]);
    expect(JSON.stringify(db.MasterUserPassword)).toMatch(
      /^\{"Fn::Sub":"\{\{resolve:secretsmanager:\$\{DbPasswordSecretArn\}\}\}"\}$/,
    );
    const b = template.Resources.ArtifactBucket!.Properties;
    expect(b.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(Object.values(b.PublicAccessBlockConfiguration as object)).toEqual([true, true, true, true]);
    expect(b.BucketEncryption).toBeDefined();
  });

  it("chains security groups: DB only from tasks, tasks only from the ALB", () => {
    expect(template.Resources.DatabaseIngressFromTasks!.Properties.SourceSecurityGroupId).toEqual({
      "Fn::GetAtt": ["TaskSecurityGroup", "GroupId"],
    });
    expect(template.Resources.TaskIngressFromLoadBalancer!.Properties.SourceSecurityGroupId).toEqual({
      "Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"],
    });
    expect(template.Resources.TaskSecurityGroup!.Properties.SecurityGroupIngress).toBeUndefined();
    expect(template.Resources.DatabaseSecurityGroup!.Properties.SecurityGroupIngress).toBeUndefined();
  });

  it("scopes IAM to the spec's bucket/prefix and secrets only", () => {
    const policies = JSON.stringify([
      template.Resources.ExecutionRole!.Properties.Policies,
      template.Resources.TaskRole!.Properties.Policies,
    ]);
    const resources = [...policies.matchAll(/arn:\$\{AWS::Partition\}:s3:::([^"]+)/g)].map((x) => x[1]);
    for (const r of resources)
      expect(r === m.artifacts.bucket || r === `${m.artifacts.bucket}/${m.artifacts.prefix}/*`, r).toBe(true);
    expect(policies).not.toMatch(/"Resource":"\*"|"Action":"\*"|s3:\*/);
    const secretRefs = [...policies.matchAll(/"Ref":"([A-Za-z]+SecretArn)"/g)].map((x) => x[1]).sort();
    expect(secretRefs).toEqual(
      m.mlflow.secrets
        .map((s) => `${s.name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase())}SecretArn`)
        .sort(),
    );
  });

  it("renders no secret value and takes every secret from Secrets Manager", () => {
    const text = toTemplateYaml(m) + JSON.stringify(td) + JSON.stringify(toMigrationTaskDefinition(m, ctx));
    expect(text).not.toMatch(/PASSWORD["']?\s*[:=]\s*["']?[A-Za-z0-9]{16,}/);
    const envNames = container.environment.map((e) => e.name);
    for (const ref of m.mlflow.secrets) {
      expect(envNames).not.toContain(ref.env);
      expect(container.secrets).toContainEqual({
        name: ref.env,
        valueFrom: expect.stringContaining(secretName(m, ref.name)),
      });
    }
  });

  it("carries every MLflow setting of the model, with the same entrypoint and command", () => {
    expect(container.entryPoint).toEqual(m.mlflow.entrypoint);
    expect(container.command).toEqual(m.mlflow.command);
    for (const key of Object.keys(m.mlflow.environment))
      expect(container.environment.map((e) => e.name)).toContain(key);
    expect(container.image).not.toMatch(/:latest$/);
  });

  it("uses a valid Fargate size", () => {
    expect(checkFargateSize(Number(td.cpu), Number(td.memory))).toEqual({ ok: true });
  });

  it("is deterministic", () => {
    expect(toTemplateYaml(m)).toBe(toTemplateYaml(model(example, env)));
  });
});

describe("HTTPS", () => {
  it("redirects HTTP to HTTPS when a certificate is given, and forwards plain HTTP otherwise", () => {
    const withCert = toTemplate(model("existing-vpc", "prod")).Resources;
    expect(withCert.HttpsListener?.Properties.Protocol).toBe("HTTPS");
    expect((withCert.HttpListener!.Properties.DefaultActions as Array<{ Type: string }>)[0]?.Type).toBe("redirect");
    const plain = toTemplate(model("basic", "staging")).Resources;
    expect(plain.HttpsListener).toBeUndefined();
    expect((plain.HttpListener!.Properties.DefaultActions as Array<{ Type: string }>)[0]?.Type).toBe("forward");
  });

  it("creates an ECR repository only when the image is built", () => {
    expect(toTemplate(model("existing-vpc", "prod")).Resources.ImageRepository).toBeDefined();
    expect(toTemplate(model("basic", "staging")).Resources.ImageRepository).toBeUndefined();
  });
});

/** The real checker: cfn-lint, zero errors and zero warnings. Required in CI. */
const cfnLint = spawnSync("cfn-lint", ["--version"], { stdio: "ignore" }).status === 0;
if (!cfnLint) {
  if (process.env.CI) throw new Error("cfn-lint is required in CI (scripts/bootstrap.sh installs it)");
  console.warn("skipping cfn-lint checks: cfn-lint is not installed (pip install cfn-lint)");
}
describe.runIf(cfnLint)("cfn-lint", () => {
  it.each(EXAMPLES)(
    "accepts %s / %s",
    (example, env) => {
      const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-cfn-"));
      const file = join(dir, "template.yaml");
      writeFileSync(file, toTemplateYaml(model(example, env)));
      const r = spawnSync("cfn-lint", [file], { encoding: "utf8" });
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
    },
    120_000,
  );
});
