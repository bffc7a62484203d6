import { artifactAccessStatements } from "@mlflow-dev/spec";
import type { AwsModel } from "../aws-model.ts";
import { LogicalId, secretParameterName, stackName } from "../names.ts";
import { bucketArn, prefixObjectsArn } from "./bucket.ts";
import { ref, sub } from "./intrinsics.ts";
import { type Resources, resource } from "./resource.ts";
import { toTags } from "./tags.ts";

const ECS_TASKS_TRUST = {
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Principal: { Service: "ecs-tasks.amazonaws.com" },
      Action: "sts:AssumeRole",
      Condition: {
        ArnLike: { "aws:SourceArn": sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*") },
        StringEquals: { "aws:SourceAccount": ref("AWS::AccountId") },
      },
    },
  ],
};

export const EXECUTION_ROLE_MANAGED_POLICY =
  "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

/**
 * Two least-privilege roles. The execution role (ECS agent) pulls the image, writes logs and reads
 * exactly the Model's secrets. The task role (MLflow) reads and writes the Model's prefix only.
 */
export function toRoles(model: AwsModel): Resources {
  return {
    [LogicalId.executionRole]: toExecutionRole(model),
    [LogicalId.taskRole]: toTaskRole(model),
  };
}

/** The secret ARNs, from the stack parameters, in the Model's order. */
export function secretArnRefs(model: AwsModel): { Ref: string }[] {
  return model.mlflow.secrets.map((s) => ref(secretParameterName(s.name)));
}

function toExecutionRole(model: AwsModel) {
  return resource("AWS::IAM::Role", {
    Description: `${stackName(model)}: ECS pulls the MLflow image, writes its logs and reads its secrets`,
    AssumeRolePolicyDocument: ECS_TASKS_TRUST,
    ManagedPolicyArns: [sub(EXECUTION_ROLE_MANAGED_POLICY)],
    Policies: [
      {
        PolicyName: "read-mlflow-secrets",
        PolicyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "ReadSecrets",
              Effect: "Allow",
              Action: ["secretsmanager:GetSecretValue"],
              Resource: secretArnRefs(model),
            },
          ],
        },
      },
    ],
    Tags: toTags(model),
  });
}

function toTaskRole(model: AwsModel) {
  const prefix = model.artifacts.prefix;
  return resource("AWS::IAM::Role", {
    Description: `${stackName(model)}: MLflow reads and writes artifacts under s3://${model.artifacts.bucket}/${prefix}/`,
    AssumeRolePolicyDocument: ECS_TASKS_TRUST,
    Policies: [
      {
        PolicyName: "mlflow-artifacts",
        PolicyDocument: {
          Version: "2012-10-17",
          Statement: artifactAccessStatements(prefix, { bucket: bucketArn(), prefixObjects: prefixObjectsArn(model) }),
        },
      },
    ],
    Tags: toTags(model),
  });
}
