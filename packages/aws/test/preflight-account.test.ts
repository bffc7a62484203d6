import {
  DescribeAddressesCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
} from "@aws-sdk/client-ec2";
import { CreateServiceLinkedRoleCommand, GetRoleCommand, NoSuchEntityException } from "@aws-sdk/client-iam";
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  NoSuchResourceException,
} from "@aws-sdk/client-service-quotas";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AwsClients, createAwsClients, destroyAwsClients } from "../src/deploy/engine/clients.ts";
import { isIamPropagationError, retryIamPropagation } from "../src/deploy/engine/iam-propagation.ts";
import {
  accountPreflight,
  accountVerdicts,
  peakTasks,
  subnetCapacityVerdict,
} from "../src/deploy/engine/preflight-account.ts";
import { DeployError } from "../src/deploy/errors.ts";
import type { AwsModel } from "../src/index.ts";
import { fakeClock } from "./fake-clock.ts";
import { exampleModel, memoryReporter } from "./helpers.ts";

/**
 * The account checks before anything is created, against the SDK clients with their `send`
 * stubbed (aws-sdk-client-mock): each check's verdict from what AWS answers.
 */

// examples/existing-vpc prod: 2 tasks of 1 vCPU, no autoscaling, an internet-facing load balancer in
// the public subnets, tasks in the private subnets (egress: nat), the VPC's own NAT gateway.
const existing = exampleModel("existing-vpc", "prod");
// examples/basic staging: a new VPC, egress: public.
const basic = exampleModel("basic", "staging");
const PUBLIC = ["subnet-0a11111111111111a", "subnet-0b22222222222222b"];
const PRIVATE = ["subnet-0c33333333333333c", "subnet-0d44444444444444d"];

let clients: AwsClients;
// biome-ignore lint/suspicious/noExplicitAny: stubs of several clients, typed per client by the library
let stubs: any[] = [];

function stub<C extends object>(client: C) {
  const s = mockClient(client as never);
  stubs.push(s);
  return s;
}

function awsError(name: string, message: string) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}

function subnet(id: string, zone: string, cidr: string, free: number) {
  return {
    SubnetId: id,
    AvailabilityZone: zone,
    CidrBlock: cidr,
    AvailableIpAddressCount: free,
    VpcId: "vpc-0a1b2c3d4e5f60718",
  };
}

/** An account where everything passes: large subnets, NAT routes, the role, ample quotas. */
function healthyAccount(overrides: { free?: Record<string, number>; privateRoute?: string | undefined } = {}) {
  const ec2 = stub(clients.ec2);
  const free = (id: string) => overrides.free?.[id] ?? 250;
  ec2.on(DescribeSubnetsCommand).resolves({
    Subnets: [
      subnet(PUBLIC[0] as string, "eu-central-1a", "10.0.0.0/24", free(PUBLIC[0] as string)),
      subnet(PUBLIC[1] as string, "eu-central-1b", "10.0.1.0/24", free(PUBLIC[1] as string)),
      subnet(PRIVATE[0] as string, "eu-central-1a", "10.0.2.0/24", free(PRIVATE[0] as string)),
      subnet(PRIVATE[1] as string, "eu-central-1b", "10.0.3.0/24", free(PRIVATE[1] as string)),
    ],
  });
  const route = "privateRoute" in overrides ? overrides.privateRoute : "nat-0123456789abcdef0";
  ec2.on(DescribeRouteTablesCommand).resolves({
    RouteTables: [
      {
        RouteTableId: "rtb-private",
        Routes: [
          { DestinationCidrBlock: "10.0.0.0/16", GatewayId: "local", State: "active" },
          ...(route
            ? [
                {
                  DestinationCidrBlock: "0.0.0.0/0",
                  State: "active" as const,
                  ...(route.startsWith("nat-") ? { NatGatewayId: route } : { GatewayId: route }),
                },
              ]
            : []),
        ],
      },
    ],
  });
  ec2.on(DescribeVpcEndpointsCommand).resolves({ VpcEndpoints: [] });
  ec2.on(DescribeAddressesCommand).resolves({ Addresses: [] });
  const iam = stub(clients.iam);
  iam.on(GetRoleCommand).resolves({ Role: { RoleName: "AWSServiceRoleForECS" } as never });
  const quotas = stub(clients.serviceQuotas);
  quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 1000 } });
  return { ec2, iam, quotas };
}

beforeEach(async () => {
  clients = await createAwsClients({
    region: "eu-central-1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
  });
});

afterEach(() => {
  for (const s of stubs) s.restore();
  stubs = [];
  destroyAwsClients(clients);
});

function byCheck(verdicts: Awaited<ReturnType<typeof accountVerdicts>>, check: string) {
  const v = verdicts.find((x) => x.check === check);
  if (!v) throw new Error(`no verdict for ${check}: ${verdicts.map((x) => x.check).join(", ")}`);
  return v;
}

describe("free addresses in existing subnets", () => {
  it("a rollout's peak: the largest task count twice over, plus the migration task", () => {
    expect(peakTasks(existing)).toBe(5);
    const scaled = { ...existing, target: { ...existing.target, autoscaling: { min: 2, max: 6, targetCpu: 60 } } };
    expect(peakTasks(scaled as AwsModel)).toBe(13);
  });

  it("a /28 public subnet cannot hold the load balancer's 8 addresses beside what is there", async () => {
    // A /28 has 11 usable addresses; 5 are free. The public subnets take the load balancer (8);
    // the private ones take the tasks (5 over 2 subnets: 3 each) and the database (1): 4.
    healthyAccount({ free: { [PUBLIC[1] as string]: 5, [PRIVATE[0] as string]: 4 } });
    const v = byCheck(await accountVerdicts(existing, clients, "plan"), "subnet-ips");
    expect(v.status).toBe("fail");
    expect(v.message).toContain(
      `${PUBLIC[1]} (10.0.1.0/24, eu-central-1b) has 5 free addresses and needs 8: 8 for the load balancer`,
    );
    // Exactly enough is enough.
    expect(v.message).not.toContain(`${PRIVATE[0]} (`);
    expect(v.message).toContain("5 tasks at the peak: desiredCount 2 twice over during a rollout");
    expect(v.fix).toMatch(/a \/28 only 11/);
  });

  it("passes with the numbers when every subnet has room", () => {
    const v = subnetCapacityVerdict(existing, [
      { id: PUBLIC[0] as string, zone: "a", cidr: "10.0.0.0/24", free: 8 },
      { id: PRIVATE[0] as string, zone: "a", cidr: "10.0.2.0/24", free: 4 },
    ]);
    expect(v.status).toBe("ok");
    expect(v.message).toContain(`${PUBLIC[0]} 8 free (needs 8)`);
    expect(v.message).toContain(`${PRIVATE[0]} 4 free (needs 4)`);
  });
});

describe("a way out of the task subnets", () => {
  it("private subnets with neither a NAT route nor the endpoints: refused, naming what is missing", async () => {
    healthyAccount({ privateRoute: undefined });
    const v = byCheck(await accountVerdicts(existing, clients, "plan"), "egress-route");
    expect(v.status).toBe("fail");
    expect(v.message).toContain(`${PRIVATE[0]} routes 0.0.0.0/0 nowhere`);
    expect(v.message).toContain("com.amazonaws.eu-central-1.ecr.api");
    expect(v.message).toContain("ResourceInitializationError");
  });

  it("a default route to an internet gateway is no way out for tasks without a public IP", async () => {
    healthyAccount({ privateRoute: "igw-0123456789abcdef0" });
    const v = byCheck(await accountVerdicts(existing, clients, "plan"), "egress-route");
    expect(v.status).toBe("fail");
    expect(v.message).toContain("to igw-0123456789abcdef0 (not a NAT device)");
  });

  it("no NAT, but every endpoint the tasks need: passes", async () => {
    const { ec2 } = healthyAccount({ privateRoute: undefined });
    ec2.on(DescribeVpcEndpointsCommand).resolves({
      VpcEndpoints: ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "s3"].map((s) => ({
        ServiceName: `com.amazonaws.eu-central-1.${s}`,
        State: "Available" as const,
      })),
    });
    expect(byCheck(await accountVerdicts(existing, clients, "plan"), "egress-route").status).toBe("ok");
  });

  it("a NAT gateway route: passes without looking at endpoints", async () => {
    const { ec2 } = healthyAccount();
    expect(byCheck(await accountVerdicts(existing, clients, "plan"), "egress-route").status).toBe("ok");
    expect(ec2.commandCalls(DescribeVpcEndpointsCommand)).toHaveLength(0);
  });
});

describe("the ECS service-linked role", () => {
  it("missing: plan says promote creates it; promote creates it", async () => {
    const { iam } = healthyAccount();
    iam.on(GetRoleCommand).rejects(
      new NoSuchEntityException({
        message: "The role with name AWSServiceRoleForECS cannot be found.",
        $metadata: {},
      }),
    );
    const planned = byCheck(await accountVerdicts(basic, clients, "plan"), "ecs-service-linked-role");
    expect(planned.status).toBe("warn");
    expect(planned.message).toContain("promote creates it first");
    expect(iam.commandCalls(CreateServiceLinkedRoleCommand)).toHaveLength(0);

    iam.on(CreateServiceLinkedRoleCommand).resolves({ Role: { RoleName: "AWSServiceRoleForECS" } as never });
    const promoted = byCheck(await accountVerdicts(basic, clients, "promote"), "ecs-service-linked-role");
    expect(promoted).toMatchObject({
      status: "ok",
      message: "created the ECS service-linked role AWSServiceRoleForECS",
    });
    expect(iam.commandCalls(CreateServiceLinkedRoleCommand)[0]?.args[0].input).toEqual({
      AWSServiceName: "ecs.amazonaws.com",
    });
  });

  it("created meanwhile (the name is taken when promote creates it): passes", async () => {
    const { iam } = healthyAccount();
    iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: "not found", $metadata: {} }));
    iam
      .on(CreateServiceLinkedRoleCommand)
      .rejects(
        awsError(
          "InvalidInput",
          "Service role name AWSServiceRoleForECS has been taken in this account, please try a different suffix.",
        ),
      );
    expect(byCheck(await accountVerdicts(basic, clients, "promote"), "ecs-service-linked-role").status).toBe("ok");
  });

  it("missing and not creatable: promote refuses with the command that creates it", async () => {
    const { iam } = healthyAccount();
    iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: "not found", $metadata: {} }));
    iam
      .on(CreateServiceLinkedRoleCommand)
      .rejects(awsError("AccessDenied", "User is not authorized to perform: iam:CreateServiceLinkedRole"));
    const err = await accountPreflight(basic, clients, memoryReporter(), "promote").catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err.kind).toBe("input");
    expect(err.message).toContain("creating it failed (AccessDenied");
    expect(err.hint).toContain("aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com");
  });

  it("unreadable (no iam:GetRole): a warning, not a refusal", async () => {
    const { iam } = healthyAccount();
    iam.on(GetRoleCommand).rejects(awsError("AccessDenied", "not allowed"));
    const report = memoryReporter();
    const verdicts = await accountPreflight(basic, clients, report, "promote");
    expect(byCheck(verdicts, "ecs-service-linked-role").status).toBe("warn");
    expect(report.lines.join("\n")).toMatch(/could not check the ECS service-linked role/);
  });
});

describe("quotas", () => {
  it("a Fargate vCPU quota below the rollout's peak: refused with the numbers", async () => {
    const { quotas } = healthyAccount();
    // existing-vpc prod at its peak: 5 tasks × 1 vCPU.
    quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 4 } });
    const v = byCheck(await accountVerdicts(existing, clients, "plan"), "fargate-vcpu-quota");
    expect(v.status).toBe("fail");
    expect(v.message).toBe(
      "the rollout's peak needs 5 Fargate vCPUs (5 tasks × 1), above the account's quota of 4 in eu-central-1",
    );
    expect(quotas.commandCalls(GetServiceQuotaCommand)[0]?.args[0].input).toEqual({
      ServiceCode: "fargate",
      QuotaCode: "L-3032A538",
    });
  });

  it("a quota never raised is read from AWS's default", async () => {
    const { quotas } = healthyAccount();
    quotas
      .on(GetServiceQuotaCommand)
      .rejects(new NoSuchResourceException({ message: "no applied quota", $metadata: {} }));
    quotas.on(GetAWSDefaultServiceQuotaCommand).resolves({ Quota: { Value: 6 } });
    const v = byCheck(await accountVerdicts(existing, clients, "plan"), "fargate-vcpu-quota");
    expect(v.status).toBe("ok");
    expect(v.message).toContain("needs 5 of the quota's 6");
  });

  it("Service Quotas unreachable or refused: a warning", async () => {
    const { quotas } = healthyAccount();
    quotas.on(GetServiceQuotaCommand).rejects(awsError("AccessDeniedException", "not allowed"));
    expect(byCheck(await accountVerdicts(existing, clients, "plan"), "fargate-vcpu-quota").status).toBe("warn");
  });

  it("the NAT gateway's Elastic IP over the quota: refused; only a new VPC with egress: nat asks", async () => {
    const { ec2, quotas } = healthyAccount();
    const natModel = {
      ...basic,
      target: { ...basic.target, network: { ...basic.target.network, egress: "nat" as const } },
    } as AwsModel;
    quotas.on(GetServiceQuotaCommand, { ServiceCode: "ec2" }).resolves({ Quota: { Value: 5 } });
    ec2
      .on(DescribeAddressesCommand)
      .resolves({ Addresses: Array.from({ length: 5 }, (_, i) => ({ AllocationId: `eipalloc-${i}` })) });
    const v = byCheck(await accountVerdicts(natModel, clients, "plan"), "eip-quota");
    expect(v.status).toBe("fail");
    expect(v.message).toContain("already holds 5 of its 5");
    expect((await accountVerdicts(basic, clients, "plan")).some((x) => x.check === "eip-quota")).toBe(false);
  });
});

describe("IAM propagation at the first AssumeRole", () => {
  const propagating = () =>
    awsError(
      "InvalidParameterException",
      "ECS was unable to assume the role 'arn:aws:iam::123456789012:role/x' that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role.",
    );

  it("tells propagation from other refusals", () => {
    expect(isIamPropagationError(propagating())).toBe(true);
    expect(isIamPropagationError(awsError("InvalidParameterException", "subnet-1 does not exist"))).toBe(false);
    expect(isIamPropagationError(awsError("ThrottlingException", "unable to assume the role"))).toBe(false);
  });

  it("retries a bounded number of times, waiting longer each time, then gives the error", async () => {
    const clock = fakeClock();
    const report = memoryReporter();
    let calls = 0;
    const ok = await retryIamPropagation(
      "starting the task",
      async () => {
        calls++;
        if (calls < 3) throw propagating();
        return "started";
      },
      { clock, report },
    );
    expect(ok).toBe("started");
    expect(calls).toBe(3);
    expect(clock.slept).toEqual([5_000, 10_000]);
    expect(report.lines.join("\n")).toContain("IAM has not propagated the new role yet");

    calls = 0;
    const err = await retryIamPropagation(
      "starting the task",
      async () => {
        calls++;
        throw propagating();
      },
      { clock: fakeClock(), report },
    ).catch((e) => e);
    expect(calls).toBe(6);
    expect(err.name).toBe("InvalidParameterException");

    calls = 0;
    await retryIamPropagation(
      "starting the task",
      async () => {
        calls++;
        throw awsError("InvalidParameterException", "subnet-1 does not exist");
      },
      { clock: fakeClock(), report },
    ).catch(() => undefined);
    expect(calls).toBe(1);
  });
});
