import { describe, expect, it } from "vitest";
import {
  type DeployContext,
  deployContextFromStack,
  placeholderContext,
  summarizeCommand,
  toAllowedHosts,
  toMigrationRunTask,
  toMigrationTaskDefinition,
  toRolloutPlan,
  toTaskDefinition,
  toTemplateYaml,
} from "../src/index.ts";
import { deepFreeze, exampleModel, modelFromYaml, VARIANT_SPECS } from "./helpers.ts";

const basic = exampleModel("basic", "staging");
const byo = exampleModel("existing-vpc", "prod");

function context(overrides: Partial<DeployContext> = {}): DeployContext {
  return { ...placeholderContext(basic), ...overrides };
}

function envOf(td: ReturnType<typeof toTaskDefinition>): Record<string, string> {
  return Object.fromEntries(td.containerDefinitions[0].environment.map((e) => [e.name, e.value]));
}

describe("toTaskDefinition", () => {
  it("adds the AWS-side settings from the deploy context, sorted by name", () => {
    const td = toTaskDefinition(basic, context({ databaseHost: "db.abc.eu-west-1.rds.amazonaws.com" }));
    const names = td.containerDefinitions[0].environment.map((e) => e.name);
    expect(names).toEqual([...names].sort());
    expect(envOf(td)).toMatchObject({
      MLFLOW_DB_HOST: "db.abc.eu-west-1.rds.amazonaws.com",
      AWS_DEFAULT_REGION: "eu-west-1",
      MLFLOW_SERVER_ALLOWED_HOSTS: "*.elb.amazonaws.com",
    });
  });

  it("accepts the spec's hosts, the domain, the ALB and the extra hosts, once each", () => {
    const ctx = { ...placeholderContext(byo), extraAllowedHosts: ["mlflow.example.com", "10.0.0.5:5000"] };
    expect(toAllowedHosts(byo, ctx)).toEqual([
      "mlflow.internal.example.com",
      "mlflow.example.com",
      "*.elb.amazonaws.com",
      "10.0.0.5:5000",
    ]);
  });

  it("maps each secret to its ARN, sorted by variable name", () => {
    const td = toTaskDefinition(byo, placeholderContext(byo));
    expect(td.containerDefinitions[0].secrets).toEqual([
      {
        name: "MLFLOW_AUTH_ADMIN_PASSWORD",
        valueFrom:
          "arn:aws:secretsmanager:eu-central-1:210987654321:secret:mlflow-dev/registry/prod/auth-admin-password",
      },
      {
        name: "MLFLOW_CRYPTO_KEK_PASSPHRASE",
        valueFrom: "arn:aws:secretsmanager:eu-central-1:210987654321:secret:mlflow-dev/registry/prod/kek-passphrase",
      },
      {
        name: "MLFLOW_DB_PASSWORD",
        valueFrom: "arn:aws:secretsmanager:eu-central-1:210987654321:secret:mlflow-dev/registry/prod/db-password",
      },
      {
        name: "MLFLOW_FLASK_SERVER_SECRET_KEY",
        valueFrom: "arn:aws:secretsmanager:eu-central-1:210987654321:secret:mlflow-dev/registry/prod/flask-secret-key",
      },
    ]);
  });

  it("fails naming the secret when the deploy context lacks its ARN", () => {
    const ctx = { ...placeholderContext(byo), secretArns: { "db-password": "arn:aws:secretsmanager:x" } };
    expect(() => toTaskDefinition(byo, ctx)).toThrow(
      /no ARN for secret "kek-passphrase" \(mlflow-dev\/registry\/prod\/kek-passphrase\): create the secret/,
    );
  });

  it("runs a built image from the stack's ECR repository", () => {
    expect(placeholderContext(byo).imageUri).toBe(
      "210987654321.dkr.ecr.eu-central-1.amazonaws.com/mlflow-dev/registry/prod/mlflow:{{image:tag}}",
    );
    // The default is a build too: the shipped images/mlflow, pushed to the stack's repository.
    expect(placeholderContext(basic).imageUri).toBe(
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlflow-dev/tracking/staging/mlflow:{{image:tag}}",
    );
  });

  it("renders the migration as its own family: same image, env, secrets and roles; no port, no health check", () => {
    const ctx = context();
    const server = toTaskDefinition(basic, ctx);
    const migrate = toMigrationTaskDefinition(basic, ctx);
    expect(migrate.family).toBe(`${server.family}-migrate`);
    const [s, m] = [server.containerDefinitions[0], migrate.containerDefinitions[0]];
    expect(m.image).toBe(s.image);
    expect(m.environment).toEqual(s.environment);
    expect(m.secrets).toEqual(s.secrets);
    expect([migrate.executionRoleArn, migrate.taskRoleArn]).toEqual([server.executionRoleArn, server.taskRoleArn]);
    expect(m.logConfiguration.options["awslogs-stream-prefix"]).toBe("migrate");
  });

  it("runs the migration once where the service runs: private subnets without a public IP", () => {
    expect(
      toMigrationRunTask(byo, {
        taskDefinitionArn: "arn:aws:ecs:eu-central-1:210987654321:task-definition/x-migrate:3",
        subnetIds: ["subnet-1", "subnet-2"],
        securityGroupId: "sg-1",
      }).networkConfiguration.awsvpcConfiguration.assignPublicIp,
    ).toBe("DISABLED");
  });

  it("runs the migration once where the service runs: with egress: public, with a public IP", () => {
    expect(
      toMigrationRunTask(basic, {
        taskDefinitionArn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/x-migrate:3",
        subnetIds: ["subnet-1", "subnet-2"],
        securityGroupId: "sg-1",
      }),
    ).toMatchObject({
      cluster: "mlflow-dev-tracking-staging",
      launchType: "FARGATE",
      count: 1,
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ["subnet-1", "subnet-2"],
          securityGroups: ["sg-1"],
          assignPublicIp: "ENABLED",
        },
      },
    });
  });

  it("is pure: a frozen Model renders the same bytes twice", () => {
    const frozen = deepFreeze(structuredClone(byo));
    const ctx = deepFreeze(placeholderContext(frozen));
    expect(JSON.stringify(toTaskDefinition(frozen, ctx))).toBe(JSON.stringify(toTaskDefinition(byo, ctx)));
    expect(toTemplateYaml(frozen)).toBe(toTemplateYaml(byo));
  });
});

describe("deployContextFromStack", () => {
  it("reads the stack outputs the task definition needs", () => {
    const ctx = deployContextFromStack({
      outputs: {
        ExecutionRoleArn: "arn:aws:iam::123456789012:role/exec",
        TaskRoleArn: "arn:aws:iam::123456789012:role/task",
        LogGroupName: "/mlflow-dev/tracking/staging",
        DatabaseEndpoint: "db.example",
      },
      imageUri: "ghcr.io/mlflow/mlflow:v3.17.2-full",
      secretArns: {
        "db-password": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf",
        "kek-passphrase": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:y-AbCdEf",
      },
    });
    expect(envOf(toTaskDefinition(basic, ctx)).MLFLOW_DB_HOST).toBe("db.example");
  });

  it("names every missing output", () => {
    expect(() => deployContextFromStack({ outputs: { TaskRoleArn: "x" }, imageUri: "i", secretArns: {} })).toThrow(
      /no output ExecutionRoleArn, LogGroupName, DatabaseEndpoint/,
    );
  });
});

describe("toRolloutPlan", () => {
  it("creates the secrets, then the stack, pushes the image, migrates, registers, updates, waits and smoke-tests", () => {
    const plan = toRolloutPlan(byo, placeholderContext(byo));
    expect(plan.map((s) => s.step)).toEqual([
      "secrets",
      "infrastructure",
      "image",
      "migrate",
      "register",
      "update-service",
      "wait-steady",
      "smoke-test",
    ]);
    expect(plan[0]).toEqual({
      step: "secrets",
      names: [
        "mlflow-dev/registry/prod/db-password",
        "mlflow-dev/registry/prod/kek-passphrase",
        "mlflow-dev/registry/prod/auth-admin-password",
        "mlflow-dev/registry/prod/flask-secret-key",
      ],
    });
    expect(plan[2]).toEqual({
      step: "image",
      source: "build",
      image: "210987654321.dkr.ecr.eu-central-1.amazonaws.com/mlflow-dev/registry/prod/mlflow:{{image:tag}}",
      origin: "built from the spec's images.build (../../images/mlflow)",
      repository: "mlflow-dev/registry/prod/mlflow",
    });
    expect(plan[3]).toMatchObject({ taskDefinitionFamily: "mlflow-dev-registry-prod-mlflow-migrate" });
    expect(plan[7]).toEqual({ step: "smoke-test", path: "/health", urlOutput: "ServiceUrl" });
  });

  it("summarizes a script by its last line", () => {
    expect(summarizeCommand(["/bin/sh", "-c"], ["export A=1\nexec mlflow db upgrade"])).toBe(
      "/bin/sh -c … exec mlflow db upgrade",
    );
    expect(summarizeCommand(["sh"], ["x".repeat(200)])).toHaveLength(100);
  });
});

describe("template variants", () => {
  const lab = modelFromYaml(VARIANT_SPECS["domain-http-build"]!.yaml, "qa");

  it("splits a small VPC into four equal subnets", () => {
    const yaml = toTemplateYaml(lab);
    for (const cidr of ["172.20.0.0/26", "172.20.0.64/26", "172.20.0.128/26", "172.20.0.192/26"])
      expect(yaml).toContain(`CidrBlock: ${cidr}`);
  });

  it("serves plain HTTP on a domain without a certificate, and says so in the URL", () => {
    const yaml = toTemplateYaml(lab);
    expect(yaml).not.toContain("HttpsListener");
    expect(yaml).toContain("Value: http://mlflow.lab.example.org");
  });
});
