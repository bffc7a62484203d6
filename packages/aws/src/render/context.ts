import type { SecretName, SecretRef } from "@mlflow-dev/spec";
import type { AwsModel } from "./aws-model.ts";
import { dnsSuffixOf, ecrRepositoryName, logGroupName, OutputName, partitionOf, secretName } from "./names.ts";

/**
 * Deploy-time facts the renderers need but cannot derive from the Model. Resolved by the deploy
 * tool (stack outputs, the pushed image, the created secrets) and passed in, never looked up here.
 */
export interface DeployContext {
  /** The MLflow image to run, pinned (a digest or an immutable tag). */
  imageUri: string;
  /** Secrets Manager ARN of each secret the Model references (others may be absent). */
  secretArns: Partial<Record<SecretName, string>>;
  /** Stack outputs the task definition needs. */
  executionRoleArn: string;
  taskRoleArn: string;
  logGroupName: string;
  databaseHost: string;
  /** Host headers to accept besides the spec's, the domain and the ALB's name. */
  extraAllowedHosts?: string[];
}

/** A value known only after the stack is deployed, written so a reader sees where it comes from. */
export function stackPlaceholder(output: string): string {
  return `{{stack:${output}}}`;
}

/** The ARN a secret would have, without the random suffix Secrets Manager appends to real ARNs. */
export function placeholderSecretArn(model: AwsModel, secret: SecretName): string {
  const t = model.target;
  return `arn:${partitionOf(t.region)}:secretsmanager:${t.region}:${t.account}:secret:${secretName(model, secret)}`;
}

/** The ECR repository URI of a built image (without a tag). */
export function ecrRepositoryUri(model: AwsModel): string {
  const t = model.target;
  return `${t.account}.dkr.ecr.${t.region}.${dnsSuffixOf(t.region)}/${ecrRepositoryName(model)}`;
}

/** Readable stand-ins for every deploy-time fact, for an offline `render`. */
export function placeholderContext(model: AwsModel): DeployContext {
  const image = model.mlflow.image;
  return {
    imageUri: image.kind === "pull" ? image.ref : `${ecrRepositoryUri(model)}:{{image:tag}}`,
    secretArns: Object.fromEntries(model.mlflow.secrets.map((s) => [s.name, placeholderSecretArn(model, s.name)])),
    executionRoleArn: stackPlaceholder(OutputName.executionRoleArn),
    taskRoleArn: stackPlaceholder(OutputName.taskRoleArn),
    logGroupName: logGroupName(model),
    databaseHost: stackPlaceholder(OutputName.databaseEndpoint),
  };
}

export interface StackFacts {
  /** The stack's outputs, OutputKey -> OutputValue. */
  outputs: Record<string, string>;
  imageUri: string;
  secretArns: Partial<Record<SecretName, string>>;
  extraAllowedHosts?: string[];
}

/** Builds the DeployContext from a deployed stack's outputs; fails naming every missing output. */
export function deployContextFromStack(facts: StackFacts): DeployContext {
  const wanted = [
    OutputName.executionRoleArn,
    OutputName.taskRoleArn,
    OutputName.logGroupName,
    OutputName.databaseEndpoint,
  ] as const;
  const missing = wanted.filter((key) => !facts.outputs[key]);
  if (missing.length > 0)
    throw new Error(
      `the stack has no output ${missing.join(", ")}: it was not created by this version of mlflow-dev or its deployment did not finish. Deploy the infrastructure step again`,
    );
  const out = (key: string) => facts.outputs[key] ?? "";
  return {
    imageUri: facts.imageUri,
    secretArns: { ...facts.secretArns },
    executionRoleArn: out(OutputName.executionRoleArn),
    taskRoleArn: out(OutputName.taskRoleArn),
    logGroupName: out(OutputName.logGroupName),
    databaseHost: out(OutputName.databaseEndpoint),
    ...(facts.extraAllowedHosts ? { extraAllowedHosts: [...facts.extraAllowedHosts] } : {}),
  };
}

/** The ARN of a secret the Model references; fails when the deploy context lacks it. */
export function secretArnOf(model: AwsModel, ctx: DeployContext, ref: SecretRef): string {
  const arn = ctx.secretArns[ref.name];
  if (!arn)
    throw new Error(
      `the deploy context has no ARN for secret "${ref.name}" (${secretName(model, ref.name)}): create the secret before rendering the task definition, then pass its ARN in secretArns`,
    );
  return arn;
}
