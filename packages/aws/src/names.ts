import type { Model, SecretName } from "@mlflow-dev/spec";

/** The one place that names CloudFormation logical ids and physical AWS names. */
export const LOGICAL = {
  vpc: "Vpc",
  internetGateway: "InternetGateway",
  gatewayAttachment: "VpcGatewayAttachment",
  publicSubnet: (i: number) => `PublicSubnet${i + 1}`,
  privateSubnet: (i: number) => `PrivateSubnet${i + 1}`,
  publicRouteTable: "PublicRouteTable",
  publicRoute: "PublicDefaultRoute",
  publicAssoc: (i: number) => `PublicSubnet${i + 1}RouteTableAssociation`,
  natEip: "NatGatewayEip",
  natGateway: "NatGateway",
  privateRouteTable: "PrivateRouteTable",
  privateRoute: "PrivateDefaultRoute",
  privateAssoc: (i: number) => `PrivateSubnet${i + 1}RouteTableAssociation`,
  s3Endpoint: "S3GatewayEndpoint",
  albSg: "LoadBalancerSecurityGroup",
  taskSg: "TaskSecurityGroup",
  dbSg: "DatabaseSecurityGroup",
  taskIngress: "TaskIngressFromLoadBalancer",
  dbIngress: "DatabaseIngressFromTasks",
  alb: "LoadBalancer",
  targetGroup: "TargetGroup",
  httpListener: "HttpListener",
  httpsListener: "HttpsListener",
  dbSubnetGroup: "DatabaseSubnetGroup",
  db: "Database",
  bucket: "ArtifactBucket",
  bucketPolicy: "ArtifactBucketPolicy",
  executionRole: "ExecutionRole",
  taskRole: "TaskRole",
  logGroup: "LogGroup",
  cluster: "Cluster",
  service: "Service",
  scalableTarget: "ScalableTarget",
  scalingPolicy: "CpuScalingPolicy",
  ecr: "ImageRepository",
} as const;

export const PARAM = {
  taskDefinitionArn: "TaskDefinitionArn",
  secretArn: (name: SecretName) => `${pascal(name)}SecretArn`,
} as const;

function pascal(s: string): string {
  return s.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

export function stackName(model: Model): string {
  return `mlflow-dev-${model.name}-${model.environment}`;
}
export function resourcePrefix(model: Model): string {
  return `${model.name}-${model.environment}`;
}
export function secretName(model: Model, name: SecretName): string {
  return `mlflow-dev/${model.name}/${model.environment}/${name}`;
}
export function logGroupName(model: Model): string {
  return `/mlflow-dev/${model.name}/${model.environment}`;
}
export function clusterName(model: Model): string {
  return resourcePrefix(model);
}
export function serviceName(model: Model): string {
  return `${resourcePrefix(model)}-mlflow`;
}
export function taskFamily(model: Model): string {
  return `${resourcePrefix(model)}-mlflow`;
}
export function migrationFamily(model: Model): string {
  return `${resourcePrefix(model)}-migrate`;
}
export function ecrRepositoryName(model: Model): string {
  return `${model.name}/mlflow`;
}
