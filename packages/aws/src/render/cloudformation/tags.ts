import type { AwsModel } from "../aws-model.ts";
import { compareCodeUnits } from "../order.ts";

export interface Tag {
  Key: string;
  Value: string;
}

export const TAG_KEYS = { service: "mlflow-dev:service", environment: "mlflow-dev:environment" } as const;

/**
 * Resource types in the template that take Tags (per the CloudFormation resource schemas).
 * Every resource of these types is tagged; the invariant tests fail on a type in neither list.
 */
export const TAGGABLE_RESOURCE_TYPES: readonly string[] = [
  "AWS::EC2::VPC",
  "AWS::EC2::Subnet",
  "AWS::EC2::InternetGateway",
  "AWS::EC2::RouteTable",
  "AWS::EC2::EIP",
  "AWS::EC2::NatGateway",
  "AWS::EC2::VPCEndpoint",
  "AWS::EC2::SecurityGroup",
  "AWS::ElasticLoadBalancingV2::LoadBalancer",
  "AWS::ElasticLoadBalancingV2::TargetGroup",
  "AWS::RDS::DBSubnetGroup",
  "AWS::RDS::DBParameterGroup",
  "AWS::RDS::DBInstance",
  "AWS::S3::Bucket",
  "AWS::IAM::Role",
  "AWS::Logs::LogGroup",
  "AWS::ECS::Cluster",
  "AWS::ECS::Service",
  "AWS::ECR::Repository",
];

/** Resource types whose CloudFormation schema has no Tags property. */
export const UNTAGGABLE_RESOURCE_TYPES: readonly string[] = [
  "AWS::EC2::VPCGatewayAttachment",
  "AWS::EC2::Route",
  "AWS::EC2::SubnetRouteTableAssociation",
  "AWS::EC2::SecurityGroupIngress",
  "AWS::EC2::SecurityGroupEgress",
  "AWS::ElasticLoadBalancingV2::Listener",
  "AWS::S3::BucketPolicy",
  "AWS::ApplicationAutoScaling::ScalableTarget",
  "AWS::ApplicationAutoScaling::ScalingPolicy",
  "AWS::Scheduler::Schedule",
];

/** The tags every taggable resource gets: mlflow-dev's two, then target.tags, sorted by key. */
export function toTags(model: AwsModel): Tag[] {
  const user = Object.entries(model.target.tags)
    .sort(([a], [b]) => compareCodeUnits(a, b))
    .map(([Key, Value]) => ({ Key, Value }));
  return [
    { Key: TAG_KEYS.environment, Value: model.environment },
    { Key: TAG_KEYS.service, Value: model.name },
    ...user,
  ];
}

/** The common tags plus a Name tag (shown in the EC2 console for network resources). */
export function toNamedTags(model: AwsModel, name: string): Tag[] {
  return [{ Key: "Name", Value: name }, ...toTags(model)];
}
