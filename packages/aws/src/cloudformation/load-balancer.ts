import type { Model } from "@mlflow-dev/spec";
import { awsTarget } from "../context.ts";
import { LOGICAL, resourcePrefix } from "../names.ts";
import type { NetworkRefs } from "./network.ts";
import { tagList } from "./tags.ts";
import { getAtt, type Resources, ref } from "./types.ts";

export function toLoadBalancer(model: Model, net: NetworkRefs): Resources {
  const t = awsTarget(model);
  const p = resourcePrefix(model);
  const forward = [{ Type: "forward", TargetGroupArn: ref(LOGICAL.targetGroup) }];
  const r: Resources = {
    [LOGICAL.alb]: {
      Type: "AWS::ElasticLoadBalancingV2::LoadBalancer",
      Properties: {
        Type: "application",
        Scheme: "internet-facing",
        Subnets: net.publicSubnets,
        SecurityGroups: [getAtt(LOGICAL.albSg, "GroupId")],
        LoadBalancerAttributes: [
          { Key: "routing.http.drop_invalid_header_fields.enabled", Value: "true" },
          { Key: "idle_timeout.timeout_seconds", Value: "300" },
        ],
        Tags: tagList(model, p),
      },
      Metadata: {
        checkov: {
          skip: [{ id: "CKV_AWS_91", comment: "ALB access logs need a separate log bucket; left to the operator" }],
        },
      },
    },
    [LOGICAL.targetGroup]: {
      Type: "AWS::ElasticLoadBalancingV2::TargetGroup",
      Properties: {
        TargetType: "ip",
        Protocol: "HTTP",
        Port: model.mlflow.port,
        VpcId: net.vpcId,
        HealthCheckPath: model.mlflow.healthPath,
        HealthCheckIntervalSeconds: 15,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 3,
        Matcher: { HttpCode: "200" },
        TargetGroupAttributes: [{ Key: "deregistration_delay.timeout_seconds", Value: "30" }],
        Tags: tagList(model, p),
      },
    },
  };
  if (t.certificateArn) {
    r[LOGICAL.httpsListener] = {
      Type: "AWS::ElasticLoadBalancingV2::Listener",
      Properties: {
        LoadBalancerArn: ref(LOGICAL.alb),
        Port: 443,
        Protocol: "HTTPS",
        Certificates: [{ CertificateArn: t.certificateArn }],
        SslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
        DefaultActions: forward,
      },
    };
    r[LOGICAL.httpListener] = {
      Type: "AWS::ElasticLoadBalancingV2::Listener",
      Properties: {
        LoadBalancerArn: ref(LOGICAL.alb),
        Port: 80,
        Protocol: "HTTP",
        DefaultActions: [
          { Type: "redirect", RedirectConfig: { Protocol: "HTTPS", Port: "443", StatusCode: "HTTP_301" } },
        ],
      },
    };
  } else {
    r[LOGICAL.httpListener] = {
      Type: "AWS::ElasticLoadBalancingV2::Listener",
      Properties: { LoadBalancerArn: ref(LOGICAL.alb), Port: 80, Protocol: "HTTP", DefaultActions: forward },
      Metadata: {
        checkov: {
          skip: [
            { id: "CKV_AWS_2", comment: "HTTP only when the spec gives no certificateArn (set one for HTTPS)" },
            { id: "CKV_AWS_103", comment: "no TLS listener without a certificate" },
          ],
        },
      },
    };
  }
  return r;
}
