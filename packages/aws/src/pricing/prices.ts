/**
 * The price table `plan` estimates an environment's monthly cost from: AWS list prices in USD,
 * on-demand (no Savings Plans, reserved instances or free tier), Linux, for every region the
 * examples use (eu-west-1, eu-central-1) and us-east-1. Data only; `cost.ts` does the arithmetic.
 *
 * AWS changes prices without notice and its pricing pages render the regional figures in the
 * browser, so every region says where its figures were checked (`checked`) and which were not
 * (`unconfirmed`). Moving a price is an edit of this file, its `asOf` date and its sources.
 */

export const PRICES_AS_OF = "2026-12-07";

/** Hours in the month the estimate bills (AWS's calculator uses 730: 8,760 / 12). */
export const HOURS_PER_MONTH = 730;

export type FargateArchitecture = "x86" | "arm";

export interface RegionPrices {
  /** Fargate, Linux, per vCPU-hour and per GB-hour of the task size. */
  fargate: Record<FargateArchitecture, { vcpuHour: number; gbHour: number }>;
  /** Fargate ephemeral storage per GB-hour, billed only beyond the 20 GB every task gets. */
  fargateEphemeralGbHour: number;
  rds: {
    /** RDS for PostgreSQL, Single-AZ, per instance-hour (Multi-AZ: twice, a standby in a second zone). */
    instanceHour: Readonly<Record<string, number>>;
    /** gp3 storage per GB-month, Single-AZ (Multi-AZ: twice). */
    gp3GbMonth: number;
    /** Backup storage per GB-month beyond the free allowance (the provisioned storage). */
    backupGbMonth: number;
  };
  alb: { hour: number; lcuHour: number };
  nat: { hour: number; gbProcessed: number };
  /** Every public IPv4 address, attached or idle, per hour. */
  publicIpv4Hour: number;
  /** S3 Standard, first 50 TB, per GB-month. */
  s3StandardGbMonth: number;
  /** Secrets Manager, per secret per month (API calls: $0.05 per 10,000, left out). */
  secretMonth: number;
  /** CloudWatch Logs standard ingestion per GB, and storage per GB-month. */
  logs: { ingestGb: number; storeGbMonth: number };
  /** CloudWatch custom metrics, first 10,000, per metric-month (what Container Insights is billed as). */
  metricMonth: number;
  /** ECR private repository storage per GB-month. */
  ecrGbMonth: number;
}

export interface RegionPriceEntry {
  name: string;
  prices: RegionPrices;
  /** The prices that were checked against the sources below. */
  checked: string;
  /** The prices that could not be confirmed from a published page at `PRICES_AS_OF`. */
  unconfirmed: string;
}

/** Where the figures come from: AWS's pricing pages, and pages that quote them with their date. */
export const PRICE_SOURCES = {
  fargate: "https://aws.amazon.com/fargate/pricing/",
  fargateQuoted: "https://www.vantage.sh/blog/fargate-pricing (us-east-1 Linux/x86 and Linux/ARM rates)",
  rds: "https://aws.amazon.com/rds/postgresql/pricing/",
  rdsQuoted:
    "https://infratally.com/articles/aws-rds-pricing-explained-2026.html (us-east-1 t4g classes, Multi-AZ twice); https://www.usage.ai/blogs/aws/reserved-instances/rds/pricing-calculator/ (gp3 $0.115, backup $0.095 beyond 100% of the provisioned storage)",
  rdsBilling:
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_OnDemandDBInstances.html (Multi-AZ bills both instances and both volumes)",
  elb: "https://aws.amazon.com/elasticloadbalancing/pricing/",
  elbQuoted:
    "https://handbook.vantage.sh/aws/services/elb-pricing (what one LCU is); https://cal53.calculator.city/aws-alb-cost-calculator/ (ALB hour: us-east-1 $0.0225, eu-west-1 $0.0252)",
  vpc: "https://aws.amazon.com/vpc/pricing/ (NAT gateway, public IPv4 addresses)",
  vpcQuoted:
    "https://cloudburn.io/blog/aws-nat-gateway-pricing (us-east-1 NAT $0.045/h and $0.045/GB, public IPv4 $0.005/h); https://cloudpipelines.pages.dev/guides/aws-nat-gateway-pricing-2026/ (Europe $0.048-$0.052)",
  s3: "https://aws.amazon.com/s3/pricing/",
  secretsManager: "https://aws.amazon.com/secrets-manager/pricing/",
  cloudwatch: "https://aws.amazon.com/cloudwatch/pricing/",
  cloudwatchQuoted:
    "https://hykell.com/kb/platform-specific-guides/aws-cloudwatch-logs-pricing (us-east-1 $0.50/GB ingested, $0.03/GB-month stored)",
  ecr: "https://aws.amazon.com/ecr/pricing/",
} as const;

const US_EAST_1: RegionPrices = {
  fargate: { x86: { vcpuHour: 0.04048, gbHour: 0.004445 }, arm: { vcpuHour: 0.03238, gbHour: 0.00356 } },
  fargateEphemeralGbHour: 0.000111,
  rds: {
    instanceHour: {
      "db.t4g.micro": 0.016,
      "db.t4g.small": 0.032,
      "db.t4g.medium": 0.065,
      "db.t4g.large": 0.129,
      "db.t3.micro": 0.018,
      "db.t3.small": 0.036,
      "db.t3.medium": 0.072,
      "db.m6g.large": 0.159,
      "db.m7g.large": 0.168,
      "db.r6g.large": 0.225,
    },
    gp3GbMonth: 0.115,
    backupGbMonth: 0.095,
  },
  alb: { hour: 0.0225, lcuHour: 0.008 },
  nat: { hour: 0.045, gbProcessed: 0.045 },
  publicIpv4Hour: 0.005,
  s3StandardGbMonth: 0.023,
  secretMonth: 0.4,
  logs: { ingestGb: 0.5, storeGbMonth: 0.03 },
  metricMonth: 0.3,
  ecrGbMonth: 0.1,
};

const EU_WEST_1: RegionPrices = {
  fargate: { x86: { vcpuHour: 0.04048, gbHour: 0.004445 }, arm: { vcpuHour: 0.03238, gbHour: 0.00356 } },
  fargateEphemeralGbHour: 0.000111,
  rds: {
    instanceHour: {
      "db.t4g.micro": 0.017,
      "db.t4g.small": 0.034,
      "db.t4g.medium": 0.068,
      "db.t4g.large": 0.136,
      "db.t3.micro": 0.019,
      "db.t3.small": 0.038,
      "db.t3.medium": 0.076,
    },
    gp3GbMonth: 0.127,
    backupGbMonth: 0.095,
  },
  alb: { hour: 0.0252, lcuHour: 0.008 },
  nat: { hour: 0.048, gbProcessed: 0.048 },
  publicIpv4Hour: 0.005,
  s3StandardGbMonth: 0.023,
  secretMonth: 0.4,
  logs: { ingestGb: 0.57, storeGbMonth: 0.03 },
  metricMonth: 0.3,
  ecrGbMonth: 0.1,
};

const EU_CENTRAL_1: RegionPrices = {
  fargate: { x86: { vcpuHour: 0.04656, gbHour: 0.00511 }, arm: { vcpuHour: 0.03725, gbHour: 0.00409 } },
  fargateEphemeralGbHour: 0.000122,
  rds: {
    instanceHour: {
      "db.t4g.micro": 0.019,
      "db.t4g.small": 0.037,
      "db.t4g.medium": 0.074,
      "db.t4g.large": 0.148,
      "db.t3.micro": 0.021,
      "db.t3.small": 0.041,
      "db.t3.medium": 0.082,
    },
    gp3GbMonth: 0.137,
    backupGbMonth: 0.095,
  },
  alb: { hour: 0.027, lcuHour: 0.008 },
  nat: { hour: 0.052, gbProcessed: 0.052 },
  publicIpv4Hour: 0.005,
  s3StandardGbMonth: 0.0245,
  secretMonth: 0.4,
  logs: { ingestGb: 0.63, storeGbMonth: 0.0324 },
  metricMonth: 0.3,
  ecrGbMonth: 0.1,
};

export const PRICE_TABLE: Readonly<Record<string, RegionPriceEntry>> = {
  "us-east-1": {
    name: "US East (N. Virginia)",
    prices: US_EAST_1,
    checked:
      "Fargate x86 and ARM, RDS db.t4g micro/small/medium, gp3 storage, backup storage, NAT gateway hour and GB, public IPv4, CloudWatch Logs ingestion and storage, ALB hour (pages quoting AWS's pricing pages, see PRICE_SOURCES)",
    unconfirmed:
      "Fargate ephemeral storage beyond 20 GB, RDS db.t4g.large, db.t3, db.m6g, db.m7g and db.r6g hours, ALB LCU-hour, S3 Standard, Secrets Manager, custom metrics and ECR storage are AWS's published list prices as known at the table's date, not re-read from a page",
  },
  "eu-west-1": {
    name: "Europe (Ireland)",
    prices: EU_WEST_1,
    checked:
      "public IPv4 (one price in every region), ALB hour ($0.0252, a page quoting AWS's table), NAT within the range quoted for Europe",
    unconfirmed:
      "Fargate, RDS, storage, Logs, S3 and the rest: AWS renders regional prices in the browser and no stored copy of them was found; these are the published list prices as known at the table's date. Check them in the AWS Pricing Calculator before relying on them",
  },
  "eu-central-1": {
    name: "Europe (Frankfurt)",
    prices: EU_CENTRAL_1,
    checked: "public IPv4 (one price in every region), NAT within the range quoted for Europe",
    unconfirmed:
      "Fargate, RDS, ALB, storage, Logs, S3 and the rest: AWS renders regional prices in the browser and no stored copy of them was found; these are the published list prices as known at the table's date. Check them in the AWS Pricing Calculator before relying on them",
  },
};

/** The prices of a region, or those of us-east-1 (flagged) for a region the table does not hold. */
export function regionPrices(region: string): { region: string; entry: RegionPriceEntry; fallback: boolean } {
  const entry = PRICE_TABLE[region];
  if (entry) return { region, entry, fallback: false };
  return { region: "us-east-1", entry: PRICE_TABLE["us-east-1"] as RegionPriceEntry, fallback: true };
}
