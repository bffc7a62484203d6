import type { Model } from "@mlflow-dev/spec";
import { stringify } from "yaml";
import { toBucket } from "./cloudformation/bucket.ts";
import { toDatabase } from "./cloudformation/database.ts";
import { toIam } from "./cloudformation/iam.ts";
import { toLoadBalancer } from "./cloudformation/load-balancer.ts";
import { toNetwork } from "./cloudformation/network.ts";
import { toSecurityGroups } from "./cloudformation/security-groups.ts";
import { toAutoscaling, toCluster, toEcr, toLogs, toService } from "./cloudformation/service.ts";
import { getAtt, type Resources, ref } from "./cloudformation/types.ts";
import { awsTarget } from "./context.ts";
import { LOGICAL, PARAM, stackName } from "./names.ts";

export interface Template {
  AWSTemplateFormatVersion: "2010-09-09";
  Description: string;
  Parameters: Record<string, { Type: string; Description: string }>;
  Resources: Resources;
  Outputs: Record<string, { Description: string; Value: unknown }>;
}

/** Model (AWS environment) -> the CloudFormation template around the ECS service. Pure. */
export function toTemplate(model: Model): Template {
  const t = awsTarget(model);
  const { resources: network, refs } = toNetwork(model);
  const resources: Resources = {
    ...network,
    ...toSecurityGroups(model, refs),
    ...toLoadBalancer(model, refs),
    ...toDatabase(model, refs),
    ...toBucket(model),
    ...toIam(model),
    ...toLogs(model),
    ...toCluster(model),
    ...toService(model, refs),
    ...toAutoscaling(model),
    ...toEcr(model),
  };
  const parameters: Template["Parameters"] = {
    [PARAM.taskDefinitionArn]: {
      Type: "String",
      Description: "The MLflow task definition revision, registered by mlflow-dev promote",
    },
  };
  for (const s of model.mlflow.secrets)
    parameters[PARAM.secretArn(s.name)] = {
      Type: "String",
      Description: `ARN of the Secrets Manager secret: ${s.description}`,
    };
  const scheme = t.certificateArn ? "https" : "http";
  const outputs: Template["Outputs"] = {
    ClusterName: { Description: "ECS cluster", Value: ref(LOGICAL.cluster) },
    ServiceName: { Description: "ECS service", Value: getAtt(LOGICAL.service, "Name") },
    LoadBalancerDns: { Description: "ALB DNS name", Value: getAtt(LOGICAL.alb, "DNSName") },
    ServiceUrl: {
      Description: "MLflow tracking URL",
      Value: t.domain ? `${scheme}://${t.domain}` : { "Fn::Sub": `${scheme}://\${${LOGICAL.alb}.DNSName}` },
    },
    DatabaseEndpoint: { Description: "RDS endpoint address", Value: getAtt(LOGICAL.db, "Endpoint.Address") },
    ExecutionRoleArn: { Description: "Task execution role", Value: getAtt(LOGICAL.executionRole, "Arn") },
    TaskRoleArn: { Description: "Task role", Value: getAtt(LOGICAL.taskRole, "Arn") },
    LogGroupName: { Description: "Log group", Value: ref(LOGICAL.logGroup) },
    BucketName: { Description: "Artifact bucket", Value: ref(LOGICAL.bucket) },
    TaskSecurityGroupId: { Description: "Security group of the tasks", Value: getAtt(LOGICAL.taskSg, "GroupId") },
    PrivateSubnetIds: { Description: "Subnets of the tasks", Value: { "Fn::Join": [",", refs.privateSubnets] } },
  };
  if (model.mlflow.image.kind === "build")
    outputs.EcrRepositoryUri = { Description: "Image repository", Value: getAtt(LOGICAL.ecr, "RepositoryUri") };
  return {
    AWSTemplateFormatVersion: "2010-09-09",
    Description: `mlflow-dev: MLflow tracking service ${model.name} (${model.environment}), stack ${stackName(model)}`,
    Parameters: parameters,
    Resources: resources,
    Outputs: outputs,
  };
}

export function toTemplateYaml(model: Model): string {
  return stringify(toTemplate(model), { lineWidth: 0, aliasDuplicateObjects: false });
}
