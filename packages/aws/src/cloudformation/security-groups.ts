import type { Model } from "@mlflow-dev/spec";
import { POSTGRES_PORT } from "@mlflow-dev/spec";
import { awsTarget } from "../context.ts";
import { LOGICAL, resourcePrefix } from "../names.ts";
import type { NetworkRefs } from "./network.ts";
import { tagList } from "./tags.ts";
import { getAtt, type Resources } from "./types.ts";

/** Chained: internet -> ALB -> tasks (container port) -> RDS (5432). */
export function toSecurityGroups(model: Model, net: NetworkRefs): Resources {
  const t = awsTarget(model);
  const p = resourcePrefix(model);
  const albPorts = t.certificateArn ? [80, 443] : [80];
  return {
    [LOGICAL.albSg]: {
      Type: "AWS::EC2::SecurityGroup",
      Properties: {
        GroupDescription: `${p} load balancer: HTTP${t.certificateArn ? "(S)" : ""} from the internet`,
        VpcId: net.vpcId,
        SecurityGroupIngress: albPorts.map((port) => ({
          IpProtocol: "tcp",
          FromPort: port,
          ToPort: port,
          CidrIp: "0.0.0.0/0",
          Description: port === 443 ? "HTTPS" : t.certificateArn ? "HTTP, redirected to HTTPS" : "HTTP",
        })),
        Tags: tagList(model, `${p}-alb`),
      },
    },
    [LOGICAL.taskSg]: {
      Type: "AWS::EC2::SecurityGroup",
      Properties: {
        GroupDescription: `${p} MLflow tasks: only from the load balancer`,
        VpcId: net.vpcId,
        Tags: tagList(model, `${p}-tasks`),
      },
    },
    [LOGICAL.taskIngress]: {
      Type: "AWS::EC2::SecurityGroupIngress",
      Properties: {
        GroupId: getAtt(LOGICAL.taskSg, "GroupId"),
        IpProtocol: "tcp",
        FromPort: model.mlflow.port,
        ToPort: model.mlflow.port,
        SourceSecurityGroupId: getAtt(LOGICAL.albSg, "GroupId"),
        Description: "MLflow from the load balancer",
      },
    },
    [LOGICAL.dbSg]: {
      Type: "AWS::EC2::SecurityGroup",
      Properties: {
        GroupDescription: `${p} PostgreSQL: only from the MLflow tasks`,
        VpcId: net.vpcId,
        Tags: tagList(model, `${p}-db`),
      },
    },
    [LOGICAL.dbIngress]: {
      Type: "AWS::EC2::SecurityGroupIngress",
      Properties: {
        GroupId: getAtt(LOGICAL.dbSg, "GroupId"),
        IpProtocol: "tcp",
        FromPort: POSTGRES_PORT,
        ToPort: POSTGRES_PORT,
        SourceSecurityGroupId: getAtt(LOGICAL.taskSg, "GroupId"),
        Description: "PostgreSQL from the MLflow tasks",
      },
    },
  };
}
