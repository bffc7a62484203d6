import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { certificateProblem } from "../src/deploy/engine/preflight.ts";
import {
  changedAttributes,
  describeHolder,
  diffJson,
  endpointUrlFrom,
  formatChanges,
  formatPlan,
  generateSecretValue,
  isNetworkError,
  type PlanResult,
  parseHolder,
  send,
  stackFailureMessage,
  summarizeChanges,
  targetFor,
  taskDefinitionChanges,
} from "../src/deploy/index.ts";
import {
  estimateMonthlyCost,
  failureDetectionBound,
  LogicalId,
  placeholderContext,
  toRolloutPlan,
  toTaskDefinition,
  toTemplate,
  withTeardown,
} from "../src/index.ts";
import { exampleModel } from "./helpers.ts";

/** The pure parts of the deploy runners; the runners themselves run against the emulator (test/integration). */

const basic = exampleModel("basic", "staging");
const byo = exampleModel("existing-vpc", "prod");

describe("change-set diff", () => {
  const changes = [
    { action: "Add" as const, logicalId: "Vpc", type: "AWS::EC2::VPC", details: [] },
    {
      action: "Modify" as const,
      logicalId: "Service",
      type: "AWS::ECS::Service",
      replacement: "False",
      details: ["TaskDefinition"],
    },
    {
      action: "Modify" as const,
      logicalId: "Database",
      type: "AWS::RDS::DBInstance",
      replacement: "True",
      details: ["DBName"],
    },
    { action: "Remove" as const, logicalId: "NatGateway", type: "AWS::EC2::NatGateway", details: [] },
  ];

  it("writes one aligned line per change, marking replacements", () => {
    expect(formatChanges(changes)).toEqual([
      "+ Vpc         AWS::EC2::VPC",
      "~ Service     AWS::ECS::Service     (TaskDefinition)",
      "~ Database    AWS::RDS::DBInstance  (DBName; REPLACED (a new resource, the old one is deleted))",
      "- NatGateway  AWS::EC2::NatGateway",
    ]);
    expect(summarizeChanges(changes)).toBe("1 to add, 2 to change, 1 to remove");
  });

  it("names the changed properties once each", () => {
    expect(
      changedAttributes([
        { Target: { Attribute: "Properties", Name: "TaskDefinition" } },
        { Target: { Attribute: "Properties", Name: "TaskDefinition" } },
        { Target: { Attribute: "Tags" } },
      ]),
    ).toEqual(["TaskDefinition", "Tags"]);
  });
});

describe("task definition changes", () => {
  const ctx = placeholderContext(basic);
  const desired = toTaskDefinition(basic, ctx);

  /** What DescribeTaskDefinition returns: the input plus defaults and read-only fields, lists reordered. */
  function registered(td = desired): Record<string, unknown> {
    const copy = structuredClone(td) as unknown as Record<string, unknown> & {
      containerDefinitions: Record<string, unknown>[];
    };
    const c = copy.containerDefinitions[0] ?? {};
    c.cpu = 0;
    c.mountPoints ??= [];
    c.volumesFrom = [];
    c.environment = [...(c.environment as unknown[])].reverse();
    return { ...copy, taskDefinitionArn: "arn:aws:ecs:eu-west-1:1:task-definition/x:3", revision: 3, status: "ACTIVE" };
  }

  it("ignores what AWS adds (defaults, ARN, revision) and the order of environment entries", () => {
    expect(taskDefinitionChanges(registered(), desired)).toEqual([]);
  });

  it("reports a new image as one field change", () => {
    const next = toTaskDefinition(basic, { ...ctx, imageUri: "example.com/mlflow:3.18.0" });
    expect(taskDefinitionChanges(registered(), next)).toEqual([
      { path: "containerDefinitions[0].image", before: ctx.imageUri, after: "example.com/mlflow:3.18.0" },
    ]);
  });

  it("reports a field the rendering dropped", () => {
    const next = structuredClone(desired);
    delete next.containerDefinitions[0].healthCheck;
    expect(taskDefinitionChanges(registered(), next).map((c) => c.path)).toEqual([
      "containerDefinitions[0].healthCheck",
    ]);
  });

  it("treats a missing revision as a change", () => {
    expect(taskDefinitionChanges(undefined, desired)).toHaveLength(1);
  });

  it("diffJson names nested paths", () => {
    expect(diffJson({ a: { b: [1, 2] } }, { a: { b: [1, 3] } })).toEqual([{ path: "a.b[1]", before: 2, after: 3 }]);
  });
});

describe("stack failure message", () => {
  it("puts the root cause first and the cancellations after it", () => {
    const text = stackFailureMessage("s", { status: "ROLLBACK_COMPLETE" }, [
      {
        LogicalResourceId: "Bucket",
        ResourceType: "AWS::S3::Bucket",
        ResourceStatus: "CREATE_FAILED",
        ResourceStatusReason: "Resource creation cancelled",
      },
      {
        LogicalResourceId: "Database",
        ResourceType: "AWS::RDS::DBInstance",
        ResourceStatus: "CREATE_FAILED",
        ResourceStatusReason: "DB instance class not available",
      },
      { LogicalResourceId: "s", ResourceType: "AWS::CloudFormation::Stack", ResourceStatus: "ROLLBACK_IN_PROGRESS" },
    ]);
    expect(text.split("\n")).toEqual([
      "the stack s ended in ROLLBACK_COMPLETE; failed resources:",
      "  Database (AWS::RDS::DBInstance) CREATE_FAILED: DB instance class not available",
      "  Bucket (AWS::S3::Bucket) CREATE_FAILED: Resource creation cancelled",
    ]);
  });
});

describe("teardown template", () => {
  const template = toTemplate(byo);

  it("leaves deletion protection as the spec set it, and keeps a snapshot and the data by default", () => {
    const t = withTeardown(template, { skipFinalSnapshot: false, deleteData: false });
    expect(t.Resources[LogicalId.database]?.Properties.DeletionProtection).toBe(true);
    expect(t.Resources[LogicalId.database]?.DeletionPolicy).toBe("Snapshot");
    expect(t.Resources[LogicalId.artifactBucket]?.DeletionPolicy).toBe("Retain");
    // Images are build artifacts, rebuilt from the build context: the repository always goes.
    expect(t.Resources[LogicalId.ecrRepository]?.DeletionPolicy).toBe("Delete");
    expect(t.Resources[LogicalId.ecrRepository]?.Properties.EmptyOnDelete).toBe(true);
    // The deployed template itself is left alone.
    expect(template.Resources[LogicalId.database]?.Properties.DeletionProtection).toBe(true);
  });

  it("deletes the database without a snapshot and the data only when asked", () => {
    const t = withTeardown(template, { skipFinalSnapshot: true, deleteData: true });
    expect(t.Resources[LogicalId.database]?.DeletionPolicy).toBe("Delete");
    expect(t.Resources[LogicalId.artifactBucket]?.DeletionPolicy).toBe("Delete");
  });

  it("changes nothing but the deletion settings", () => {
    const t = withTeardown(template, { skipFinalSnapshot: false, deleteData: false });
    for (const [id, r] of Object.entries(template.Resources)) {
      const { DeletionPolicy: _a, UpdateReplacePolicy: _b, ...before } = r;
      const { DeletionPolicy: _c, UpdateReplacePolicy: _d, ...after } = t.Resources[id] ?? r;
      for (const props of [after.Properties, before.Properties] as Record<string, unknown>[]) {
        if (id === LogicalId.ecrRepository) delete props.EmptyOnDelete;
      }
      expect(after, id).toEqual(before);
    }
  });
});

describe("deploy lock holder", () => {
  it("round-trips and describes who holds the lock", () => {
    const h = { id: "1", command: "promote", user: "ana", host: "ci-7", pid: 42, startedAt: "2026-01-01T00:00:00Z" };
    expect(parseHolder(JSON.stringify(h))).toEqual(h);
    expect(describeHolder(h)).toBe("promote by ana@ci-7 (pid 42) since 2026-01-01T00:00:00Z");
    expect(parseHolder("not json")).toBeUndefined();
  });
});

describe("helpers", () => {
  it('generates secrets RDS accepts (no / @ " or space), different each time', () => {
    const a = generateSecretValue();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateSecretValue()).not.toBe(a);
  });

  it("takes the endpoint from the flag, else AWS_ENDPOINT_URL", () => {
    expect(endpointUrlFrom("http://localhost:4566/", {})).toBe("http://localhost:4566");
    expect(endpointUrlFrom(undefined, { AWS_ENDPOINT_URL: "http://x:1" })).toBe("http://x:1");
    expect(endpointUrlFrom(undefined, {})).toBeUndefined();
  });

  it("reaches the service through the emulator only when there is one", () => {
    expect(targetFor("http://lb.elb.amazonaws.com", undefined)).toEqual({ url: "http://lb.elb.amazonaws.com" });
    expect(targetFor("http://lb.elb.amazonaws.com", "http://127.0.0.1:4566").via).toBe("http://127.0.0.1:4566");
  });

  it("reaches a domain through its load balancer before the domain's DNS points there", () => {
    expect(targetFor("https://mlflow.example.com", undefined, "lb-1.eu-west-1.elb.amazonaws.com")).toEqual({
      url: "https://mlflow.example.com",
      via: "https://lb-1.eu-west-1.elb.amazonaws.com",
    });
    expect(targetFor("http://lb-1.elb.amazonaws.com", undefined, "lb-1.elb.amazonaws.com")).toEqual({
      url: "http://lb-1.elb.amazonaws.com",
    });
  });

  it("sends an https:// service's Host with :443 when it travels over the emulator's plain HTTP", async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.host);
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const via = `http://127.0.0.1:${port}`;
      expect((await send(targetFor("https://mlflow.example.com", via), "GET", "/health")).status).toBe(200);
      await send(targetFor("http://lb-1.elb.amazonaws.com", via), "GET", "/health");
      expect(seen).toEqual(["mlflow.example.com:443", "lb-1.elb.amazonaws.com"]);
    } finally {
      server.close();
    }
  });

  it("accepts only an issued, unexpired certificate that names the domain", () => {
    const now = new Date("2026-12-01T00:00:00Z");
    const later = new Date("2027-12-01T00:00:00Z");
    const cert = (over: object) => ({ Status: "ISSUED", DomainName: "mlflow.example.com", NotAfter: later, ...over });
    expect(certificateProblem(cert({}), "mlflow.example.com", now)).toBeUndefined();
    expect(certificateProblem(cert({ DomainName: "*.example.com" }), "mlflow.example.com", now)).toBeUndefined();
    expect(certificateProblem(cert({ DomainName: "*.example.com" }), "a.mlflow.example.com", now)).toBe(
      "the certificate is for *.example.com, not for a.mlflow.example.com",
    );
    expect(
      certificateProblem(
        cert({ DomainName: "example.com", SubjectAlternativeNames: ["example.com", "MLflow.Example.com"] }),
        "mlflow.example.com",
        now,
      ),
    ).toBeUndefined();
    expect(certificateProblem(cert({ Status: "PENDING_VALIDATION" }), "mlflow.example.com", now)).toBe(
      "the certificate is PENDING_VALIDATION, not ISSUED",
    );
    expect(certificateProblem(cert({ NotAfter: new Date("2026-11-30T00:00:00Z") }), "mlflow.example.com", now)).toBe(
      "the certificate expired on 2026-11-30",
    );
  });

  it("tells network failures from AWS answers", () => {
    expect(isNetworkError(Object.assign(new Error("x"), { cause: { code: "ENOTFOUND" } }))).toBe(true);
    expect(isNetworkError(Object.assign(new Error("x"), { name: "AccessDenied" }))).toBe(false);
  });
});

describe("formatPlan", () => {
  const base: PlanResult = {
    environment: "staging",
    stack: "mlflow-dev-tracking-staging",
    region: "eu-west-1",
    account: "123456789012",
    stackAction: "update",
    secrets: [{ name: "mlflow-dev/tracking/staging/db-password", action: "keep" }],
    infrastructure: [],
    stateful: [],
    refused: [],
    image: "ghcr.io/mlflow/mlflow:v3.17.2-full",
    imageOrigin: "mlflow-dev's default for MLflow 3.17.2",
    service: { action: "unchanged", currentTaskDefinition: "arn:aws:ecs:eu-west-1:1:task-definition/f:4", changes: [] },
    mlflowVersion: { kind: "none" },
    rollout: toRolloutPlan(basic, { imageUri: "ghcr.io/mlflow/mlflow:v3.17.2-full" }),
    failureDetection: failureDetectionBound(basic),
    upToDate: true,
    cost: estimateMonthlyCost(basic),
    preflight: [
      {
        check: "ecs-service-linked-role",
        status: "ok",
        message: "the ECS service-linked role AWSServiceRoleForECS exists",
      },
      {
        check: "fargate-vcpu-quota",
        status: "warn",
        message: "could not check the Fargate vCPU quota (AccessDeniedException: no)",
      },
    ],
  };

  it("shows the preflight's verdicts under the heading", () => {
    const lines = formatPlan(base).split("\n");
    const at = lines.indexOf("preflight (the account, before anything is created):");
    expect(at).toBe(2);
    expect(lines[at + 1]).toBe("    ecs-service-linked-role: the ECS service-linked role AWSServiceRoleForECS exists");
    expect(lines[at + 2]).toMatch(/^ {2}! fargate-vcpu-quota: could not check/);
  });

  it("shows the monthly cost after the changes, with its total and levers", () => {
    const text = formatPlan(base);
    expect(text).toMatch(/\nmonthly cost \(an estimate in USD: eu-west-1 on-demand list prices, Linux of /);
    expect(text).toMatch(/\n {2}total +\$72\.31 {2}a month\n/);
    expect(text).toContain("network.egress: nat (tasks in the private subnets behind a NAT gateway): adds $");
  });

  it("lists the steps promote runs, in the order it runs them", () => {
    const lines = formatPlan(base).split("\n");
    const from = lines.indexOf("rollout (the steps promote runs, in this order):");
    expect(from).toBeGreaterThan(0);
    expect(lines.slice(from + 1, from + 9).map((l) => l.replace(/:.*/, ""))).toEqual([
      "  1. secrets",
      "  2. infrastructure",
      "  3. image",
      "  4. migrate",
      "  5. register",
      "  6. update-service",
      "  7. wait-steady",
      "  8. smoke-test",
    ]);
    expect(lines[from + 3]).toBe(
      "  3. image: build ghcr.io/mlflow/mlflow:v3.17.2-full and push it to mlflow-dev/tracking/staging/mlflow (the default: built from mlflow-dev's images/mlflow (Dockerfile and hashed lock) for MLflow 3.17.2 on python:3.13-slim@sha256:9662417aace5ae7b8e2609cce472b72a8958e134ba372808abe9cc1a0c0125e6)",
    );
  });

  it("says so when nothing would change", () => {
    expect(formatPlan(base)).toContain("no changes: promote would change nothing");
  });

  it("lists a new revision field by field", () => {
    const text = formatPlan({
      ...base,
      upToDate: false,
      service: {
        ...base.service,
        action: "update",
        changes: [{ path: "containerDefinitions[0].image", before: "a:1", after: "a:2" }],
      },
    });
    expect(text).toContain("~ new revision replacing f:4");
    expect(text).toContain("containerDefinitions[0].image: a:1 -> a:2");
    expect(text).not.toContain("MLflow upgrade");
  });

  it("names an MLflow upgrade and its downtime, and a downgrade promote refuses", () => {
    const upgrade = formatPlan({
      ...base,
      upToDate: false,
      mlflowVersion: { kind: "upgrade", from: "3.16.1", to: "3.17.2" },
    });
    expect(upgrade).toContain(
      "! MLflow upgrade 3.16.1 -> 3.17.2: promote takes an RDS snapshot, scales the service to zero (no server answers until the new revision is healthy), runs the migration, then rolls out",
    );
    const downgrade = formatPlan({
      ...base,
      upToDate: false,
      mlflowVersion: { kind: "downgrade", from: "3.17.2", to: "3.16.1" },
    });
    expect(downgrade).toContain("! MLflow downgrade 3.17.2 -> 3.16.1: promote refuses it");
  });
});
