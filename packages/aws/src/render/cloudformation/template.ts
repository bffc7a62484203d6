import { stringify } from "yaml";
import type { AwsModel } from "../aws-model.ts";
import { ConditionName, LogicalId, OutputName, ParameterName, secretName, secretParameterName } from "../names.ts";
import { toAutoscaling } from "./autoscaling.ts";
import { toBucket } from "./bucket.ts";
import { toCluster } from "./cluster.ts";
import { toDatabase } from "./database.ts";
import { toEcrRepository } from "./ecr.ts";
import { toGcSchedule } from "./gc-schedule.ts";
import { toRoles } from "./iam.ts";
import { getAtt, join, ref, sub } from "./intrinsics.ts";
import { toLoadBalancer } from "./load-balancer.ts";
import { toLogGroup } from "./logs.ts";
import { toNetwork } from "./network.ts";
import type { Resources } from "./resource.ts";
import { toSecurityGroups } from "./security-groups.ts";
import { toService } from "./service.ts";

export interface Parameter {
  Type: "String";
  Description: string;
  Default?: string;
  AllowedPattern: string;
  ConstraintDescription: string;
}

export interface Output {
  Description: string;
  Condition?: string;
  Value: unknown;
}

export interface Template {
  AWSTemplateFormatVersion: "2010-09-09";
  Description: string;
  Parameters: Record<string, Parameter>;
  Conditions: Record<string, unknown>;
  Resources: Resources;
  Outputs: Record<string, Output>;
}

const TASK_DEFINITION_ARN_PATTERN =
  "^$|^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:task-definition/[A-Za-z0-9_-]+:[0-9]+$";
/** An RDS snapshot identifier (automated ones start with rds:) or ARN, or empty. */
const DB_SNAPSHOT_PATTERN =
  "^$|^(rds:)?[A-Za-z][A-Za-z0-9-]{0,254}$|^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:snapshot:(rds:)?[A-Za-z][A-Za-z0-9-]{0,254}$";
const SECRET_ARN_PATTERN = "^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$";

/**
 * How `destroy` deletes the stack: the last update before the delete sets what the delete keeps.
 * Without it, the template keeps everything. It never turns the database's deletion protection
 * off: only the spec does (`deletionProtection: false`, applied by promote).
 */
export interface Teardown {
  /** Delete the database without a final snapshot (default: a final snapshot is kept). */
  skipFinalSnapshot: boolean;
  /** Delete the artifact bucket with its objects (default: kept). */
  deleteData: boolean;
}

/**
 * The template `destroy` applies right before it deletes the stack (pure: a copy of `deployed`):
 * a final snapshot of the database unless skipped, the artifact bucket
 * deleted only with deleteData, and the ECR repository deleted with its images (they are built
 * again from the build context, tagged by its content). It works on the deployed template so that
 * a spec changed since the last promote changes nothing else.
 */
export function withTeardown(deployed: Template, teardown: Teardown): Template {
  const template = structuredClone(deployed);
  const set = (id: string, policy: "Delete" | "Retain" | "Snapshot", properties: Record<string, unknown> = {}) => {
    const r = template.Resources[id];
    if (!r) return;
    template.Resources[id] = {
      ...r,
      DeletionPolicy: policy,
      UpdateReplacePolicy: policy,
      Properties: { ...r.Properties, ...properties },
    };
  };
  // Deletion protection stays as the spec set it: destroy refuses a protected database before this.
  set(LogicalId.database, teardown.skipFinalSnapshot ? "Delete" : "Snapshot");
  set(LogicalId.artifactBucket, teardown.deleteData ? "Delete" : "Retain");
  set(LogicalId.ecrRepository, "Delete", { EmptyOnDelete: true });
  return template;
}

/** The whole CloudFormation template for one AWS environment of the Model. */
export function toTemplate(model: AwsModel): Template {
  const network = toNetwork(model);
  return {
    AWSTemplateFormatVersion: "2010-09-09",
    Description: `mlflow-dev: MLflow tracking service "${model.name}" (${model.environment}) on ECS Fargate. Rendered from mlflow-dev.yaml by mlflow-dev; do not edit.`,
    Parameters: toParameters(model),
    Conditions: toConditions(),
    Resources: {
      ...network.resources,
      ...toSecurityGroups(model, network.refs),
      ...toLoadBalancer(model, network.refs),
      ...toDatabase(model, network.refs),
      ...toBucket(model),
      ...toRoles(model),
      ...toLogGroup(model),
      ...toCluster(model),
      ...toService(model, network.refs),
      ...toAutoscaling(model),
      ...toEcrRepository(model),
      ...toGcSchedule(model, network.refs),
    },
    Outputs: toOutputs(model, network.refs.taskSubnetIds),
  };
}

/**
 * The template as YAML: JSON-form intrinsics, no anchors, no line folding. Written as YAML 1.1,
 * which CloudFormation reads, so strings such as 2010-09-09 or "on" are quoted. Same Model, same bytes.
 */
export function toTemplateYaml(model: AwsModel): string {
  return stringify(toTemplate(model), { version: "1.1", aliasDuplicateObjects: false, lineWidth: 0 });
}

function toParameters(model: AwsModel): Record<string, Parameter> {
  const parameters: Record<string, Parameter> = {
    [ParameterName.taskDefinitionArn]: {
      Type: "String",
      Description:
        "ARN of the MLflow task definition revision to run, registered by the deploy tool. Empty on the first deployment: the service is created once it is set.",
      Default: "",
      AllowedPattern: TASK_DEFINITION_ARN_PATTERN,
      ConstraintDescription: "must be empty or an ECS task definition ARN with a revision",
    },
  };
  parameters[ParameterName.databaseSnapshot] = {
    Type: "String",
    Description:
      "Identifier or ARN of the RDS snapshot the database is restored from, set by mlflow-dev restore. Kept on every later update: RDS replaces the instance with an empty one when it is removed.",
    Default: "",
    AllowedPattern: DB_SNAPSHOT_PATTERN,
    ConstraintDescription: "must be empty, an RDS snapshot identifier or an RDS snapshot ARN",
  };
  for (const secret of model.mlflow.secrets) {
    parameters[secretParameterName(secret.name)] = {
      Type: "String",
      Description: `ARN of the Secrets Manager secret ${secretName(model, secret.name)} (${secret.description}), created by the deploy tool before the stack.`,
      AllowedPattern: SECRET_ARN_PATTERN,
      ConstraintDescription: "must be a Secrets Manager secret ARN",
    };
  }
  return parameters;
}

function toConditions(): Record<string, unknown> {
  return {
    [ConditionName.hasTaskDefinition]: { "Fn::Not": [{ "Fn::Equals": [ref(ParameterName.taskDefinitionArn), ""] }] },
    [ConditionName.databaseFromSnapshot]: { "Fn::Not": [{ "Fn::Equals": [ref(ParameterName.databaseSnapshot), ""] }] },
  };
}

/** Where users reach MLflow: the domain when the spec has one, else the ALB's DNS name. */
function serviceUrl(model: AwsModel): unknown {
  const t = model.target;
  const scheme = t.certificateArn ? "https" : "http";
  return t.domain ? `${scheme}://${t.domain}` : sub(`http://\${${LogicalId.loadBalancer}.DNSName}`);
}

function toOutputs(model: AwsModel, taskSubnetIds: unknown[]): Record<string, Output> {
  const outputs: Record<string, Output> = {
    [OutputName.clusterName]: { Description: "ECS cluster", Value: ref(LogicalId.cluster) },
    [OutputName.serviceName]: {
      Description: "ECS service (exists once TaskDefinitionArn is set)",
      Condition: ConditionName.hasTaskDefinition,
      Value: getAtt(LogicalId.service, "Name"),
    },
    [OutputName.loadBalancerDns]: {
      Description: "DNS name of the load balancer (point the domain here)",
      Value: getAtt(LogicalId.loadBalancer, "DNSName"),
    },
    [OutputName.serviceUrl]: { Description: "URL of the MLflow server", Value: serviceUrl(model) },
    [OutputName.databaseEndpoint]: {
      Description: "Host name of the PostgreSQL database",
      Value: getAtt(LogicalId.database, "Endpoint.Address"),
    },
    [OutputName.executionRoleArn]: {
      Description: "Task execution role",
      Value: getAtt(LogicalId.executionRole, "Arn"),
    },
    [OutputName.taskRoleArn]: {
      Description: "Task role of the MLflow container",
      Value: getAtt(LogicalId.taskRole, "Arn"),
    },
    [OutputName.logGroupName]: { Description: "CloudWatch log group of the tasks", Value: ref(LogicalId.logGroup) },
    [OutputName.bucketName]: { Description: "Artifact bucket", Value: ref(LogicalId.artifactBucket) },
    [OutputName.taskSecurityGroupId]: {
      Description: "Security group of the tasks (also for the migration task)",
      Value: getAtt(LogicalId.taskSecurityGroup, "GroupId"),
    },
    [OutputName.taskSubnetIds]: {
      Description: `Subnets the tasks run in (${model.target.network.egress === "public" ? "public, egress: public" : "private"}), comma-separated`,
      Value: join(",", taskSubnetIds),
    },
  };
  if (model.gc.schedule !== undefined)
    outputs[OutputName.gcScheduleName] = {
      Description: `EventBridge Scheduler schedule of the scheduled gc (${model.gc.schedule}, group default)`,
      Condition: ConditionName.hasTaskDefinition,
      Value: ref(LogicalId.gcSchedule),
    };
  if (model.mlflow.image.kind === "build")
    outputs[OutputName.ecrRepositoryUri] = {
      Description: "ECR repository of the MLflow image",
      Value: getAtt(LogicalId.ecrRepository, "RepositoryUri"),
    };
  return outputs;
}
