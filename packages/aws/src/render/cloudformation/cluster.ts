import type { AwsModel } from "../aws-model.ts";
import { clusterName, LogicalId } from "../names.ts";
import { type Resources, resource } from "./resource.ts";
import { toTags } from "./tags.ts";

/** The ECS cluster, with Container Insights. */
export function toCluster(model: AwsModel): Resources {
  return {
    [LogicalId.cluster]: resource("AWS::ECS::Cluster", {
      ClusterName: clusterName(model),
      ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }],
      Tags: toTags(model),
    }),
  };
}
