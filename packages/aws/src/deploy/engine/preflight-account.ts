import type { Reporter } from "@mlflow-dev/kernel/progress";
import type { ExistingNetwork } from "@mlflow-dev/spec";
import { ROLLOUT_OVERLAP } from "@mlflow-dev/spec";
import type { AwsModel } from "../../render/aws-model.ts";
import { awsErrorMessage, awsErrorName, DeployError } from "../errors.ts";
import type { AwsClients } from "./clients.ts";

/**
 * The first rollout's traps, checked against the account before anything is created (plan and
 * promote): free addresses in existing subnets, the ECS service-linked role, a way out of private
 * subnets (a NAT gateway or the VPC endpoints the tasks need), the Fargate vCPU and Elastic IP
 * quotas. Each check gives a verdict: ok, warn (could not be checked, or promote will fix it) or
 * fail (promote would fail later, after creating things), with a message and a fix.
 */

export type VerdictStatus = "ok" | "warn" | "fail";

export type PreflightCheck =
  | "subnet-ips"
  | "ecs-service-linked-role"
  | "egress-route"
  | "fargate-vcpu-quota"
  | "eip-quota";

export interface PreflightVerdict {
  check: PreflightCheck;
  status: VerdictStatus;
  message: string;
  fix?: string;
}

/** One-off tasks that run beside the service (the migration task). */
export const ONE_OFF_TASKS = 1;
/** Free addresses an Application Load Balancer needs in each of its subnets (AWS's documented minimum). */
export const LOAD_BALANCER_ADDRESSES = 8;
/** Addresses the database takes in a private subnet (its instance; a Multi-AZ standby in the other zone). */
export const DATABASE_ADDRESSES = 1;
export const ECS_SERVICE_LINKED_ROLE = "AWSServiceRoleForECS";
/** Service Quotas codes: Fargate On-Demand vCPU resource count, and EC2-VPC Elastic IPs. */
export const FARGATE_VCPU_QUOTA = { ServiceCode: "fargate", QuotaCode: "L-3032A538" } as const;
export const ELASTIC_IP_QUOTA = { ServiceCode: "ec2", QuotaCode: "L-0263D0A3" } as const;

/** Tasks at once at the peak: the largest task count twice over during a rollout, plus the one-off tasks. */
export function peakTasks(model: AwsModel): number {
  const t = model.target;
  return (t.autoscaling?.max ?? t.desiredCount) * ROLLOUT_OVERLAP + ONE_OFF_TASKS;
}

export interface SubnetFacts {
  id: string;
  zone: string;
  cidr: string;
  free: number;
}

/**
 * Whether each existing subnet has the addresses this environment takes in it: its share of the
 * tasks at the peak (spread over the task subnets), the load balancer's 8, the database's 1. Pure.
 */
export function subnetCapacityVerdict(model: AwsModel, subnets: readonly SubnetFacts[]): PreflightVerdict {
  const n = model.target.network;
  if (n.mode !== "existing")
    return { check: "subnet-ips", status: "ok", message: "new VPC: mlflow-dev sizes its subnets" };
  const taskSubnets = n.egress === "public" ? n.publicSubnetIds : n.privateSubnetIds;
  const lbSubnets = model.target.access.loadBalancer === "internal" ? n.privateSubnetIds : n.publicSubnetIds;
  const peak = peakTasks(model);
  const perTaskSubnet = Math.ceil(peak / Math.max(taskSubnets.length, 1));
  const short: string[] = [];
  const seen: string[] = [];
  for (const s of subnets) {
    const parts: string[] = [];
    let need = 0;
    if (taskSubnets.includes(s.id)) {
      need += perTaskSubnet;
      parts.push(`${perTaskSubnet} for tasks`);
    }
    if (lbSubnets.includes(s.id)) {
      need += LOAD_BALANCER_ADDRESSES;
      parts.push(`${LOAD_BALANCER_ADDRESSES} for the load balancer`);
    }
    if (n.privateSubnetIds.includes(s.id)) {
      need += DATABASE_ADDRESSES;
      parts.push(`${DATABASE_ADDRESSES} for the database`);
    }
    if (need === 0) continue;
    seen.push(`${s.id} ${s.free} free (needs ${need})`);
    if (s.free < need)
      short.push(`${s.id} (${s.cidr}, ${s.zone}) has ${s.free} free addresses and needs ${need}: ${parts.join(", ")}`);
  }
  const peakText = `${peak} tasks at the peak: ${model.target.autoscaling ? "autoscaling.max" : "desiredCount"} ${model.target.autoscaling?.max ?? model.target.desiredCount} twice over during a rollout (maximumPercent 200), plus the migration task`;
  if (short.length)
    return {
      check: "subnet-ips",
      status: "fail",
      message: `too few free addresses: ${short.join("; ")} (${peakText})`,
      fix: "Use larger subnets (a /24 has 251 free addresses, a /28 only 11), free addresses in these, or lower desiredCount or autoscaling.max",
    };
  return { check: "subnet-ips", status: "ok", message: `free addresses: ${seen.join(", ")} (${peakText})` };
}

export interface RouteFacts {
  subnetId: string;
  /** The default route's target (nat-..., igw-..., tgw-..., eni-..., i-...), undefined without one. */
  defaultTarget: string | undefined;
}

/** The interface endpoints a task without internet access needs, and the S3 gateway endpoint (image layers). */
export function requiredEndpoints(region: string): string[] {
  return ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "s3"].map((s) => `com.amazonaws.${region}.${s}`);
}

/**
 * Whether the tasks can reach ECR, CloudWatch Logs and Secrets Manager from their subnets: with
 * egress: public through an internet gateway; with egress: nat through a NAT gateway (or another
 * NAT device, a transit gateway), or else through VPC endpoints for every service. Without that
 * the tasks fail to start with ResourceInitializationError. Pure.
 */
export function egressVerdict(
  model: AwsModel,
  routes: readonly RouteFacts[],
  endpointServices: readonly string[],
): PreflightVerdict {
  const n = model.target.network;
  if (n.mode !== "existing")
    return { check: "egress-route", status: "ok", message: "new VPC: mlflow-dev creates its routes" };
  if (n.egress === "public") {
    const noIgw = routes.filter((r) => !r.defaultTarget?.startsWith("igw-"));
    if (noIgw.length)
      return {
        check: "egress-route",
        status: "fail",
        message: `egress: public, but ${noIgw.map((r) => `${r.subnetId} routes 0.0.0.0/0 ${r.defaultTarget ? `to ${r.defaultTarget}` : "nowhere"}`).join(", ")}: tasks with a public IP there cannot reach ECR, Secrets Manager or CloudWatch Logs`,
        fix: "List public subnets (a default route to an internet gateway) in network.publicSubnetIds, or use egress: nat",
      };
    return { check: "egress-route", status: "ok", message: "the public subnets route to an internet gateway" };
  }
  const throughNat = (t: string | undefined) => t !== undefined && /^(nat|tgw|eni|i|vpce|pcx)-/.test(t);
  const noNat = routes.filter((r) => !throughNat(r.defaultTarget));
  if (noNat.length === 0)
    return { check: "egress-route", status: "ok", message: "the private subnets route to the internet through NAT" };
  const missing = requiredEndpoints(model.target.region).filter((s) => !endpointServices.includes(s));
  if (missing.length === 0)
    return {
      check: "egress-route",
      status: "ok",
      message: `${noNat.map((r) => r.subnetId).join(", ")} have no NAT route; the VPC has endpoints for ECR, CloudWatch Logs, Secrets Manager and S3`,
    };
  return {
    check: "egress-route",
    status: "fail",
    message: `egress: nat, but ${noNat.map((r) => `${r.subnetId} routes 0.0.0.0/0 ${r.defaultTarget ? `to ${r.defaultTarget} (not a NAT device)` : "nowhere"}`).join(", ")} and the VPC has no endpoint for ${missing.join(", ")}: tasks there fail to start (ResourceInitializationError)`,
    fix: "Route the private subnets' 0.0.0.0/0 through a NAT gateway, or add the missing VPC endpoints (interface endpoints, private DNS on; S3 as a gateway endpoint), or use egress: public",
  };
}

/** Fargate vCPUs at the peak against the account's quota. Pure. */
export function fargateQuotaVerdict(model: AwsModel, quota: number): PreflightVerdict {
  const vcpus = (peakTasks(model) * model.resources.cpu) / 1024;
  if (vcpus > quota)
    return {
      check: "fargate-vcpu-quota",
      status: "fail",
      message: `the rollout's peak needs ${vcpus} Fargate vCPUs (${peakTasks(model)} tasks × ${model.resources.cpu / 1024}), above the account's quota of ${quota} in ${model.target.region}`,
      fix: `Ask for more in Service Quotas (AWS Fargate, "Fargate On-Demand vCPU resource count", ${FARGATE_VCPU_QUOTA.QuotaCode}), or lower the task size, desiredCount or autoscaling.max`,
    };
  return {
    check: "fargate-vcpu-quota",
    status: "ok",
    message: `Fargate vCPUs: the peak needs ${vcpus} of the quota's ${quota} (other tasks of the account in ${model.target.region} count too)`,
  };
}

/** One Elastic IP for the stack's NAT gateway, against the addresses already allocated and the quota. Pure. */
export function elasticIpVerdict(model: AwsModel, allocated: number, quota: number): PreflightVerdict {
  if (allocated + 1 > quota)
    return {
      check: "eip-quota",
      status: "fail",
      message: `the NAT gateway needs an Elastic IP, and the account already holds ${allocated} of its ${quota} in ${model.target.region}`,
      fix: `Release an unused address (\`aws ec2 describe-addresses\`), ask for more in Service Quotas (Amazon EC2, "EC2-VPC Elastic IPs", ${ELASTIC_IP_QUOTA.QuotaCode}), or use egress: public`,
    };
  return {
    check: "eip-quota",
    status: "ok",
    message: `Elastic IPs: ${allocated} of ${quota} in use, the NAT gateway takes one more`,
  };
}

/** A check that could not run: a warning naming the call, never a refusal. */
function couldNotCheck(check: PreflightCheck, what: string, e: unknown, consequence: string): PreflightVerdict {
  return {
    check,
    status: "warn",
    message: `could not check ${what} (${awsErrorName(e) || "error"}: ${awsErrorMessage(e).split("\n")[0]}); ${consequence}`,
  };
}

async function subnetFacts(clients: AwsClients, n: ExistingNetwork): Promise<SubnetFacts[]> {
  const ids = [...new Set([...n.publicSubnetIds, ...n.privateSubnetIds])];
  const r = await clients.ec2.describeSubnets({ SubnetIds: ids });
  return (r.Subnets ?? []).map((s) => ({
    id: s.SubnetId ?? "",
    zone: s.AvailabilityZone ?? "",
    cidr: s.CidrBlock ?? "",
    free: s.AvailableIpAddressCount ?? 0,
  }));
}

async function routeFacts(
  clients: AwsClients,
  n: ExistingNetwork,
  subnetIds: readonly string[],
): Promise<RouteFacts[]> {
  const out: RouteFacts[] = [];
  let main: string | undefined | null = null;
  for (const subnetId of subnetIds) {
    const r = await clients.ec2.describeRouteTables({
      Filters: [{ Name: "association.subnet-id", Values: [subnetId] }],
    });
    let table = r.RouteTables?.[0];
    if (!table) {
      // A subnet without its own association uses the VPC's main route table.
      if (main === null) {
        const m = await clients.ec2.describeRouteTables({
          Filters: [
            { Name: "vpc-id", Values: [n.vpcId] },
            { Name: "association.main", Values: ["true"] },
          ],
        });
        table = m.RouteTables?.[0];
        main = table?.RouteTableId;
      }
    }
    const route = table?.Routes?.find((x) => x.DestinationCidrBlock === "0.0.0.0/0" && x.State !== "blackhole");
    const target =
      route?.NatGatewayId ??
      route?.GatewayId ??
      route?.TransitGatewayId ??
      route?.NetworkInterfaceId ??
      route?.InstanceId ??
      route?.VpcPeeringConnectionId;
    out.push({ subnetId, defaultTarget: target });
  }
  return out;
}

async function endpointServices(clients: AwsClients, vpcId: string): Promise<string[]> {
  const r = await clients.ec2.describeVpcEndpoints({ Filters: [{ Name: "vpc-id", Values: [vpcId] }] });
  return (r.VpcEndpoints ?? [])
    .filter((e) => e.VpcId === undefined || e.VpcId === vpcId)
    .filter((e) => !["deleted", "deleting", "failed", "rejected"].includes(String(e.State ?? "").toLowerCase()))
    .map((e) => e.ServiceName ?? "");
}

async function quotaValue(clients: AwsClients, q: { ServiceCode: string; QuotaCode: string }): Promise<number> {
  try {
    const r = await clients.serviceQuotas.getServiceQuota(q);
    if (r.Quota?.Value !== undefined) return r.Quota.Value;
  } catch (e) {
    if (awsErrorName(e) !== "NoSuchResourceException") throw e;
  }
  // A quota never raised may exist only as AWS's default.
  const d = await clients.serviceQuotas.getAWSDefaultServiceQuota(q);
  if (d.Quota?.Value === undefined) throw new Error(`no value for ${q.ServiceCode}/${q.QuotaCode}`);
  return d.Quota.Value;
}

/**
 * The ECS service-linked role, which ECS creates when the first cluster is made: on a fresh account
 * that can race the cluster's service. plan says promote will create it; promote creates it.
 */
async function serviceLinkedRoleVerdict(clients: AwsClients, purpose: "plan" | "promote"): Promise<PreflightVerdict> {
  const check = "ecs-service-linked-role";
  try {
    await clients.iam.getRole({ RoleName: ECS_SERVICE_LINKED_ROLE });
    return { check, status: "ok", message: `the ECS service-linked role ${ECS_SERVICE_LINKED_ROLE} exists` };
  } catch (e) {
    if (awsErrorName(e) !== "NoSuchEntityException" && awsErrorName(e) !== "NoSuchEntity")
      return couldNotCheck(
        check,
        `the ECS service-linked role (iam:GetRole ${ECS_SERVICE_LINKED_ROLE})`,
        e,
        "in an account that never ran ECS the first cluster may fail until it exists",
      );
  }
  const fix = "Create it once per account: aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com";
  if (purpose === "plan")
    return {
      check,
      status: "warn",
      message: `the account has no ECS service-linked role (${ECS_SERVICE_LINKED_ROLE}): promote creates it first (ECS's own creation at the first cluster can race the service)`,
      fix,
    };
  try {
    await clients.iam.createServiceLinkedRole({ AWSServiceName: "ecs.amazonaws.com" });
    return { check, status: "ok", message: `created the ECS service-linked role ${ECS_SERVICE_LINKED_ROLE}` };
  } catch (e) {
    // Created meanwhile (by ECS's first cluster, or a promote beside this one): AWS says the name "has been taken".
    if (/EntityAlreadyExists/.test(awsErrorName(e)) || /has been taken|already exists/i.test(awsErrorMessage(e)))
      return { check, status: "ok", message: `the ECS service-linked role ${ECS_SERVICE_LINKED_ROLE} exists` };
    return {
      check,
      status: "fail",
      message: `the account has no ECS service-linked role (${ECS_SERVICE_LINKED_ROLE}) and creating it failed (${awsErrorName(e)}: ${awsErrorMessage(e).split("\n")[0]})`,
      fix: `${fix} (with iam:CreateServiceLinkedRole), then run promote again`,
    };
  }
}

/** Every account check, in order; none of them changes anything, except promote creating the ECS service-linked role. */
export async function accountVerdicts(
  model: AwsModel,
  clients: AwsClients,
  purpose: "plan" | "promote",
): Promise<PreflightVerdict[]> {
  const n = model.target.network;
  const verdicts: PreflightVerdict[] = [];
  if (n.mode === "existing") {
    try {
      verdicts.push(subnetCapacityVerdict(model, await subnetFacts(clients, n)));
    } catch (e) {
      verdicts.push(
        couldNotCheck(
          "subnet-ips",
          "the subnets' free addresses (ec2:DescribeSubnets)",
          e,
          "a rollout may run out of addresses",
        ),
      );
    }
    try {
      const taskSubnets = n.egress === "public" ? n.publicSubnetIds : n.privateSubnetIds;
      const routes = await routeFacts(clients, n, taskSubnets);
      const needEndpoints =
        n.egress === "nat" && routes.some((r) => !/^(nat|tgw|eni|i|vpce|pcx)-/.test(r.defaultTarget ?? ""));
      verdicts.push(egressVerdict(model, routes, needEndpoints ? await endpointServices(clients, n.vpcId) : []));
    } catch (e) {
      verdicts.push(
        couldNotCheck(
          "egress-route",
          "the task subnets' routes (ec2:DescribeRouteTables, ec2:DescribeVpcEndpoints)",
          e,
          "tasks without a way out fail with ResourceInitializationError",
        ),
      );
    }
  }
  verdicts.push(await serviceLinkedRoleVerdict(clients, purpose));
  try {
    verdicts.push(fargateQuotaVerdict(model, await quotaValue(clients, FARGATE_VCPU_QUOTA)));
  } catch (e) {
    verdicts.push(
      couldNotCheck(
        "fargate-vcpu-quota",
        "the Fargate vCPU quota (servicequotas:GetServiceQuota)",
        e,
        "a rollout above it leaves tasks PENDING",
      ),
    );
  }
  if (n.mode === "new" && n.egress === "nat") {
    try {
      const quota = await quotaValue(clients, ELASTIC_IP_QUOTA);
      const allocated = (await clients.ec2.describeAddresses({})).Addresses?.length ?? 0;
      verdicts.push(elasticIpVerdict(model, allocated, quota));
    } catch (e) {
      verdicts.push(
        couldNotCheck(
          "eip-quota",
          "the Elastic IP quota (servicequotas:GetServiceQuota, ec2:DescribeAddresses)",
          e,
          "the NAT gateway's address may be refused",
        ),
      );
    }
  }
  return verdicts;
}

/** Runs the account checks, reports each verdict, and refuses (exit 2) when one fails. */
export async function accountPreflight(
  model: AwsModel,
  clients: AwsClients,
  report: Reporter,
  purpose: "plan" | "promote",
): Promise<PreflightVerdict[]> {
  const verdicts = await accountVerdicts(model, clients, purpose);
  for (const v of verdicts) {
    if (v.status === "ok") report.info(v.message);
    else if (v.status === "warn") report.warn(v.fix ? `${v.message}. ${v.fix}` : v.message);
  }
  const failed = verdicts.filter((v) => v.status === "fail");
  if (failed.length)
    throw new DeployError(
      failed.length === 1
        ? `environments.${model.environment}: ${failed[0]?.message}: nothing was created`
        : `environments.${model.environment}: ${failed.length} checks failed, nothing was created:\n${failed.map((v) => `  - ${v.message}`).join("\n")}`,
      {
        kind: "input",
        hint: failed
          .map((v) => v.fix)
          .filter(Boolean)
          .join("\n"),
      },
    );
  return verdicts;
}

/** The verdicts for humans, one line each: ok, ! warn, x fail. */
export function formatVerdicts(verdicts: readonly PreflightVerdict[]): string[] {
  return verdicts.map(
    (v) =>
      `  ${v.status === "ok" ? " " : v.status === "warn" ? "!" : "x"} ${v.check}: ${v.message}${v.fix && v.status !== "ok" ? `. ${v.fix}` : ""}`,
  );
}
