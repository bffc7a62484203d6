import type { Model } from "@mlflow-dev/spec";
import { LOGICAL, PARAM, resourcePrefix } from "../names.ts";
import { tagList } from "./tags.ts";
import { type Resources, ref } from "./types.ts";

const trust = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole" }],
};

/** Execution role: pull, log, read exactly the spec's secrets. Task role: the bucket prefix only. */
export function toIam(model: Model): Resources {
  const p = resourcePrefix(model);
  const bucketArn = `arn:\${AWS::Partition}:s3:::${model.artifacts.bucket}`;
  return {
    [LOGICAL.executionRole]: {
      Type: "AWS::IAM::Role",
      Properties: {
        Description: `${p}: ECS pulls the image, writes logs and reads the MLflow secrets`,
        AssumeRolePolicyDocument: trust,
        ManagedPolicyArns: [
          { "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy" },
        ],
        Policies: [
          {
            PolicyName: "read-mlflow-secrets",
            PolicyDocument: {
              Version: "2012-10-17",
              Statement: [
                {
                  Effect: "Allow",
                  Action: ["secretsmanager:GetSecretValue"],
                  Resource: model.mlflow.secrets.map((s) => ref(PARAM.secretArn(s.name))),
                },
              ],
            },
          },
        ],
        Tags: tagList(model, `${p}-execution`),
      },
    },
    [LOGICAL.taskRole]: {
      Type: "AWS::IAM::Role",
      Properties: {
        Description: `${p}: the MLflow server reads and writes its artifact prefix`,
        AssumeRolePolicyDocument: trust,
        Policies: [
          {
            PolicyName: "mlflow-artifacts",
            PolicyDocument: {
              Version: "2012-10-17",
              Statement: [
                {
                  Sid: "ListArtifactPrefix",
                  Effect: "Allow",
                  Action: ["s3:ListBucket"],
                  Resource: { "Fn::Sub": bucketArn },
                  Condition: { StringLike: { "s3:prefix": [model.artifacts.prefix, `${model.artifacts.prefix}/*`] } },
                },
                {
                  Sid: "ReadWriteArtifacts",
                  Effect: "Allow",
                  Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                  Resource: { "Fn::Sub": `${bucketArn}/${model.artifacts.prefix}/*` },
                },
              ],
            },
          },
        ],
        Tags: tagList(model, `${p}-task`),
      },
    },
  };
}
