import { readFileSync } from "node:fs";
import type { AwsTarget, Model } from "@mlflow-dev/spec";
import { parseSpecOrThrow, resolve } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import {
  AwsCompatibilityError,
  awsCompatibilityCheck,
  checkCompatibility,
  resolveAwsModel,
  SPEC_TASK_DEFINITION_BUDGET_BYTES,
  toAwsModel,
  toTemplate,
} from "../src/index.ts";
import { exampleModel } from "./helpers.ts";

/** Settings the Model can express but Fargate (or the stack) cannot honour: each names the setting and why. */

type Change = (model: Model, target: AwsTarget) => void;

function variant(change: Change): Model {
  const model = structuredClone(exampleModel("basic", "staging"));
  if (model.target.kind !== "aws") throw new Error("basic staging is an AWS environment");
  change(model, model.target);
  return model;
}

const RULES: { name: string; change: Change; setting: string; message: RegExp }[] = [
  {
    name: "a pool set in mlflow.env that the database's connections cannot hold at the peak",
    change: (m, t) => {
      m.mlflow.environment.MLFLOW_SQLALCHEMYSTORE_POOL_SIZE = "20";
      m.mlflow.environment.MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW = "10";
      t.autoscaling = { min: 1, max: 3, targetCpu: 60 };
    },
    setting: "environments.staging.database.instanceClass",
    message:
      /db\.t4g\.micro allows about 84 PostgreSQL connections .* may open 720: 6 tasks \(3 tasks at most \(autoscaling\.max\), twice that during a rollout\) x 2 workers x 2 pools per worker \(the tracking and model registry stores\) x 30 connections per pool\. .* at most 3 connections per pool/,
  },
  {
    name: "a database too small for the smallest pool (1 + 1)",
    change: (m, t) => {
      m.mlflow.environment.MLFLOW_SQLALCHEMYSTORE_POOL_SIZE = "1";
      m.mlflow.environment.MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW = "1";
      m.mlflow.workers = 8;
      m.mlflow.auth = "basic";
      t.desiredCount = 10;
    },
    setting: "environments.staging.database.instanceClass",
    message:
      /may open 960: 20 tasks .* x 8 workers x 3 pools per worker \(the tracking and model registry stores, the basic-auth store\) x 2 connections per pool\. .*fewer workers or tasks;$/,
  },
  {
    name: "an overflow of 0 in mlflow.env, which MLflow reads as its default (10)",
    change: (m) => {
      m.mlflow.environment.MLFLOW_SQLALCHEMYSTORE_POOL_SIZE = "5";
      m.mlflow.environment.MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW = "0";
    },
    setting: "environments.staging.database.instanceClass",
    message:
      /may open 120: 2 tasks .* x 2 workers x 2 pools per worker \(the tracking and model registry stores\) x 15 connections per pool\. .* at most 9 connections per pool/,
  },
  {
    name: "a CPU value Fargate does not offer",
    change: (m) => {
      m.resources.cpu = 300;
    },
    setting: "environments.staging.cpu",
    message: /Fargate does not support 300 CPU units. Use one of 256, 512/,
  },
  {
    name: "memory that does not fit the CPU",
    change: (m) => {
      m.resources.memory = 512;
    },
    setting: "environments.staging.memory",
    message: /Fargate does not support 512 MiB of memory with 512 CPU units/,
  },
  {
    name: "a health check interval ECS refuses",
    change: (m) => {
      m.mlflow.healthCheck.intervalSeconds = 400;
    },
    setting: "mlflow.healthCheck.intervalSeconds",
    message: /ECS container health checks accept 5 to 300, got 400/,
  },
  {
    name: "a health check start period ECS refuses",
    change: (m) => {
      m.mlflow.healthCheck.startPeriodSeconds = 600;
    },
    setting: "mlflow.healthCheck.startPeriodSeconds",
    message: /accept 0 to 300, got 600/,
  },
  {
    name: "a VPC too small for four subnets",
    change: (_m, t) => {
      t.network = { mode: "new", cidr: "10.0.0.0/27", egress: "nat" };
    },
    setting: "environments.staging.network.cidr",
    message: /\/27 is too small.*Use \/26 or larger/,
  },
  {
    name: "a VPC block with host bits set",
    change: (_m, t) => {
      t.network = { mode: "new", cidr: "10.40.1.0/16", egress: "nat" };
    },
    setting: "environments.staging.network.cidr",
    message: /has host bits set.*Use 10\.40\.0\.0\/16/,
  },
  {
    name: "an existing VPC with one private subnet",
    change: (_m, t) => {
      t.network = {
        mode: "existing",
        vpcId: "vpc-0123abcd",
        publicSubnetIds: ["subnet-0aaaaaaa", "subnet-0bbbbbbb"],
        privateSubnetIds: ["subnet-0ccccccc"],
        egress: "nat",
      };
    },
    setting: "environments.staging.network.privateSubnetIds",
    message: /at least 2 subnets in different availability zones/,
  },
  {
    name: "a subnet listed as public and private",
    change: (_m, t) => {
      t.network = {
        mode: "existing",
        vpcId: "vpc-0123abcd",
        publicSubnetIds: ["subnet-0aaaaaaa", "subnet-0bbbbbbb"],
        privateSubnetIds: ["subnet-0aaaaaaa", "subnet-0ccccccc"],
        egress: "nat",
      };
    },
    setting: "environments.staging.network.privateSubnetIds",
    message: /subnet-0aaaaaaa is also listed as public/,
  },
  {
    name: "a subnet listed twice",
    change: (_m, t) => {
      t.network = {
        mode: "existing",
        vpcId: "vpc-0123abcd",
        publicSubnetIds: ["subnet-0aaaaaaa", "subnet-0aaaaaaa"],
        privateSubnetIds: ["subnet-0bbbbbbb", "subnet-0ccccccc"],
        egress: "nat",
      };
    },
    setting: "environments.staging.network.publicSubnetIds",
    message: /lists subnet-0aaaaaaa more than once/,
  },
  {
    name: "a variable larger than the task definition allows, by its length",
    change: (m) => {
      m.mlflow.environment.BIG = "x".repeat(SPEC_TASK_DEFINITION_BUDGET_BYTES);
    },
    setting: "environments.staging.mlflow.env.BIG",
    message:
      /^is 32768 characters long \(32793 bytes in the task definition\): ECS refuses a task definition larger than 64 KiB/,
  },
  {
    name: "variables, flags and hosts larger than the task definition allows together",
    change: (m) => {
      for (const i of [1, 2, 3]) m.mlflow.environment[`PART_${i}`] = "y".repeat(SPEC_TASK_DEFINITION_BUDGET_BYTES / 3);
      m.mlflow.allowedHosts.push("z".repeat(100));
    },
    setting: "environments.staging.mlflow",
    message: /^the server's variables, flags and allowed hosts take \d+ bytes of the task definition together/,
  },
  {
    name: "a certificate from another region",
    change: (_m, t) => {
      t.domain = "mlflow.example.com";
      t.certificateArn = "arn:aws:acm:us-east-1:123456789012:certificate/abc-123";
    },
    setting: "environments.staging.certificateArn",
    message: /is in us-east-1 but the environment is in eu-west-1/,
  },
  {
    name: "a certificate without a domain",
    change: (_m, t) => {
      t.certificateArn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123";
    },
    setting: "environments.staging.domain",
    message: /is required when certificateArn is set/,
  },
  {
    name: "a desired count outside the autoscaling range",
    change: (_m, t) => {
      t.autoscaling = { min: 1, max: 3, targetCpu: 60 };
      t.desiredCount = 5;
    },
    setting: "environments.staging.desiredCount",
    message: /\(5\) must lie between autoscaling.min \(1\) and autoscaling.max \(3\)/,
  },
  {
    name: "a tag with the reserved aws: prefix",
    change: (_m, t) => {
      t.tags = { "aws:owner": "me" };
    },
    setting: "environments.staging.tags.aws:owner",
    message: /aws: prefix, which AWS reserves/,
  },
  {
    name: "a tag mlflow-dev sets itself",
    change: (_m, t) => {
      t.tags = { "mlflow-dev:service": "other" };
    },
    setting: "environments.staging.tags.mlflow-dev:service",
    message: /is set by mlflow-dev on every resource/,
  },
  {
    name: "more tags than AWS allows",
    change: (_m, t) => {
      t.tags = Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`tag${i}`, "x"]));
    },
    setting: "environments.staging.tags",
    message: /has 48 tags: AWS allows 50 per resource/,
  },
  {
    name: "an environment variable the AWS renderer sets",
    change: (m) => {
      m.mlflow.environment.MLFLOW_DB_HOST = "db.example.com";
    },
    setting: "mlflow.environment.MLFLOW_DB_HOST",
    message: /is set by the AWS renderer/,
  },
  {
    name: "an artifact the server would hold silent for longer than the longest ALB idle timeout",
    change: (m) => {
      m.artifacts.largestGiB = 100;
      m.mlflow.workers = 1;
    },
    setting: "artifacts.largestGiB",
    message: /takes about 4156 s at 25 MiB\/s.*more than 4000 s.*at most 96, or let clients go to the bucket/,
  },
  {
    name: "an artifact whose spool does not fit Fargate's largest ephemeral storage",
    change: (m) => {
      m.artifacts.largestGiB = 50;
    },
    setting: "artifacts.largestGiB",
    message:
      /in staging, each of the server's 2 workers may hold an upload and a download of it on the task's disk \(200 GiB, plus 4 GiB.*at most 200 GiB.*at most 49, run fewer workers/,
  },
  {
    name: "a variable that is also a secret",
    change: (m) => {
      m.mlflow.environment.MLFLOW_DB_PASSWORD = "x";
    },
    setting: "mlflow.environment.MLFLOW_DB_PASSWORD",
    message: /is also the secret db-password/,
  },
  {
    name: "a scheduled gc whose command is larger than the task overrides ECS takes",
    change: (m) => {
      m.gc.schedule = "rate(1 day)";
      m.mlflow.server.setup.push(`export MLFLOW_DEV_PADDING="${"x".repeat(2000)}"`);
    },
    setting: "gc.schedule",
    message:
      /the scheduled gc's command .* takes \d+ bytes, but ECS refuses task overrides larger than 8192 bytes, .* Remove gc.schedule and run `mlflow-dev gc --env staging` on demand/,
  },
];

describe("compatibility", () => {
  it("accepts the examples", () => {
    expect(checkCompatibility(exampleModel("basic", "staging"))).toEqual([]);
    expect(checkCompatibility(exampleModel("existing-vpc", "prod"))).toEqual([]);
  });

  it.each(RULES)("refuses $name, naming $setting", ({ change, setting, message }) => {
    const problems = checkCompatibility(variant(change));
    expect(problems).toContainEqual({ setting, message: expect.stringMatching(message) });
  });

  it("reports every problem at once, and toAwsModel (the one way into the renderers) refuses the Model", () => {
    const model = variant((m) => {
      m.resources.cpu = 300;
      m.mlflow.healthCheck.retries = 0;
    });
    expect(checkCompatibility(model).map((p) => p.setting)).toEqual([
      "environments.staging.cpu",
      "mlflow.healthCheck.retries",
    ]);
    expect(() => toAwsModel(model)).toThrow(AwsCompatibilityError);
    expect(() => toAwsModel(model)).toThrow(
      /cannot be deployed to ECS Fargate \(2 problems\):\n {2}environments.staging.cpu: Fargate does not support 300/,
    );
  });

  it("the renderers take only a checked AwsModel: an unchecked Model does not type-check", () => {
    const unchecked: Model = structuredClone(exampleModel("basic", "staging"));
    // @ts-expect-error a resolved Model must go through toAwsModel first
    expect(() => toTemplate(unchecked)).not.toThrow();
    expect(toTemplate(toAwsModel(unchecked))).toEqual(toTemplate(exampleModel("basic", "staging")));
  });

  it("validation's check brands the spec, and resolveAwsModel gives the checked Model without checking again", () => {
    const text = readFileSync(new URL("../../../examples/basic/mlflow-dev.yaml", import.meta.url), "utf8");
    const spec = parseSpecOrThrow(text);
    const result = awsCompatibilityCheck(spec);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(resolveAwsModel(result.spec, "staging")).toEqual(toAwsModel(resolve(spec, "staging")));
    // @ts-expect-error an unchecked spec must pass the check first
    expect(resolveAwsModel(spec, "staging").environment).toBe("staging");
    expect(() => resolveAwsModel(result.spec, "local")).toThrow(/internal error/);
    const refused = awsCompatibilityCheck(parseSpecOrThrow(text.replace("cidr: 10.40.0.0/16", "cidr: 10.40.1.0/16")));
    expect(refused).toEqual({
      ok: false,
      problems: [{ setting: "environments.staging.network.cidr", message: expect.stringMatching(/has host bits set/) }],
    });
  });

  it("refuses the local environment with the reason and the fix", () => {
    expect(() => exampleModel("basic", "local")).toThrow(
      /environment "local" is the local Docker Compose stack: the AWS renderer needs an AWS environment/,
    );
  });
});
