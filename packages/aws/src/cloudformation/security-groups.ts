import type { AwsModel } from "../aws-model.ts";
import { LogicalId, stackName } from "../names.ts";
import { getAtt } from "./intrinsics.ts";
import type { NetworkRefs } from "./network.ts";
import { type Resources, resource, type Suppression } from "./resource.ts";
import { toNamedTags } from "./tags.ts";

export const HTTP_PORT = 80;
export const HTTPS_PORT = 443;

/**
 * Three chained security groups: the internet reaches the ALB, only the ALB reaches the tasks on
 * the container port, only the tasks reach the database on its port. Every rule is inline (no
 * standalone rules mixed in), which the chain allows because each group points only upstream.
 */
export function toSecurityGroups(model: AwsModel, network: NetworkRefs): Resources {
  return {
    [LogicalId.loadBalancerSecurityGroup]: toLoadBalancerSecurityGroup(model, network),
    [LogicalId.taskSecurityGroup]: toTaskSecurityGroup(model, network),
    [LogicalId.databaseSecurityGroup]: toDatabaseSecurityGroup(model, network),
  };
}

/** The ports the ALB listens on: 443 (and 80 for the redirect) with a certificate, else 80. */
export function loadBalancerPorts(model: AwsModel): number[] {
  return model.target.certificateArn ? [HTTP_PORT, HTTPS_PORT] : [HTTP_PORT];
}

function toLoadBalancerSecurityGroup(model: AwsModel, network: NetworkRefs) {
  const https = model.target.certificateArn !== undefined;
  const describe = (port: number) =>
    port === HTTPS_PORT
      ? "HTTPS from the internet"
      : https
        ? "HTTP from the internet (redirected to HTTPS)"
        : "HTTP from the internet";
  const open: Suppression = {
    id: "CKV_AWS_260",
    reason: https
      ? "Internet-facing ALB: port 80 only answers with a redirect to HTTPS"
      : "Internet-facing ALB without a certificate: the spec sets no certificateArn, so the service is plain HTTP by choice",
  };
  return resource(
    "AWS::EC2::SecurityGroup",
    {
      GroupDescription: `${stackName(model)} load balancer: ${https ? "HTTPS (and HTTP redirect)" : "HTTP"} from the internet`,
      VpcId: network.vpcId,
      SecurityGroupIngress: loadBalancerPorts(model).map((port) => ({
        Description: describe(port),
        IpProtocol: "tcp",
        FromPort: port,
        ToPort: port,
        CidrIp: "0.0.0.0/0",
      })),
      Tags: toNamedTags(model, `${stackName(model)}-alb`),
    },
    { suppress: { checkov: [open] } },
  );
}

function toTaskSecurityGroup(model: AwsModel, network: NetworkRefs) {
  const port = model.mlflow.port;
  return resource("AWS::EC2::SecurityGroup", {
    GroupDescription: `${stackName(model)} MLflow tasks: port ${port} from the load balancer only`,
    VpcId: network.vpcId,
    SecurityGroupIngress: [
      {
        Description: "MLflow from the load balancer",
        IpProtocol: "tcp",
        FromPort: port,
        ToPort: port,
        SourceSecurityGroupId: getAtt(LogicalId.loadBalancerSecurityGroup, "GroupId"),
      },
    ],
    Tags: toNamedTags(model, `${stackName(model)}-tasks`),
  });
}

function toDatabaseSecurityGroup(model: AwsModel, network: NetworkRefs) {
  const port = model.database.port;
  return resource("AWS::EC2::SecurityGroup", {
    GroupDescription: `${stackName(model)} database: PostgreSQL from the MLflow tasks only`,
    VpcId: network.vpcId,
    SecurityGroupIngress: [
      {
        Description: "PostgreSQL from the MLflow tasks",
        IpProtocol: "tcp",
        FromPort: port,
        ToPort: port,
        SourceSecurityGroupId: getAtt(LogicalId.taskSecurityGroup, "GroupId"),
      },
    ],
    // The database opens no connections: replace the default allow-all egress with loopback only.
    SecurityGroupEgress: [{ Description: "No outbound traffic", IpProtocol: "-1", CidrIp: "127.0.0.1/32" }],
    Tags: toNamedTags(model, `${stackName(model)}-database`),
  });
}
