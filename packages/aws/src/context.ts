import type { AwsTarget, Model, SecretName } from "@mlflow-dev/spec";
import { logGroupName, secretName } from "./names.ts";

/** Deploy-time facts, passed in by the deploy tool (never looked up while rendering). */
export interface DeployContext {
  imageUri: string;
  secretArns: Partial<Record<SecretName, string>>;
  executionRoleArn: string;
  taskRoleArn: string;
  logGroupName: string;
  databaseHost: string;
  extraAllowedHosts?: string[];
}

export function awsTarget(model: Model): AwsTarget {
  if (model.target.kind !== "aws")
    throw new Error(`environment "${model.environment}" is local; the AWS renderer needs an AWS environment`);
  return model.target;
}

/** Readable placeholders for offline `render`. */
export function placeholderContext(model: Model): DeployContext {
  const t = awsTarget(model);
  const image = model.mlflow.image;
  return {
    imageUri:
      image.kind === "pull"
        ? image.ref
        : `${t.account}.dkr.ecr.${t.region}.amazonaws.com/${model.name}/mlflow:${model.mlflow.version}`,
    secretArns: Object.fromEntries(
      model.mlflow.secrets.map((s) => [
        s.name,
        `arn:aws:secretsmanager:${t.region}:${t.account}:secret:${secretName(model, s.name)}`,
      ]),
    ),
    executionRoleArn: "{{stack:ExecutionRoleArn}}",
    taskRoleArn: "{{stack:TaskRoleArn}}",
    logGroupName: logGroupName(model),
    databaseHost: "{{stack:DatabaseEndpoint}}",
  };
}
