import { z } from "zod";

/**
 * Who may reach an AWS environment: its load balancer's scheme and the source addresses its
 * security group admits. Safe by default: an environment that says nothing gets an internal load
 * balancer, reachable from inside its VPC only. Pure.
 */

/** A security group holds 60 inbound IPv4 rules; each source CIDR takes one per listener port (80 and 443). */
export const MAX_SOURCE_CIDRS = 30;

const octet = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const ipv4Cidr = new RegExp(`^${octet}(\\.${octet}){3}/(3[0-2]|[12]?\\d)$`);

/** The address with its host bits cleared: 10.1.2.3/8 -> 10.0.0.0/8. Undefined when not a CIDR. */
export function canonicalCidr(cidr: string): string | undefined {
  if (!ipv4Cidr.test(cidr)) return undefined;
  const [address = "", bits = "0"] = cidr.split("/");
  const prefix = Number(bits);
  const value = address.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(value / size) * size;
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${octets.join(".")}/${prefix}`;
}

/** A CIDR that admits every IPv4 address. */
export function isWholeInternet(cidr: string): boolean {
  return cidr.endsWith("/0");
}

const SourceCidrSchema = z
  .string()
  .regex(ipv4Cidr, { message: "must be an IPv4 CIDR block such as 203.0.113.0/24" })
  .superRefine((v, ctx) => {
    const canonical = canonicalCidr(v);
    if (canonical !== undefined && canonical !== v)
      ctx.addIssue({
        code: "custom",
        message: `has host bits set: the block it names is ${canonical}. Write ${canonical}`,
      });
  });

export const OpenToInternetSchema = z
  .strictObject({
    acknowledged: z.literal(true, { error: "must be true: it acknowledges an endpoint open to the internet" }),
    reason: z
      .string()
      .refine((v) => v.trim().length >= 10, {
        message: "must say why the endpoint is open to the internet (at least 10 characters)",
      })
      .meta({ description: "Why the endpoint is open; printed with the warning on every command." }),
  })
  .meta({
    description:
      "Acknowledges that the whole internet (a source CIDR of 0.0.0.0/0) reaches an MLflow without basic auth or without HTTPS. Every command still prints a warning.",
  });

export const AccessSchema = z
  .strictObject({
    loadBalancer: z.enum(["internal", "internet-facing"]).default("internal").meta({
      description:
        "`internal` (default): the load balancer has private addresses only, reachable from inside the VPC and networks routed into it (VPN, peering, Transit Gateway). `internet-facing`: public addresses, limited to sourceCidrs.",
    }),
    sourceCidrs: z
      .array(SourceCidrSchema)
      .max(MAX_SOURCE_CIDRS, {
        message: `lists more than ${MAX_SOURCE_CIDRS} blocks: a security group holds 60 inbound rules and each block takes one per listener port. Merge blocks`,
      })
      .optional()
      .meta({
        description:
          "The IPv4 blocks the load balancer's security group admits. internet-facing: required. internal: default the new VPC's CIDR (required with an existing VPC, whose CIDR mlflow-dev does not look up).",
      }),
    openToInternet: OpenToInternetSchema.optional(),
  })
  .default({ loadBalancer: "internal" })
  .meta({
    description:
      "Who may reach this environment. Default: an internal load balancer. An endpoint open to the internet (0.0.0.0/0) needs mlflow.auth basic and HTTPS (domain and certificateArn), or openToInternet.",
  });

export type Access = z.output<typeof AccessSchema>;

/** What the checks read of an AWS environment and the spec. */
export interface ExposureInput {
  auth: "none" | "basic";
  access: Access;
  certificateArn?: string;
  network: { vpcId?: string };
}

export interface ExposureProblem {
  /** Below environments.<env>. */
  path: (string | number)[];
  message: string;
}

/** An environment reached by the whole internet without both basic auth and HTTPS: what it lacks. */
export function openEndpointGaps(env: ExposureInput): string[] | undefined {
  const { access } = env;
  if (access.loadBalancer !== "internet-facing" || !(access.sourceCidrs ?? []).some(isWholeInternet)) return undefined;
  const gaps = [
    ...(env.auth === "basic" ? [] : ["no authentication (mlflow.auth is none)"]),
    ...(env.certificateArn === undefined ? ["plain HTTP (no certificateArn)"] : []),
  ];
  return gaps.length ? gaps : undefined;
}

/** What would close the gaps openEndpointGaps found. */
export function closeGaps(env: ExposureInput): string {
  const steps = [
    ...(env.auth === "basic" ? [] : ["set mlflow.auth: basic"]),
    ...(env.certificateArn === undefined ? ["set domain and certificateArn (HTTPS)"] : []),
  ];
  return steps.join(" and ");
}

/** The rules of one AWS environment's exposure (errors). `name` is the environment's key. */
export function checkExposure(name: string, env: ExposureInput): ExposureProblem[] {
  const problems: ExposureProblem[] = [];
  const { access } = env;
  const at = `environments.${name}`;
  const cidrs = access.sourceCidrs ?? [];
  const seen = new Map<string, number>();
  cidrs.forEach((c, i) => {
    const first = seen.get(c);
    if (first === undefined) seen.set(c, i);
    else
      problems.push({
        path: ["access", "sourceCidrs", i],
        message: `lists ${c} again (first at ${at}.access.sourceCidrs[${first}]). List each block once`,
      });
  });
  if (access.loadBalancer === "internet-facing") {
    const who =
      "say who may reach the load balancer. List your offices' or VPN's public blocks (e.g. 203.0.113.0/24), or use loadBalancer: internal";
    if (access.sourceCidrs === undefined)
      problems.push({
        path: ["access", "loadBalancer"],
        message: `is internet-facing, but access.sourceCidrs is not set: ${who}`,
      });
    else if (cidrs.length === 0) problems.push({ path: ["access", "sourceCidrs"], message: `is empty: ${who}` });
    if (env.auth === "basic" && env.certificateArn === undefined)
      problems.push({
        path: ["access", "loadBalancer"],
        message:
          "is internet-facing, and mlflow.auth is basic without HTTPS: every request would carry the password in clear text across the internet. Set domain and certificateArn to serve HTTPS, or use loadBalancer: internal",
      });
  } else if (access.sourceCidrs === undefined && env.network.vpcId !== undefined)
    problems.push({
      path: ["access"],
      message:
        "needs sourceCidrs with an internal load balancer in an existing VPC: mlflow-dev does not look up the VPC's CIDR. List the VPC's CIDR and any VPN or peered blocks that should reach MLflow",
    });
  if (access.loadBalancer === "internal" && cidrs.some(isWholeInternet))
    problems.push({
      path: ["access", "sourceCidrs", cidrs.findIndex(isWholeInternet)],
      message:
        "admits every address to an internal load balancer. List the VPC's CIDR and the VPN or peered blocks that should reach MLflow",
    });
  const gaps = openEndpointGaps(env);
  if (access.openToInternet !== undefined && gaps === undefined)
    problems.push({
      path: ["access", "openToInternet"],
      message:
        access.loadBalancer === "internal"
          ? "acknowledges an endpoint open to the internet, but the load balancer is internal. Remove openToInternet"
          : cidrs.some(isWholeInternet)
            ? "acknowledges an endpoint open to the internet, but it has basic auth and HTTPS: nothing to acknowledge. Remove openToInternet"
            : "acknowledges an endpoint open to the internet, but no source CIDR is 0.0.0.0/0. Remove openToInternet",
    });
  if (gaps !== undefined && access.openToInternet === undefined && !(env.auth === "basic" && !env.certificateArn))
    problems.push({
      path: ["access", "sourceCidrs", cidrs.findIndex(isWholeInternet)],
      message: `opens the load balancer to the whole internet with ${gaps.join(" and ")}. ${capitalize(closeGaps(env))}, list narrower blocks, or acknowledge it with access.openToInternet: { acknowledged: true, reason: "..." }`,
    });
  return problems;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
