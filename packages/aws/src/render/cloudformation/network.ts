import type { AwsModel } from "../aws-model.ts";
import { LogicalId, stackName } from "../names.ts";
import { formatCidr, parseCidr, splitCidr } from "./cidr.ts";
import { availabilityZone, type Expr, getAtt, ref, sub } from "./intrinsics.ts";
import { type Resources, resource } from "./resource.ts";
import { toNamedTags } from "./tags.ts";

/** How the rest of the template refers to the network, whichever mode created it. */
export interface NetworkRefs {
  vpcId: Expr;
  publicSubnetIds: Expr[];
  privateSubnetIds: Expr[];
  /** Where the MLflow and migration tasks run: the private subnets, or the public ones with egress: public. */
  taskSubnetIds: Expr[];
}

/**
 * AssignPublicIp of the tasks. With egress: public they run in the public subnets and reach the
 * internet (image registry, Secrets Manager, CloudWatch Logs) through the internet gateway, which
 * needs a public IP; their security group still admits only the load balancer.
 */
export function taskAssignPublicIp(model: AwsModel): "ENABLED" | "DISABLED" {
  return model.target.network.egress === "public" ? "ENABLED" : "DISABLED";
}

const ZONES = [0, 1] as const;

/**
 * A new VPC (2 public + 2 private subnets in two zones, one NAT gateway, an S3 gateway endpoint),
 * or nothing for an existing VPC, whose ids the spec gives.
 */
export function toNetwork(model: AwsModel): { resources: Resources; refs: NetworkRefs } {
  const target = model.target;
  const n = target.network;
  const publicTasks = n.egress === "public";
  if (n.mode === "existing") {
    const publicSubnetIds = [...n.publicSubnetIds];
    const privateSubnetIds = [...n.privateSubnetIds];
    return {
      resources: {},
      refs: {
        vpcId: n.vpcId,
        publicSubnetIds,
        privateSubnetIds,
        taskSubnetIds: publicTasks ? [...publicSubnetIds] : [...privateSubnetIds],
      },
    };
  }
  const publicSubnetIds = ZONES.map((i) => ref(LogicalId.publicSubnet(i)));
  const privateSubnetIds = ZONES.map((i) => ref(LogicalId.privateSubnet(i)));
  return {
    resources: toNewVpcResources(model, n.cidr, publicTasks),
    refs: {
      vpcId: ref(LogicalId.vpc),
      publicSubnetIds,
      privateSubnetIds,
      taskSubnetIds: ZONES.map((i) => ref(publicTasks ? LogicalId.publicSubnet(i) : LogicalId.privateSubnet(i))),
    },
  };
}

/** The VPC block split in four, in order: public 1, public 2, private 1, private 2. */
export function subnetCidrs(vpcCidr: string): { public: string[]; private: string[] } {
  const cidr = parseCidr(vpcCidr);
  if (!cidr) throw new Error(`internal error: ${vpcCidr} passed the compatibility check but is not a CIDR block`);
  const blocks = splitCidr(cidr, 2).map(formatCidr);
  return { public: blocks.slice(0, 2), private: blocks.slice(2, 4) };
}

function toNewVpcResources(model: AwsModel, vpcCidr: string, publicTasks: boolean): Resources {
  const name = stackName(model);
  const cidrs = subnetCidrs(vpcCidr);
  const vpc = ref(LogicalId.vpc);
  const resources: Resources = {
    [LogicalId.vpc]: resource("AWS::EC2::VPC", {
      CidrBlock: vpcCidr,
      EnableDnsHostnames: true,
      EnableDnsSupport: true,
      Tags: toNamedTags(model, name),
    }),
    [LogicalId.internetGateway]: resource("AWS::EC2::InternetGateway", { Tags: toNamedTags(model, name) }),
    [LogicalId.internetGatewayAttachment]: resource("AWS::EC2::VPCGatewayAttachment", {
      InternetGatewayId: ref(LogicalId.internetGateway),
      VpcId: vpc,
    }),
  };
  for (const i of ZONES) {
    resources[LogicalId.publicSubnet(i)] = toSubnet(model, cidrs.public[i] ?? "", i, `${name}-public-${i + 1}`);
    resources[LogicalId.privateSubnet(i)] = toSubnet(model, cidrs.private[i] ?? "", i, `${name}-private-${i + 1}`);
  }
  // egress: public: no NAT gateway (and no Elastic IP); the private subnets (the database) get no
  // route to the internet at all, only the S3 gateway endpoint.
  Object.assign(
    resources,
    toPublicRouting(model),
    publicTasks ? {} : toNatGateway(model),
    toPrivateRouting(model, publicTasks),
  );
  return resources;
}

function toSubnet(model: AwsModel, cidr: string, zone: number, name: string) {
  return resource("AWS::EC2::Subnet", {
    VpcId: ref(LogicalId.vpc),
    CidrBlock: cidr,
    AvailabilityZone: availabilityZone(zone),
    MapPublicIpOnLaunch: false,
    Tags: toNamedTags(model, name),
  });
}

function toPublicRouting(model: AwsModel): Resources {
  const resources: Resources = {
    [LogicalId.publicRouteTable]: resource("AWS::EC2::RouteTable", {
      VpcId: ref(LogicalId.vpc),
      Tags: toNamedTags(model, `${stackName(model)}-public`),
    }),
    [LogicalId.publicDefaultRoute]: resource(
      "AWS::EC2::Route",
      {
        RouteTableId: ref(LogicalId.publicRouteTable),
        DestinationCidrBlock: "0.0.0.0/0",
        GatewayId: ref(LogicalId.internetGateway),
      },
      { dependsOn: [LogicalId.internetGatewayAttachment] },
    ),
  };
  for (const i of ZONES)
    resources[LogicalId.publicSubnetRouteTableAssociation(i)] = resource("AWS::EC2::SubnetRouteTableAssociation", {
      RouteTableId: ref(LogicalId.publicRouteTable),
      SubnetId: ref(LogicalId.publicSubnet(i)),
    });
  return resources;
}

/** One NAT gateway (in public subnet 1): tasks pull images and reach Secrets Manager and logs through it. */
function toNatGateway(model: AwsModel): Resources {
  const name = `${stackName(model)}-nat`;
  return {
    [LogicalId.natEip]: resource(
      "AWS::EC2::EIP",
      { Domain: "vpc", Tags: toNamedTags(model, name) },
      { dependsOn: [LogicalId.internetGatewayAttachment] },
    ),
    [LogicalId.natGateway]: resource("AWS::EC2::NatGateway", {
      AllocationId: getAtt(LogicalId.natEip, "AllocationId"),
      SubnetId: ref(LogicalId.publicSubnet(0)),
      Tags: toNamedTags(model, name),
    }),
  };
}

/**
 * Private subnets route to the internet through the NAT gateway (egress: nat only), and to S3
 * through a free gateway endpoint.
 */
function toPrivateRouting(model: AwsModel, publicTasks: boolean): Resources {
  const resources: Resources = {
    [LogicalId.privateRouteTable]: resource("AWS::EC2::RouteTable", {
      VpcId: ref(LogicalId.vpc),
      Tags: toNamedTags(model, `${stackName(model)}-private`),
    }),
  };
  if (!publicTasks)
    resources[LogicalId.privateDefaultRoute] = resource("AWS::EC2::Route", {
      RouteTableId: ref(LogicalId.privateRouteTable),
      DestinationCidrBlock: "0.0.0.0/0",
      NatGatewayId: ref(LogicalId.natGateway),
    });
  for (const i of ZONES)
    resources[LogicalId.privateSubnetRouteTableAssociation(i)] = resource("AWS::EC2::SubnetRouteTableAssociation", {
      RouteTableId: ref(LogicalId.privateRouteTable),
      SubnetId: ref(LogicalId.privateSubnet(i)),
    });
  resources[LogicalId.s3Endpoint] = resource("AWS::EC2::VPCEndpoint", {
    VpcId: ref(LogicalId.vpc),
    ServiceName: sub("com.amazonaws.${AWS::Region}.s3"),
    VpcEndpointType: "Gateway",
    RouteTableIds: [ref(LogicalId.privateRouteTable)],
    Tags: toNamedTags(model, `${stackName(model)}-s3`),
  });
  return resources;
}
