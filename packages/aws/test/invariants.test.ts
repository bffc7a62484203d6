import { checkFargateSize } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import {
  EXECUTION_ROLE_MANAGED_POLICY,
  LogicalId,
  placeholderContext,
  type Resource,
  secretParameterName,
  TAG_KEYS,
  TAGGABLE_RESOURCE_TYPES,
  taskFamily,
  toMigrationTaskDefinition,
  toTaskDefinition,
  toTemplate,
  toTemplateYaml,
  UNTAGGABLE_RESOURCE_TYPES,
} from "../src/index.ts";
import { allCases, allStrings, walk } from "./helpers.ts";

/** Semantic rules every rendering must keep, checked over every resource of every example and variant. */

const PSEUDO_PARAMETERS = new Set([
  "AWS::AccountId",
  "AWS::Partition",
  "AWS::Region",
  "AWS::StackName",
  "AWS::NoValue",
]);

/** Renders an IAM Resource expression as text: ${X} for Ref X, ${X.Y} for GetAtt, Fn::Sub as written. */
function resourceText(expr: unknown): string {
  if (typeof expr === "string") return expr;
  const e = expr as Record<string, unknown>;
  if (typeof e.Ref === "string") return `\${${e.Ref}}`;
  if (Array.isArray(e["Fn::GetAtt"])) return `\${${(e["Fn::GetAtt"] as string[]).join(".")}}`;
  if (typeof e["Fn::Sub"] === "string") return e["Fn::Sub"];
  throw new Error(`unexpected IAM resource expression ${JSON.stringify(expr)}`);
}

function statementsOf(
  resource: Resource,
): { Effect: string; Action: string | string[]; Resource: unknown; Principal?: unknown }[] {
  const docs: unknown[] = [];
  if (resource.Type === "AWS::IAM::Role")
    for (const p of (resource.Properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? [])
      docs.push(p.PolicyDocument);
  if (resource.Type === "AWS::S3::BucketPolicy") docs.push(resource.Properties.PolicyDocument);
  return docs.flatMap((d) => (d as { Statement: never[] }).Statement);
}

function asList<T>(v: T | T[]): T[] {
  return Array.isArray(v) ? v : [v];
}

/**
 * A secret-named key assigned a literal: `X_PASSWORD=...`, `password: ...`, `secret_key = "..."`.
 * A ${reference} or "$reference" is fine (the script reads variables), and so are ARNs (`:secret:name`).
 */
const SECRET_ASSIGNMENT =
  /(?<![A-Za-z0-9:/-])[A-Za-z_]*(password|passwd|secret_key|secret|token)\s*[=:]\s*["']?[^\s${"']/i;

/** Every string of the tree; a string that is a JSON document (a schedule's Input) is read for the strings it holds. */
function everyString(value: unknown): { value: string; path: string }[] {
  return allStrings(value).flatMap((s) => {
    if (!/^[[{]/.test(s.value)) return [s];
    try {
      return allStrings(JSON.parse(s.value)).map((inner) => ({ ...inner, path: `${s.path} (JSON) ${inner.path}` }));
    } catch {
      return [s];
    }
  });
}

describe("the secret detector", () => {
  it.each([
    "MLFLOW_DB_PASSWORD=hunter2",
    "admin_password = s3cr3t",
    "password: hunter2",
    "FLASK_SECRET_KEY=abc",
    'PGPASSWORD="hunter2"',
  ])("flags %s", (text) => {
    expect(text).toMatch(SECRET_ASSIGNMENT);
  });
  it.each([
    "admin_password = ${MLFLOW_AUTH_ADMIN_PASSWORD}",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mlflow-dev/x/y/db-password",
    "postgresql://${MLFLOW_DB_USER}:${MLFLOW_DB_PASSWORD}@${MLFLOW_DB_HOST}",
    'PGPASSWORD="$MLFLOW_DB_PASSWORD"',
  ])("accepts %s", (text) => {
    expect(text).not.toMatch(SECRET_ASSIGNMENT);
  });
});

type Ingress = { FromPort: number; ToPort: number; CidrIp?: string; SourceSecurityGroupId?: unknown };

for (const { label, model } of allCases()) {
  describe(label, () => {
    const template = toTemplate(model);
    const resources = Object.entries(template.Resources);
    const ctx = placeholderContext(model);
    const taskDefinitions = [toTaskDefinition(model, ctx), toMigrationTaskDefinition(model, ctx)];
    const target = model.target.kind === "aws" ? model.target : undefined;
    if (!target) throw new Error(`${label} is not an AWS environment`);
    /** The subnets with a route to the internet gateway: the spec's, or the two the stack creates. */
    const publicSubnets = (): unknown[] =>
      target.network.mode === "existing"
        ? target.network.publicSubnetIds
        : [0, 1].map((i) => ({ Ref: LogicalId.publicSubnet(i) }));

    it.each(resources)("%s is tagged when its type is taggable", (id, r) => {
      const known = [...TAGGABLE_RESOURCE_TYPES, ...UNTAGGABLE_RESOURCE_TYPES];
      expect(known, `${id}: ${r.Type} is in neither tag list of render/cloudformation/tags.ts`).toContain(r.Type);
      if (!TAGGABLE_RESOURCE_TYPES.includes(r.Type)) return;
      const tags = r.Properties.Tags as { Key: string; Value: string }[];
      expect(tags, id).toEqual(
        expect.arrayContaining([
          { Key: TAG_KEYS.service, Value: model.name },
          { Key: TAG_KEYS.environment, Value: model.environment },
          ...Object.entries(target.tags).map(([Key, Value]) => ({ Key, Value })),
        ]),
      );
    });

    it("the target group's health check keeps the ALB's rules (the emulator does not gate on it)", () => {
      // Interval 5-300 s, timeout 2-120 s and below the interval, thresholds 2-10: CreateTargetGroup
      // refuses anything else on AWS, while MiniStack accepts it.
      const tg = template.Resources[LogicalId.targetGroup]?.Properties as Record<string, number>;
      expect(tg.HealthCheckIntervalSeconds).toBeGreaterThanOrEqual(5);
      expect(tg.HealthCheckIntervalSeconds).toBeLessThanOrEqual(300);
      expect(tg.HealthCheckTimeoutSeconds).toBeGreaterThanOrEqual(2);
      expect(tg.HealthCheckTimeoutSeconds).toBeLessThan(tg.HealthCheckIntervalSeconds as number);
      for (const k of ["HealthyThresholdCount", "UnhealthyThresholdCount"]) {
        expect(tg[k], k).toBeGreaterThanOrEqual(2);
        expect(tg[k], k).toBeLessThanOrEqual(10);
      }
    });

    it("tags both task definitions", () => {
      for (const td of taskDefinitions)
        expect(td.tags).toEqual(expect.arrayContaining([{ key: TAG_KEYS.service, value: model.name }]));
    });

    it("holds no secret value: secrets are Secrets Manager references only", () => {
      for (const { value, path } of everyString([template, ...taskDefinitions]))
        expect(value, path).not.toMatch(SECRET_ASSIGNMENT);
      for (const td of taskDefinitions) {
        const container = td.containerDefinitions[0];
        const envNames = container.environment.map((e) => e.name);
        for (const name of envNames)
          expect(name, "a secret-like variable in environment").not.toMatch(/PASSWORD|SECRET|TOKEN/);
        for (const ref of model.mlflow.secrets) {
          expect(envNames).not.toContain(ref.env);
          const arn = ctx.secretArns[ref.name] ?? "";
          expect(container.secrets).toContainEqual({ name: ref.env, valueFrom: arn });
          // The ARN appears once in the task definition: as that valueFrom.
          expect(JSON.stringify(td).split(JSON.stringify(arn)).length - 1, ref.name).toBe(1);
        }
      }
      expect(template.Resources[LogicalId.database]?.Properties.MasterUserPassword).toEqual({
        "Fn::Sub": `{{resolve:secretsmanager:\${${secretParameterName("db-password")}}}}`,
      });
    });

    it("never uses :latest", () => {
      expect(toTemplateYaml(model)).not.toContain(":latest");
      for (const td of taskDefinitions) expect(JSON.stringify(td)).not.toContain(":latest");
    });

    it("keeps RDS private and encrypted", () => {
      const db = template.Resources[LogicalId.database];
      expect(db?.Properties).toMatchObject({ PubliclyAccessible: false, StorageEncrypted: true });
      expect([db?.DeletionPolicy, db?.UpdateReplacePolicy]).toEqual(["Snapshot", "Snapshot"]);
    });

    it("keeps the bucket encrypted, versioned, closed to the public and TLS-only", () => {
      const bucket = template.Resources[LogicalId.artifactBucket]?.Properties ?? {};
      expect(bucket.BucketName).toBe(model.artifacts.bucket);
      expect(bucket.BucketEncryption).toMatchObject({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: expect.any(String) } }],
      });
      expect(bucket.VersioningConfiguration).toEqual({ Status: "Enabled" });
      expect(bucket.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const policy = template.Resources[LogicalId.artifactBucketPolicy];
      expect(policy && statementsOf(policy)).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
    });

    it("grants IAM only on the spec's bucket/prefix and secret ARNs (and, with gc.schedule, the server's task definition family, its tasks and roles)", () => {
      const bucket = `\${${LogicalId.artifactBucket}.Arn}`;
      const secrets = model.mlflow.secrets.map((s) => `\${${secretParameterName(s.name)}}`);
      const accessLogs = `${bucket}/load-balancer-logs/AWSLogs/\${AWS::AccountId}/*`;
      const internetFacing = target.access.loadBalancer === "internet-facing";
      const ecs = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}";
      const scheduled = model.gc.schedule !== undefined;
      const allowed = new Set([
        bucket,
        `${bucket}/${model.artifacts.prefix}/*`,
        ...secrets,
        ...(internetFacing ? [accessLogs] : []),
        ...(scheduled
          ? [
              `${ecs}:task-definition/${taskFamily(model)}:*`,
              `${ecs}:task/\${${LogicalId.cluster}}/*`,
              `\${${LogicalId.executionRole}.Arn}`,
              `\${${LogicalId.taskRole}.Arn}`,
            ]
          : []),
      ]);
      const allowedActions = new Set([
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "secretsmanager:GetSecretValue",
        ...(scheduled ? ["ecs:RunTask", "ecs:TagResource", "iam:PassRole"] : []),
      ]);
      let granted = 0;
      for (const [id, r] of resources) {
        for (const s of statementsOf(r)) {
          const targets = asList(s.Resource).map(resourceText);
          for (const t of targets) expect(t, `${id}: a wildcard resource`).not.toBe("*");
          if (s.Effect === "Deny") {
            // Only the bucket policy's TLS guard denies, on the bucket and its objects.
            for (const t of targets) expect([bucket, `${bucket}/*`], id).toContain(t);
            continue;
          }
          for (const t of targets) expect([...allowed], `${id}: ${t}`).toContain(t);
          // Only the load balancer's log delivery may write the access logs, and only write them.
          if (targets.includes(accessLogs)) {
            expect(s.Action, id).toBe("s3:PutObject");
            expect(Object.keys(s.Principal as object).sort(), id).toEqual(
              target.region === "eu-central-2" ? ["Service"] : ["AWS", "Service"],
            );
            expect((s.Principal as { Service: string }).Service).toBe("logdelivery.elasticloadbalancing.amazonaws.com");
          }
          for (const a of asList(s.Action)) expect([...allowedActions], `${id}: ${a}`).toContain(a);
          granted += targets.length;
        }
        if (r.Type === "AWS::IAM::Role")
          for (const arn of (r.Properties.ManagedPolicyArns as unknown[] | undefined) ?? [])
            expect(resourceText(arn), id).toBe(EXECUTION_ROLE_MANAGED_POLICY);
      }
      // Every secret and both bucket grants are present: nothing the service needs is missing.
      expect(granted).toBe(allowed.size);
    });

    it("chains security groups: database from the tasks only, tasks from the load balancer only", () => {
      const sgs = resources.filter(([, r]) => r.Type.startsWith("AWS::EC2::SecurityGroup"));
      expect(
        sgs.filter(([, r]) => r.Type !== "AWS::EC2::SecurityGroup").map(([id]) => id),
        "standalone rules",
      ).toEqual([]);
      const ingress = (id: string) =>
        (template.Resources[id]?.Properties.SecurityGroupIngress as Ingress[] | undefined) ?? [];
      const from = (id: string) => ({ "Fn::GetAtt": [id, "GroupId"] });
      expect(ingress(LogicalId.databaseSecurityGroup)).toEqual([
        expect.objectContaining({
          FromPort: model.database.port,
          ToPort: model.database.port,
          SourceSecurityGroupId: from(LogicalId.taskSecurityGroup),
        }),
      ]);
      expect(ingress(LogicalId.taskSecurityGroup)).toEqual([
        expect.objectContaining({
          FromPort: model.mlflow.port,
          ToPort: model.mlflow.port,
          SourceSecurityGroupId: from(LogicalId.loadBalancerSecurityGroup),
        }),
      ]);
      for (const id of [LogicalId.databaseSecurityGroup, LogicalId.taskSecurityGroup])
        for (const rule of ingress(id)) expect(rule.CidrIp, `${id} opened to an address range`).toBeUndefined();
      // The load balancer admits exactly the spec's blocks, on its listener ports.
      const ports = target.certificateArn ? [80, 443] : [80];
      expect(ingress(LogicalId.loadBalancerSecurityGroup).map((r) => `${r.CidrIp} ${r.FromPort}-${r.ToPort}`)).toEqual(
        target.access.sourceCidrs.flatMap((cidr) => ports.map((p) => `${cidr} ${p}-${p}`)),
      );
      expect(target.access.sourceCidrs.length).toBeGreaterThan(0);
      if (target.access.loadBalancer === "internal") expect(target.access.sourceCidrs).not.toContain("0.0.0.0/0");
    });

    it("puts the load balancer where access says, and keeps access logs when it is internet-facing", () => {
      const lb = template.Resources[LogicalId.loadBalancer];
      if (!lb) throw new Error("no load balancer");
      const dbSubnets = template.Resources[LogicalId.databaseSubnetGroup]?.Properties.SubnetIds;
      expect(lb?.Properties.Scheme).toBe(target.access.loadBalancer);
      const attributes = Object.fromEntries(
        (lb.Properties.LoadBalancerAttributes as { Key: string; Value: unknown }[]).map((a) => [a.Key, a.Value]),
      );
      if (target.access.loadBalancer === "internal") {
        expect(lb?.Properties.Subnets).toEqual(dbSubnets);
        expect(attributes["access_logs.s3.enabled"]).toBeUndefined();
      } else {
        expect(lb?.Properties.Subnets).toEqual(publicSubnets());
        expect(attributes["access_logs.s3.enabled"]).toBe("true");
        expect(attributes["access_logs.s3.bucket"]).toEqual({ Ref: LogicalId.artifactBucket });
        expect(lb?.DependsOn).toContain(LogicalId.artifactBucketPolicy);
      }
      const skipped = (lb?.Metadata?.checkov as { skip: { id: string }[] } | undefined)?.skip.map((x) => x.id) ?? [];
      expect(skipped.includes("CKV_AWS_91")).toBe(target.access.loadBalancer === "internal");
    });

    it("runs the tasks in private subnets without a public IP, or in public ones with egress: public", () => {
      const service = template.Resources[LogicalId.service]?.Properties ?? {};
      const awsvpc = (service.NetworkConfiguration as { AwsvpcConfiguration: Record<string, unknown> })
        .AwsvpcConfiguration;
      const target = model.target.kind === "aws" ? model.target : undefined;
      const dbSubnets = template.Resources[LogicalId.databaseSubnetGroup]?.Properties.SubnetIds;
      if (target?.network.egress === "public") {
        expect(awsvpc.AssignPublicIp).toBe("ENABLED");
        expect(awsvpc.Subnets).not.toEqual(dbSubnets);
        expect(awsvpc.Subnets).toEqual(publicSubnets());
      } else {
        expect(awsvpc.AssignPublicIp).toBe("DISABLED");
        expect(awsvpc.Subnets).toEqual(dbSubnets);
      }
    });

    it("creates a NAT gateway (and its Elastic IP) only with egress: nat", () => {
      const target = model.target.kind === "aws" ? model.target : undefined;
      const types = resources.map(([, r]) => r.Type);
      const nat = target?.network.mode === "new" && target.network.egress === "nat";
      expect(types.includes("AWS::EC2::NatGateway")).toBe(nat);
      expect(types.includes("AWS::EC2::EIP")).toBe(nat);
    });

    it("keeps the database in subnets without a route to the internet gateway", () => {
      const dbSubnets = template.Resources[LogicalId.databaseSubnetGroup]?.Properties.SubnetIds as unknown[];
      for (const s of dbSubnets) expect(publicSubnets()).not.toContainEqual(s);
    });

    it("uses a valid Fargate size", () => {
      for (const td of taskDefinitions)
        expect(checkFargateSize(Number(td.cpu), Number(td.memory))).toEqual({ ok: true });
    });

    it("points every Ref, GetAtt, Sub variable, Condition and DependsOn at something that exists", () => {
      const resourceIds = new Set(Object.keys(template.Resources));
      const refable = new Set([...resourceIds, ...Object.keys(template.Parameters), ...PSEUDO_PARAMETERS]);
      const conditions = new Set(Object.keys(template.Conditions));
      walk(template, (v, path) => {
        if (v === null || typeof v !== "object" || Array.isArray(v)) return;
        const o = v as Record<string, unknown>;
        if ("Ref" in o) expect([...refable], `${path}: Ref ${String(o.Ref)}`).toContain(o.Ref);
        if ("Fn::GetAtt" in o) expect([...resourceIds], path).toContain((o["Fn::GetAtt"] as string[])[0]);
        if (typeof o["Fn::Sub"] === "string")
          for (const [, name] of o["Fn::Sub"].matchAll(/\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z.]+)?\}/g))
            expect([...refable], `${path}: \${${name}}`).toContain(name);
      });
      for (const [id, r] of resources) {
        if (r.Condition) expect([...conditions], id).toContain(r.Condition);
        for (const dep of r.DependsOn ?? []) expect([...resourceIds], `${id} DependsOn`).toContain(dep);
      }
      for (const [id, o] of Object.entries(template.Outputs))
        if (o.Condition) expect([...conditions], id).toContain(o.Condition);
    });

    it("gives a conditional resource's condition to everything that references it", () => {
      for (const [id, r] of resources) {
        const text = JSON.stringify(r.Properties);
        for (const [otherId, other] of resources) {
          if (!other.Condition || otherId === id) continue;
          const referenced =
            text.includes(`{"Ref":"${otherId}"}`) || text.includes(`["${otherId}",`) || text.includes(`\${${otherId}`);
          if (referenced) expect(r.Condition, `${id} references ${otherId}`).toBe(other.Condition);
        }
      }
    });
  });
}
