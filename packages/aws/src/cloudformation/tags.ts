import type { Model } from "@mlflow-dev/spec";
import { awsTarget } from "../context.ts";

/** Every taggable resource carries these. */
export function tagList(model: Model, name?: string): Array<{ Key: string; Value: string }> {
  const t = awsTarget(model);
  const tags: Record<string, string> = {
    "mlflow-dev:service": model.name,
    "mlflow-dev:environment": model.environment,
    ...(name ? { Name: name } : {}),
    ...t.tags,
  };
  return Object.entries(tags)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([Key, Value]) => ({ Key, Value }));
}

/** Resource types that take a Tags list. */
export const TAGGABLE = new Set([
  "AWS::EC2::VPC",
  "AWS::EC2::InternetGateway",
  "AWS::EC2::Subnet",
  "AWS::EC2::RouteTable",
  "AWS::EC2::EIP",
  "AWS::EC2::NatGateway",
  "AWS::EC2::SecurityGroup",
  "AWS::ElasticLoadBalancingV2::LoadBalancer",
  "AWS::ElasticLoadBalancingV2::TargetGroup",
  "AWS::RDS::DBSubnetGroup",
  "AWS::RDS::DBInstance",
  "AWS::S3::Bucket",
  "AWS::IAM::Role",
  "AWS::Logs::LogGroup",
  "AWS::ECS::Cluster",
  "AWS::ECS::Service",
  "AWS::ECR::Repository",
]);
