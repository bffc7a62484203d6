import type { Model } from "@mlflow-dev/spec";
import { awsTarget } from "../context.ts";
import { clusterName, ecrRepositoryName, LOGICAL, logGroupName, PARAM, resourcePrefix, serviceName } from "../names.ts";
import type { NetworkRefs } from "./network.ts";
import { tagList } from "./tags.ts";
import { getAtt, type Resources, ref } from "./types.ts";

export function toLogs(model: Model): Resources {
  return {
    [LOGICAL.logGroup]: {
      Type: "AWS::Logs::LogGroup",
      Properties: {
        LogGroupName: logGroupName(model),
        RetentionInDays: awsTarget(model).logRetentionDays,
        Tags: tagList(model),
      },
      Metadata: {
        checkov: {
          skip: [
            { id: "CKV_AWS_158", comment: "CloudWatch's default encryption; a KMS key is left to the operator" },
            { id: "CKV_AWS_66", comment: "retention is the spec's logRetentionDays" },
          ],
        },
      },
    },
  };
}

export function toCluster(model: Model): Resources {
  return {
    [LOGICAL.cluster]: {
      Type: "AWS::ECS::Cluster",
      Properties: {
        ClusterName: clusterName(model),
        ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }],
        Tags: tagList(model),
      },
    },
  };
}

/** The service runs the task definition the deploy tool registers (a parameter of the stack). */
export function toService(model: Model, net: NetworkRefs): Resources {
  const t = awsTarget(model);
  return {
    [LOGICAL.service]: {
      Type: "AWS::ECS::Service",
      DependsOn: [t.certificateArn ? LOGICAL.httpsListener : LOGICAL.httpListener],
      Properties: {
        ServiceName: serviceName(model),
        Cluster: ref(LOGICAL.cluster),
        LaunchType: "FARGATE",
        TaskDefinition: ref(PARAM.taskDefinitionArn),
        DesiredCount: t.desiredCount,
        HealthCheckGracePeriodSeconds: model.mlflow.healthCheck.startPeriodSeconds,
        DeploymentConfiguration: {
          MinimumHealthyPercent: 100,
          MaximumPercent: 200,
          DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        },
        NetworkConfiguration: {
          AwsvpcConfiguration: {
            AssignPublicIp: "DISABLED",
            Subnets: net.privateSubnets,
            SecurityGroups: [getAtt(LOGICAL.taskSg, "GroupId")],
          },
        },
        LoadBalancers: [
          { ContainerName: "mlflow", ContainerPort: model.mlflow.port, TargetGroupArn: ref(LOGICAL.targetGroup) },
        ],
        PropagateTags: "SERVICE",
        EnableECSManagedTags: true,
        Tags: tagList(model),
      },
    },
  };
}

export function toAutoscaling(model: Model): Resources {
  const a = awsTarget(model).autoscaling;
  if (!a) return {};
  return {
    [LOGICAL.scalableTarget]: {
      Type: "AWS::ApplicationAutoScaling::ScalableTarget",
      Properties: {
        ServiceNamespace: "ecs",
        ScalableDimension: "ecs:service:DesiredCount",
        ResourceId: { "Fn::Sub": `service/\${${LOGICAL.cluster}}/\${${LOGICAL.service}.Name}` },
        MinCapacity: a.min,
        MaxCapacity: a.max,
      },
    },
    [LOGICAL.scalingPolicy]: {
      Type: "AWS::ApplicationAutoScaling::ScalingPolicy",
      Properties: {
        PolicyName: `${resourcePrefix(model)}-cpu`,
        PolicyType: "TargetTrackingScaling",
        ScalingTargetId: ref(LOGICAL.scalableTarget),
        TargetTrackingScalingPolicyConfiguration: {
          TargetValue: a.targetCpu,
          PredefinedMetricSpecification: { PredefinedMetricType: "ECSServiceAverageCPUUtilization" },
          ScaleInCooldown: 120,
          ScaleOutCooldown: 60,
        },
      },
    },
  };
}

export function toEcr(model: Model): Resources {
  if (model.mlflow.image.kind !== "build") return {};
  return {
    [LOGICAL.ecr]: {
      Type: "AWS::ECR::Repository",
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        RepositoryName: ecrRepositoryName(model),
        ImageScanningConfiguration: { ScanOnPush: true },
        ImageTagMutability: "IMMUTABLE",
        EncryptionConfiguration: { EncryptionType: "AES256" },
        Tags: tagList(model),
      },
    },
  };
}
