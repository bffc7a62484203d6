import type { SecretName } from "@mlflow-dev/spec";
import type { AwsModel } from "./aws-model.ts";

/**
 * The one place that names things on AWS: CloudFormation logical ids, stack parameters and
 * outputs, and the physical names of the resources mlflow-dev creates or looks for.
 */

/** `mlflow-dev-<name>-<env>`: the stack, and the prefix of every physical name below. */
export function stackName(model: AwsModel): string {
  return `mlflow-dev-${model.name}-${model.environment}`;
}

/** Secrets Manager secret name: `mlflow-dev/<name>/<env>/<secret-name>`. */
export function secretName(model: AwsModel, secret: SecretName): string {
  return `mlflow-dev/${model.name}/${model.environment}/${secret}`;
}

/** CloudWatch log group: `/mlflow-dev/<name>/<env>`. */
export function logGroupName(model: AwsModel): string {
  return `/mlflow-dev/${model.name}/${model.environment}`;
}

export function clusterName(model: AwsModel): string {
  return stackName(model);
}

export function serviceName(model: AwsModel): string {
  return `${model.name}-mlflow`;
}

/** Task definition family of the MLflow server. */
export function taskFamily(model: AwsModel): string {
  return `${stackName(model)}-mlflow`;
}

/** Task definition family of the one-off database migration. */
export function migrationTaskFamily(model: AwsModel): string {
  return `${taskFamily(model)}-migrate`;
}

/**
 * ECR repository (only when the image is built): `mlflow-dev/<name>/<env>/mlflow`. Repository
 * names are per account and region, so each environment gets its own: two environments in one
 * account and region must not share (or fight over) a repository with immutable tags.
 */
export function ecrRepositoryName(model: AwsModel): string {
  return `mlflow-dev/${model.name}/${model.environment}/mlflow`;
}

/** SSM parameter that holds the deploy lock of the environment (see deploy/engine/lock.ts). */
export function lockParameterName(model: AwsModel): string {
  return `/mlflow-dev/${model.name}/${model.environment}/deploy-lock`;
}

/** The one container in both task definitions. */
export const CONTAINER_NAME = "mlflow";

/** awslogs stream prefixes: `<prefix>/<container>/<task id>`. */
export const LOG_STREAM_PREFIX = { server: "server", migrate: "migrate" } as const;

/** What `logs --env` calls each stream prefix: the local stack's names for the same containers. */
export const AWS_LOG_SERVICES = { mlflow: LOG_STREAM_PREFIX.server, migrate: LOG_STREAM_PREFIX.migrate } as const;
export type AwsLogService = keyof typeof AWS_LOG_SERVICES;

/** The AWS partition of a region (arn:<partition>:...). */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** The DNS suffix of a region's service endpoints. */
export function dnsSuffixOf(region: string): string {
  return region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
}

/** CloudFormation logical ids. Renaming one replaces the resource: treat them as stable. */
export const LogicalId = {
  vpc: "Vpc",
  internetGateway: "InternetGateway",
  internetGatewayAttachment: "InternetGatewayAttachment",
  publicSubnet: (i: number) => `PublicSubnet${i + 1}`,
  privateSubnet: (i: number) => `PrivateSubnet${i + 1}`,
  publicRouteTable: "PublicRouteTable",
  publicDefaultRoute: "PublicDefaultRoute",
  publicSubnetRouteTableAssociation: (i: number) => `PublicSubnet${i + 1}RouteTableAssociation`,
  natEip: "NatGatewayEip",
  natGateway: "NatGateway",
  privateRouteTable: "PrivateRouteTable",
  privateDefaultRoute: "PrivateDefaultRoute",
  privateSubnetRouteTableAssociation: (i: number) => `PrivateSubnet${i + 1}RouteTableAssociation`,
  s3Endpoint: "S3GatewayEndpoint",
  loadBalancerSecurityGroup: "LoadBalancerSecurityGroup",
  taskSecurityGroup: "TaskSecurityGroup",
  databaseSecurityGroup: "DatabaseSecurityGroup",
  loadBalancer: "LoadBalancer",
  targetGroup: "TargetGroup",
  httpListener: "HttpListener",
  httpsListener: "HttpsListener",
  databaseSubnetGroup: "DatabaseSubnetGroup",
  databaseParameterGroup: "DatabaseParameterGroup",
  database: "Database",
  artifactBucket: "ArtifactBucket",
  artifactBucketPolicy: "ArtifactBucketPolicy",
  executionRole: "ExecutionRole",
  taskRole: "TaskRole",
  logGroup: "LogGroup",
  cluster: "Cluster",
  service: "Service",
  scalableTarget: "ScalableTarget",
  cpuScalingPolicy: "CpuScalingPolicy",
  ecrRepository: "EcrRepository",
  gcScheduleRole: "GcScheduleRole",
  gcSchedule: "GcSchedule",
} as const;

/** Stack parameters: deploy-time facts the template cannot know. */
export const ParameterName = {
  taskDefinitionArn: "TaskDefinitionArn",
  /** The RDS snapshot the database was restored from (`mlflow-dev restore`); empty for a new database. */
  databaseSnapshot: "DatabaseSnapshot",
} as const;

/** One parameter per secret: its ARN (with the random suffix Secrets Manager adds). */
const SECRET_PARAMETERS: Record<SecretName, string> = {
  "db-password": "DbPasswordSecretArn",
  "auth-admin-password": "AuthAdminPasswordSecretArn",
  "flask-secret-key": "FlaskSecretKeySecretArn",
  "kek-passphrase": "KekPassphraseSecretArn",
};

export function secretParameterName(secret: SecretName): string {
  return SECRET_PARAMETERS[secret];
}

export const ConditionName = {
  hasTaskDefinition: "HasTaskDefinition",
  databaseFromSnapshot: "DatabaseFromSnapshot",
} as const;

/** Stack outputs; the deploy tool reads them to build the DeployContext. */
export const OutputName = {
  clusterName: "ClusterName",
  serviceName: "ServiceName",
  loadBalancerDns: "LoadBalancerDns",
  serviceUrl: "ServiceUrl",
  databaseEndpoint: "DatabaseEndpoint",
  executionRoleArn: "ExecutionRoleArn",
  taskRoleArn: "TaskRoleArn",
  logGroupName: "LogGroupName",
  bucketName: "BucketName",
  taskSecurityGroupId: "TaskSecurityGroupId",
  taskSubnetIds: "TaskSubnetIds",
  ecrRepositoryUri: "EcrRepositoryUri",
  gcScheduleName: "GcScheduleName",
} as const;
