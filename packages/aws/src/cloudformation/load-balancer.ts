import type { AwsModel } from "../aws-model.ts";
import { LogicalId } from "../names.ts";
import { getAtt, ref } from "./intrinsics.ts";
import type { NetworkRefs } from "./network.ts";
import { type Resources, resource, type Suppression } from "./resource.ts";
import { HTTP_PORT, HTTPS_PORT } from "./security-groups.ts";
import { toTags } from "./tags.ts";

export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

const NO_ACCESS_LOGS: Suppression = {
  id: "CKV_AWS_91",
  reason:
    "Access logs need a separate log bucket the spec does not describe; requests are logged by MLflow in CloudWatch",
};

/** Internet-facing ALB in the public subnets, an ip target group on the container port, and its listeners. */
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
  return resource(
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    {
      Type: "application",
      Scheme: "internet-facing",
      IpAddressType: "ipv4",
      Subnets: network.publicSubnetIds,
      SecurityGroups: [getAtt(LogicalId.loadBalancerSecurityGroup, "GroupId")],
      LoadBalancerAttributes: [
        { Key: "routing.http.drop_invalid_header_fields.enabled", Value: "true" },
        { Key: "routing.http.desync_mitigation_mode", Value: "strictest" },
      ],
      Tags: toTags(model),
    },
    {
      suppress: {
        checkov: [NO_ACCESS_LOGS],
      },
    },
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
    HealthyThresholdCount: 2,
    UnhealthyThresholdCount: 3,
    Matcher: { HttpCode: "200" },
    TargetGroupAttributes: [{ Key: "deregistration_delay.timeout_seconds", Value: "30" }],
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
                  "The spec sets no certificateArn: plain HTTP by choice. Set environments.<env>.certificateArn to serve HTTPS",
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
