import type { Model } from "@mlflow-dev/spec";
import { awsTarget } from "../context.ts";
import { LOGICAL, resourcePrefix } from "../names.ts";
import { tagList } from "./tags.ts";
import { type Resources, ref } from "./types.ts";

/** The VPC and subnet ids the rest of the template uses, as template values. */
export interface NetworkRefs {
  vpcId: unknown;
  publicSubnets: unknown[];
  privateSubnets: unknown[];
}

/** Splits a /16../24 block into 4 equal subnets: 2 public, 2 private. */
function subnetCidrs(cidr: string): string[] {
  const [ip, bitsText] = cidr.split("/");
  const bits = Number(bitsText);
  const base = (ip ?? "0.0.0.0").split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - bits - 2);
  return [0, 1, 2, 3].map((i) => {
    const n = base + i * size;
    return `${[24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".")}/${bits + 2}`;
  });
}

export function toNetwork(model: Model): { resources: Resources; refs: NetworkRefs } {
  const t = awsTarget(model);
  if (t.network.mode === "existing") {
    return {
      resources: {},
      refs: {
        vpcId: t.network.vpcId,
        publicSubnets: [...(t.network.publicSubnetIds ?? [])],
        privateSubnets: [...(t.network.privateSubnetIds ?? [])],
      },
    };
  }
  const p = resourcePrefix(model);
  const cidrs = subnetCidrs(t.network.cidr ?? "10.0.0.0/16");
  const az = (i: number) => ({ "Fn::Select": [i, { "Fn::GetAZs": "" }] });
  const r: Resources = {
    [LOGICAL.vpc]: {
      Type: "AWS::EC2::VPC",
      Properties: {
        CidrBlock: t.network.cidr,
        EnableDnsHostnames: true,
        EnableDnsSupport: true,
        Tags: tagList(model, p),
      },
    },
    [LOGICAL.internetGateway]: { Type: "AWS::EC2::InternetGateway", Properties: { Tags: tagList(model, p) } },
    [LOGICAL.gatewayAttachment]: {
      Type: "AWS::EC2::VPCGatewayAttachment",
      Properties: { VpcId: ref(LOGICAL.vpc), InternetGatewayId: ref(LOGICAL.internetGateway) },
    },
    [LOGICAL.publicRouteTable]: {
      Type: "AWS::EC2::RouteTable",
      Properties: { VpcId: ref(LOGICAL.vpc), Tags: tagList(model, `${p}-public`) },
    },
    [LOGICAL.publicRoute]: {
      Type: "AWS::EC2::Route",
      DependsOn: LOGICAL.gatewayAttachment,
      Properties: {
        RouteTableId: ref(LOGICAL.publicRouteTable),
        DestinationCidrBlock: "0.0.0.0/0",
        GatewayId: ref(LOGICAL.internetGateway),
      },
    },
    [LOGICAL.natEip]: {
      Type: "AWS::EC2::EIP",
      DependsOn: LOGICAL.gatewayAttachment,
      Properties: { Domain: "vpc", Tags: tagList(model, `${p}-nat`) },
    },
    [LOGICAL.natGateway]: {
      Type: "AWS::EC2::NatGateway",
      Properties: {
        AllocationId: { "Fn::GetAtt": [LOGICAL.natEip, "AllocationId"] },
        SubnetId: ref(LOGICAL.publicSubnet(0)),
        Tags: tagList(model, `${p}-nat`),
      },
    },
    [LOGICAL.privateRouteTable]: {
      Type: "AWS::EC2::RouteTable",
      Properties: { VpcId: ref(LOGICAL.vpc), Tags: tagList(model, `${p}-private`) },
    },
    [LOGICAL.privateRoute]: {
      Type: "AWS::EC2::Route",
      Properties: {
        RouteTableId: ref(LOGICAL.privateRouteTable),
        DestinationCidrBlock: "0.0.0.0/0",
        NatGatewayId: ref(LOGICAL.natGateway),
      },
    },
    [LOGICAL.s3Endpoint]: {
      Type: "AWS::EC2::VPCEndpoint",
      Properties: {
        VpcId: ref(LOGICAL.vpc),
        ServiceName: { "Fn::Sub": "com.amazonaws.${AWS::Region}.s3" },
        VpcEndpointType: "Gateway",
        RouteTableIds: [ref(LOGICAL.privateRouteTable)],
      },
    },
  };
  for (const i of [0, 1]) {
    r[LOGICAL.publicSubnet(i)] = {
      Type: "AWS::EC2::Subnet",
      Properties: {
        VpcId: ref(LOGICAL.vpc),
        CidrBlock: cidrs[i],
        AvailabilityZone: az(i),
        MapPublicIpOnLaunch: false,
        Tags: tagList(model, `${p}-public-${i + 1}`),
      },
    };
    r[LOGICAL.privateSubnet(i)] = {
      Type: "AWS::EC2::Subnet",
      Properties: {
        VpcId: ref(LOGICAL.vpc),
        CidrBlock: cidrs[i + 2],
        AvailabilityZone: az(i),
        MapPublicIpOnLaunch: false,
        Tags: tagList(model, `${p}-private-${i + 1}`),
      },
    };
    r[LOGICAL.publicAssoc(i)] = {
      Type: "AWS::EC2::SubnetRouteTableAssociation",
      Properties: { SubnetId: ref(LOGICAL.publicSubnet(i)), RouteTableId: ref(LOGICAL.publicRouteTable) },
    };
    r[LOGICAL.privateAssoc(i)] = {
      Type: "AWS::EC2::SubnetRouteTableAssociation",
      Properties: { SubnetId: ref(LOGICAL.privateSubnet(i)), RouteTableId: ref(LOGICAL.privateRouteTable) },
    };
  }
  return {
    resources: r,
    refs: {
      vpcId: ref(LOGICAL.vpc),
      publicSubnets: [ref(LOGICAL.publicSubnet(0)), ref(LOGICAL.publicSubnet(1))],
      privateSubnets: [ref(LOGICAL.privateSubnet(0)), ref(LOGICAL.privateSubnet(1))],
    },
  };
}
