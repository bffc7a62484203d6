import type { AwsModel } from "../aws-model.ts";
import { healthCheckGracePeriod } from "../failure-detection.ts";
import { CONTAINER_NAME, ConditionName, LogicalId, ParameterName, serviceName } from "../names.ts";
import { getAtt, ref } from "./intrinsics.ts";
import { listenerIds } from "./load-balancer.ts";
import { type NetworkRefs, taskAssignPublicIp } from "./network.ts";
import { type Resources, resource } from "./resource.ts";
import { toTags } from "./tags.ts";

/**
 * The ECS service. The task definition is registered by the deploy tool through the ECS API and
 * passed in as the TaskDefinitionArn parameter; while it is empty (the first infrastructure
 * deployment, before any image was registered) the service is not created.
 */
export function toService(model: AwsModel, network: NetworkRefs): Resources {
  const target = model.target;
  return {
    [LogicalId.service]: resource(
      "AWS::ECS::Service",
      {
        ServiceName: serviceName(model),
        Cluster: ref(LogicalId.cluster),
        LaunchType: "FARGATE",
        TaskDefinition: ref(ParameterName.taskDefinitionArn),
        DesiredCount: target.desiredCount,
        NetworkConfiguration: {
          AwsvpcConfiguration: {
            AssignPublicIp: taskAssignPublicIp(model),
            SecurityGroups: [getAtt(LogicalId.taskSecurityGroup, "GroupId")],
            Subnets: network.taskSubnetIds,
          },
        },
        LoadBalancers: [
          {
            ContainerName: CONTAINER_NAME,
            ContainerPort: model.mlflow.port,
            TargetGroupArn: ref(LogicalId.targetGroup),
          },
        ],
        HealthCheckGracePeriodSeconds: healthCheckGracePeriod(model),
        DeploymentConfiguration: {
          DeploymentCircuitBreaker: { Enable: true, Rollback: true },
          MinimumHealthyPercent: 100,
          MaximumPercent: 200,
        },
        PropagateTags: "SERVICE",
        EnableECSManagedTags: true,
        Tags: toTags(model),
      },
      { condition: ConditionName.hasTaskDefinition, dependsOn: listenerIds(model) },
    ),
  };
}
