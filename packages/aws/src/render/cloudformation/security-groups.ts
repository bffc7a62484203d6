import { isWholeInternet } from "@mlflow-dev/spec";
import type { AwsModel } from "../aws-model.ts";
import { LogicalId, stackName } from "../names.ts";
import { getAtt } from "./intrinsics.ts";
import type { NetworkRefs } from "./network.ts";
import { type Resources, resource, type Suppression } from "./resource.ts";
import { toNamedTags } from "./tags.ts";

export const HTTP_PORT = 80;
export const HTTPS_PORT = 443;

/**
 * Three chained security groups: the blocks in access.sourceCidrs reach the ALB, only the ALB reaches the tasks on
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
  const { sourceCidrs } = model.target.access;
  const describe = (port: number, cidr: string) =>
    `${port === HTTPS_PORT ? "HTTPS" : https ? "HTTP (redirected to HTTPS)" : "HTTP"} from ${isWholeInternet(cidr) ? "the internet" : cidr}`;
  // Validation admits 0.0.0.0/0 only on an internet-facing load balancer, with basic auth and
  // HTTPS or an acknowledgement in the spec.
  const open: Suppression[] = sourceCidrs.some(isWholeInternet)
    ? [
        {
          id: "CKV_AWS_260",
          reason: model.target.access.openToInternet
            ? `Open to the internet as the spec acknowledges (access.openToInternet): ${model.target.access.openToInternet.reason.trim()}`
            : "Open to the internet with MLflow's basic auth behind HTTPS; port 80 only answers with a redirect to HTTPS",
        },
      ]
    : [];
  return resource(
    "AWS::EC2::SecurityGroup",
    {
      // Stable across changes of the blocks: a new description replaces the security group.
      GroupDescription: `${stackName(model)} load balancer: ${https ? "HTTPS (and HTTP redirect)" : "HTTP"} from access.sourceCidrs`,
      VpcId: network.vpcId,
      SecurityGroupIngress: sourceCidrs.flatMap((cidr) =>
        loadBalancerPorts(model).map((port) => ({
          Description: describe(port, cidr),
          IpProtocol: "tcp",
          FromPort: port,
          ToPort: port,
          CidrIp: cidr,
        })),
      ),
      Tags: toNamedTags(model, `${stackName(model)}-alb`),
    },
    open.length ? { suppress: { checkov: open } } : {},
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
