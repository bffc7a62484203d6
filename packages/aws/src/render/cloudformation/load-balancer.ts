import type { AwsModel } from "../aws-model.ts";
import { TARGET_GROUP_HEALTH } from "../failure-detection.ts";
import { largeArtifacts } from "../large-artifacts.ts";
import { LogicalId } from "../names.ts";
import { ACCESS_LOG_PREFIX, accessLogsOn } from "./bucket.ts";
import { getAtt, ref } from "./intrinsics.ts";
import type { NetworkRefs } from "./network.ts";
import { type Resources, resource, type Suppression } from "./resource.ts";
import { HTTP_PORT, HTTPS_PORT } from "./security-groups.ts";
import { toTags } from "./tags.ts";

export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

const NO_ACCESS_LOGS: Suppression = {
  id: "CKV_AWS_91",
  reason:
    "Internal load balancer: reachable only from inside the VPC and the blocks in access.sourceCidrs. Access logs are on for internet-facing environments",
};

/**
 * The ALB (internal in the private subnets, or internet-facing in the public ones, as
 * environments.<env>.access says), an ip target group on the container port, and its listeners.
 */
export function toLoadBalancer(model: AwsModel, network: NetworkRefs): Resources {
  return {
    [LogicalId.loadBalancer]: toApplicationLoadBalancer(model, network),
    [LogicalId.targetGroup]: toTargetGroup(model, network),
    ...toListeners(model),
  };
}

/** The listeners the service must wait for (a target group needs a listener before ECS can use it). */
export function listenerIds(model: AwsModel): string[] {
  return model.target.certificateArn ? [LogicalId.httpListener, LogicalId.httpsListener] : [LogicalId.httpListener];
}

function toApplicationLoadBalancer(model: AwsModel, network: NetworkRefs) {
  const internal = model.target.access.loadBalancer === "internal";
  const logs = accessLogsOn(model.target);
  return resource(
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    {
      Type: "application",
      Scheme: model.target.access.loadBalancer,
      IpAddressType: "ipv4",
      Subnets: internal ? network.privateSubnetIds : network.publicSubnetIds,
      SecurityGroups: [getAtt(LogicalId.loadBalancerSecurityGroup, "GroupId")],
      LoadBalancerAttributes: [
        // The server may be silent this long while it moves the largest artifact (large-artifacts.ts).
        { Key: "idle_timeout.timeout_seconds", Value: String(largeArtifacts(model).idleTimeoutSeconds) },
        { Key: "routing.http.drop_invalid_header_fields.enabled", Value: "true" },
        { Key: "routing.http.desync_mitigation_mode", Value: "strictest" },
        ...(logs
          ? [
              { Key: "access_logs.s3.enabled", Value: "true" },
              { Key: "access_logs.s3.bucket", Value: ref(LogicalId.artifactBucket) },
              { Key: "access_logs.s3.prefix", Value: ACCESS_LOG_PREFIX },
            ]
          : []),
      ],
      Tags: toTags(model),
    },
    // The load balancer checks that it may write its logs when they are turned on: the policy first.
    logs ? { dependsOn: [LogicalId.artifactBucketPolicy] } : { suppress: { checkov: [NO_ACCESS_LOGS] } },
  );
}

function toTargetGroup(model: AwsModel, network: NetworkRefs) {
  const hc = model.mlflow.healthCheck;
  return resource("AWS::ElasticLoadBalancingV2::TargetGroup", {
    TargetType: "ip",
    Protocol: "HTTP",
    ProtocolVersion: "HTTP1",
    Port: model.mlflow.port,
    VpcId: network.vpcId,
    HealthCheckEnabled: true,
    HealthCheckProtocol: "HTTP",
    HealthCheckPath: model.mlflow.healthPath,
    HealthCheckIntervalSeconds: hc.intervalSeconds,
    HealthCheckTimeoutSeconds: hc.timeoutSeconds,
    HealthyThresholdCount: TARGET_GROUP_HEALTH.healthyThresholdCount,
    UnhealthyThresholdCount: TARGET_GROUP_HEALTH.unhealthyThresholdCount,
    Matcher: { HttpCode: "200" },
    TargetGroupAttributes: [
      { Key: "deregistration_delay.timeout_seconds", Value: String(TARGET_GROUP_HEALTH.deregistrationDelaySeconds) },
    ],
    Tags: toTags(model),
  });
}

function forwardToTargetGroup() {
  return [{ Type: "forward", TargetGroupArn: ref(LogicalId.targetGroup) }];
}

/** With a certificate: HTTPS forwards and HTTP redirects to it. Without: HTTP forwards. */
function toListeners(model: AwsModel): Resources {
  const certificateArn = model.target.certificateArn;
  if (!certificateArn) {
    return {
      [LogicalId.httpListener]: resource(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
          LoadBalancerArn: ref(LogicalId.loadBalancer),
          Port: HTTP_PORT,
          Protocol: "HTTP",
          DefaultActions: forwardToTargetGroup(),
        },
        {
          suppress: {
            checkov: [
              {
                id: "CKV_AWS_2",
                reason:
                  model.target.access.loadBalancer === "internal"
                    ? "Internal load balancer without a certificateArn: plain HTTP inside the VPC and the blocks in access.sourceCidrs. Set environments.<env>.certificateArn to serve HTTPS"
                    : "The spec sets no certificateArn and mlflow.auth is none (validation refuses basic auth over plain HTTP on an internet-facing load balancer): plain HTTP by choice. Set environments.<env>.certificateArn to serve HTTPS",
              },
              { id: "CKV_AWS_103", reason: "An HTTP listener has no TLS; see CKV_AWS_2" },
            ],
          },
        },
      ),
    };
  }
  return {
    [LogicalId.httpListener]: resource("AWS::ElasticLoadBalancingV2::Listener", {
      LoadBalancerArn: ref(LogicalId.loadBalancer),
      Port: HTTP_PORT,
      Protocol: "HTTP",
      DefaultActions: [
        {
          Type: "redirect",
          RedirectConfig: { Protocol: "HTTPS", Port: String(HTTPS_PORT), StatusCode: "HTTP_301" },
        },
      ],
    }),
    [LogicalId.httpsListener]: resource("AWS::ElasticLoadBalancingV2::Listener", {
      LoadBalancerArn: ref(LogicalId.loadBalancer),
      Port: HTTPS_PORT,
      Protocol: "HTTPS",
      SslPolicy: TLS_POLICY,
      Certificates: [{ CertificateArn: certificateArn }],
      DefaultActions: forwardToTargetGroup(),
    }),
  };
}
