import type { AwsModel } from "../aws-model.ts";
import { ConditionName, LogicalId } from "../names.ts";
import { ref, sub } from "./intrinsics.ts";
import { type Resources, resource } from "./resource.ts";

/** Target tracking on the service's average CPU, when the spec sets target.autoscaling. */
export function toAutoscaling(model: AwsModel): Resources {
  const a = model.target.autoscaling;
  if (!a) return {};
  const options = { condition: ConditionName.hasTaskDefinition };
  return {
    [LogicalId.scalableTarget]: resource(
      "AWS::ApplicationAutoScaling::ScalableTarget",
      {
        ServiceNamespace: "ecs",
        ScalableDimension: "ecs:service:DesiredCount",
        ResourceId: sub(`service/\${${LogicalId.cluster}}/\${${LogicalId.service}.Name}`),
        MinCapacity: a.min,
        MaxCapacity: a.max,
      },
      // Application Auto Scaling uses its service-linked role, so no RoleARN is given.
      options,
    ),
    [LogicalId.cpuScalingPolicy]: resource(
      "AWS::ApplicationAutoScaling::ScalingPolicy",
      {
        PolicyName: sub(`\${${LogicalId.service}.Name}-cpu`),
        PolicyType: "TargetTrackingScaling",
        ScalingTargetId: ref(LogicalId.scalableTarget),
        TargetTrackingScalingPolicyConfiguration: {
          PredefinedMetricSpecification: { PredefinedMetricType: "ECSServiceAverageCPUUtilization" },
          TargetValue: a.targetCpu,
          ScaleInCooldown: 300,
          ScaleOutCooldown: 60,
        },
      },
      options,
    ),
  };
}
