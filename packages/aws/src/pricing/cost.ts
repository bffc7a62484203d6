import { gcRunsPerMonth, parseGcSchedule, serverSecrets } from "@mlflow-dev/spec";
import type { AwsModel } from "../render/aws-model.ts";
import { FARGATE_EPHEMERAL_STORAGE, largeArtifacts } from "../render/large-artifacts.ts";
import { CPU_ARCHITECTURE } from "../render/task-definition.ts";
import {
  type FargateArchitecture,
  HOURS_PER_MONTH,
  PRICE_SOURCES,
  PRICES_AS_OF,
  type RegionPrices,
  regionPrices,
} from "./prices.ts";

/**
 * What an AWS environment costs a month, line by line, from the price table (`prices.ts`) and
 * the Model alone: no AWS call. Pure. What depends on traffic (load balancer capacity units, NAT
 * data, stored artifacts, logs) is an assumption, named in the estimate with its value.
 */

export interface CostAssumptions {
  /** Average load balancer capacity units an hour (one LCU: 25 new connections/s, 3,000 active connections, 1 GB/h processed). */
  albLcu: number;
  /** GB a month through the NAT gateway: image pulls at each task start, ECR, Secrets Manager and CloudWatch Logs calls. */
  natGbPerMonth: number;
  /** GB of artifacts in the bucket. */
  s3StoredGb: number;
  /** GB of logs each task writes a month. */
  logsGbPerTaskMonth: number;
  /** GB of data in the database (the backups' size). */
  databaseDataGb: number;
  /** Share of the database that changes a day (each daily backup's increment). */
  databaseDailyChange: number;
  /** Container Insights metrics the cluster publishes (billed as custom metrics). */
  containerInsightsMetrics: number;
  /** GB of built images kept in the ECR repository (images.build only; no lifecycle policy expires them). */
  ecrStoredGb: number;
  /** Minutes one run of the scheduled gc takes (its Fargate task, the server's size). */
  gcTaskMinutes: number;
}

export const DEFAULT_COST_ASSUMPTIONS: Readonly<CostAssumptions> = {
  albLcu: 1,
  natGbPerMonth: 20,
  s3StoredGb: 10,
  logsGbPerTaskMonth: 1,
  databaseDataGb: 5,
  databaseDailyChange: 0.05,
  containerInsightsMetrics: 30,
  ecrStoredGb: 5,
  gcTaskMinutes: 10,
};

export interface CostLine {
  item: string;
  /** How the amount is made: quantities × unit prices. */
  detail: string;
  /** USD a month, unrounded (formatCost rounds to cents). */
  monthly: number;
}

export interface CostLever {
  lever: "egress" | "multi-az" | "arm";
  /** The change, in the spec's words. */
  change: string;
  /** USD a month the change adds (positive) or saves (negative). */
  monthlyDelta: number;
  note?: string;
}

export interface CostEstimate {
  environment: string;
  region: string;
  /** The region whose prices were used (us-east-1 for a region the table does not hold). */
  pricesRegion: string;
  pricesAsOf: string;
  currency: "USD";
  basis: string;
  hoursPerMonth: number;
  /** Tasks the service runs (desiredCount, within the autoscaling range). */
  tasks: number;
  lines: CostLine[];
  total: number;
  /** The total with the service at its autoscaling maximum. */
  atAutoscalingMax?: { tasks: number; total: number };
  /** The three biggest levers, the largest first. */
  levers: CostLever[];
  assumptions: string[];
  notCounted: string[];
  /** Prices the table lacks, a region it does not hold. */
  warnings: string[];
}

/** The facts of an environment the cost depends on, read from its Model; the levers change them. */
interface CostFacts {
  vcpu: number;
  memoryGb: number;
  tasks: number;
  architecture: FargateArchitecture;
  /** The task's ephemeral storage when it asks for more than Fargate's default 20 GiB (artifacts.largestGiB). */
  ephemeralStorageGiB: number | undefined;
  instanceClass: string;
  allocatedStorage: number;
  multiAz: boolean;
  backupRetentionDays: number;
  /** Public IPv4 addresses of the load balancer: one per subnet of an internet-facing one. */
  loadBalancerPublicIps: number;
  /** Tasks run with a public IP (egress: public). */
  taskPublicIps: boolean;
  /** The stack creates a NAT gateway and its Elastic IP (a new VPC with egress: nat). */
  ownNatGateway: boolean;
  /** The tasks' traffic to the internet goes through a NAT gateway (egress: nat). */
  natTraffic: boolean;
  secrets: number;
  logRetentionDays: number;
  ecr: boolean;
  /** Runs of the scheduled gc a month (gc.schedule; 0 without one). */
  gcRuns: number;
}

function costFacts(model: AwsModel): CostFacts {
  const t = model.target;
  const n = t.network;
  const scaling = t.autoscaling;
  const tasks = scaling ? Math.min(Math.max(t.desiredCount, scaling.min), scaling.max) : t.desiredCount;
  const publicSubnets = n.mode === "existing" ? n.publicSubnetIds.length : 2;
  return {
    vcpu: model.resources.cpu / 1024,
    memoryGb: model.resources.memory / 1024,
    tasks,
    architecture: CPU_ARCHITECTURE === "X86_64" ? "x86" : "arm",
    ephemeralStorageGiB: largeArtifacts(model).ephemeralStorageGiB,
    instanceClass: t.database.instanceClass,
    allocatedStorage: t.database.allocatedStorage,
    multiAz: t.database.multiAz,
    backupRetentionDays: t.database.backupRetentionDays,
    loadBalancerPublicIps: t.access.loadBalancer === "internet-facing" ? publicSubnets : 0,
    taskPublicIps: n.egress === "public",
    ownNatGateway: n.mode === "new" && n.egress === "nat",
    natTraffic: n.egress === "nat",
    secrets: serverSecrets(model.mlflow.auth).length,
    logRetentionDays: t.logRetentionDays,
    ecr: model.mlflow.image.kind === "build",
    gcRuns: gcRuns(model.gc.schedule),
  };
}

const H = HOURS_PER_MONTH;

function gcRuns(schedule: string | undefined): number {
  if (schedule === undefined) return 0;
  const parsed = parseGcSchedule(schedule);
  return parsed.ok ? gcRunsPerMonth(parsed.schedule) : 0;
}

function usd(n: number, digits = 2): string {
  return `$${n.toFixed(digits)}`;
}

/** A unit price as the table holds it (up to six decimals, no trailing zeros beyond cents). */
function price(n: number): string {
  const text = n.toFixed(6).replace(/0+$/, "");
  const [, decimals = ""] = text.split(".");
  return `$${decimals.length < 2 ? n.toFixed(2) : text}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

interface Lines {
  lines: CostLine[];
  warnings: string[];
}

function costLines(f: CostFacts, p: RegionPrices, a: CostAssumptions, region: string): Lines {
  const lines: CostLine[] = [];
  const warnings: string[] = [];
  const add = (item: string, detail: string, monthly: number) => lines.push({ item, detail, monthly });
  const fargate = p.fargate[f.architecture];
  const arch = f.architecture === "x86" ? "x86" : "ARM";
  const taskHours = `${plural(f.tasks, "task")} × ${H} h`;
  add(
    `Fargate vCPU (Linux/${arch})`,
    `${f.vcpu} vCPU × ${taskHours} × ${price(fargate.vcpuHour)}`,
    f.vcpu * f.tasks * H * fargate.vcpuHour,
  );
  add(
    `Fargate memory (Linux/${arch})`,
    `${f.memoryGb} GB × ${taskHours} × ${price(fargate.gbHour)}`,
    f.memoryGb * f.tasks * H * fargate.gbHour,
  );
  if (f.ephemeralStorageGiB !== undefined) {
    // Fargate bills only the storage beyond the 20 GiB every task gets (artifacts.largestGiB sets the size).
    const extra = f.ephemeralStorageGiB - FARGATE_EPHEMERAL_STORAGE.defaultGiB;
    add(
      "Fargate ephemeral storage",
      `${f.ephemeralStorageGiB} GiB a task, ${extra} GiB beyond the included ${FARGATE_EPHEMERAL_STORAGE.defaultGiB} × ${taskHours} × ${price(p.fargateEphemeralGbHour)}`,
      extra * f.tasks * H * p.fargateEphemeralGbHour,
    );
  }
  if (f.gcRuns > 0) {
    const hours = (f.gcRuns * a.gcTaskMinutes) / 60;
    add(
      "Scheduled gc (Fargate task)",
      `${round(f.gcRuns, 1)} runs × ${a.gcTaskMinutes} min × (${f.vcpu} vCPU × ${price(fargate.vcpuHour)} + ${f.memoryGb} GB × ${price(fargate.gbHour)}) an hour`,
      hours * (f.vcpu * fargate.vcpuHour + f.memoryGb * fargate.gbHour),
    );
  }

  const instances = f.multiAz ? 2 : 1;
  const azs = f.multiAz ? "Multi-AZ: primary and standby" : "Single-AZ";
  const hourly = p.rds.instanceHour[f.instanceClass];
  if (hourly === undefined) {
    warnings.push(
      `no price for ${f.instanceClass} in ${region} in the price table: the database instance is not counted (see ${PRICE_SOURCES.rds})`,
    );
    add(`RDS ${f.instanceClass} (${azs})`, "not in the price table: not counted", 0);
  } else
    add(
      `RDS ${f.instanceClass} (${azs})`,
      `${plural(instances, "instance")} × ${H} h × ${price(hourly)}`,
      instances * H * hourly,
    );
  add(
    "RDS gp3 storage",
    `${f.allocatedStorage} GB${f.multiAz ? " × 2 (Multi-AZ)" : ""} × ${price(p.rds.gp3GbMonth)}`,
    f.allocatedStorage * instances * p.rds.gp3GbMonth,
  );
  const data = Math.min(a.databaseDataGb, f.allocatedStorage);
  const backups = data + data * a.databaseDailyChange * Math.max(f.backupRetentionDays - 1, 0);
  const billedBackups = Math.max(backups - f.allocatedStorage, 0);
  add(
    "RDS backup storage",
    `${round(backups, 1)} GB of backups (${data} GB + ${f.backupRetentionDays - 1} daily increments of ${a.databaseDailyChange * 100}%), ${f.allocatedStorage} GB free: ${round(billedBackups, 1)} GB × ${price(p.rds.backupGbMonth)}`,
    billedBackups * p.rds.backupGbMonth,
  );

  add("Load balancer (ALB) hours", `${H} h × ${price(p.alb.hour)}`, H * p.alb.hour);
  add(
    "Load balancer capacity units",
    `${a.albLcu} LCU × ${H} h × ${price(p.alb.lcuHour)}`,
    a.albLcu * H * p.alb.lcuHour,
  );

  if (f.ownNatGateway) add("NAT gateway hours", `${H} h × ${price(p.nat.hour)}`, H * p.nat.hour);
  if (f.natTraffic)
    add(
      "NAT gateway data processed",
      `${a.natGbPerMonth} GB × ${price(p.nat.gbProcessed)}`,
      a.natGbPerMonth * p.nat.gbProcessed,
    );

  const ips: string[] = [];
  let ipCount = 0;
  if (f.loadBalancerPublicIps > 0) {
    ips.push(`${f.loadBalancerPublicIps} for the internet-facing load balancer, one per zone`);
    ipCount += f.loadBalancerPublicIps;
  }
  if (f.taskPublicIps) {
    ips.push(`${f.tasks} for the tasks, egress: public`);
    ipCount += f.tasks;
  }
  if (f.ownNatGateway) {
    ips.push("1 for the NAT gateway's Elastic IP");
    ipCount += 1;
  }
  if (ipCount > 0)
    add(
      "Public IPv4 addresses",
      `${ipCount} (${ips.length === 1 ? ips[0]?.replace(/^\d+ /, "") : ips.join("; ")}) × ${H} h × ${price(p.publicIpv4Hour)}`,
      ipCount * H * p.publicIpv4Hour,
    );

  add(
    "S3 Standard (artifacts)",
    `${a.s3StoredGb} GB × ${price(p.s3StandardGbMonth)}`,
    a.s3StoredGb * p.s3StandardGbMonth,
  );
  add("Secrets Manager", `${plural(f.secrets, "secret")} × ${price(p.secretMonth)}`, f.secrets * p.secretMonth);

  const ingested = a.logsGbPerTaskMonth * f.tasks;
  // At steady state the group keeps retentionDays of logs (stored compressed: this is an upper bound).
  const stored = ingested * (f.logRetentionDays / 30);
  add(
    "CloudWatch Logs",
    `${round(ingested, 2)} GB ingested × ${price(p.logs.ingestGb)} + ${round(stored, 2)} GB kept (${f.logRetentionDays} days) × ${price(p.logs.storeGbMonth)}`,
    ingested * p.logs.ingestGb + stored * p.logs.storeGbMonth,
  );
  add(
    "Container Insights (on in the cluster)",
    `${a.containerInsightsMetrics} metrics × ${price(p.metricMonth)}`,
    a.containerInsightsMetrics * p.metricMonth,
  );
  if (f.ecr) add("ECR (built images)", `${a.ecrStoredGb} GB × ${price(p.ecrGbMonth)}`, a.ecrStoredGb * p.ecrGbMonth);
  return { lines, warnings };
}

function sum(lines: CostLine[]): number {
  return lines.reduce((t, l) => t + l.monthly, 0);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function levers(f: CostFacts, p: RegionPrices, a: CostAssumptions, region: string, total: number): CostLever[] {
  const delta = (changed: Partial<CostFacts>) => sum(costLines({ ...f, ...changed }, p, a, region).lines) - total;
  const out: CostLever[] = [
    f.natTraffic
      ? {
          lever: "egress",
          change: "network.egress: public (tasks in the public subnets with a public IP, no NAT gateway)",
          monthlyDelta: delta({ natTraffic: false, ownNatGateway: false, taskPublicIps: true }),
          ...(f.ownNatGateway
            ? {}
            : { note: "The VPC's own NAT gateway is not counted, only the data the tasks send through it" }),
        }
      : {
          lever: "egress",
          change: "network.egress: nat (tasks in the private subnets behind a NAT gateway)",
          monthlyDelta: delta({ natTraffic: true, ownNatGateway: true, taskPublicIps: false }),
          note: "VPC endpoints for ECR, CloudWatch Logs and Secrets Manager instead of a NAT gateway cost more still (about $7.30 a month per endpoint and zone)",
        },
    {
      lever: "multi-az",
      change: `database.multiAz: ${!f.multiAz}`,
      monthlyDelta: delta({ multiAz: !f.multiAz }),
      note: f.multiAz
        ? "Single-AZ keeps no standby: a zone or instance failure means a restore or a longer failover"
        : "Multi-AZ keeps a synchronous standby in a second zone (failover in one to two minutes)",
    },
    f.architecture === "x86"
      ? {
          lever: "arm",
          change: "Fargate on ARM (Graviton) instead of x86",
          monthlyDelta: delta({ architecture: "arm" }),
          note: "The tasks run on X86_64 today; ARM needs an arm64 image and is not a spec setting yet",
        }
      : {
          lever: "arm",
          change: "Fargate on x86 instead of ARM",
          monthlyDelta: delta({ architecture: "x86" }),
        },
  ];
  return out.sort((x, y) => Math.abs(y.monthlyDelta) - Math.abs(x.monthlyDelta));
}

function assumptionText(f: CostFacts, a: CostAssumptions, region: string, pricesRegion: string): string[] {
  const out = [
    `prices: on-demand list prices of ${pricesRegion} (${PRICES_AS_OF}), Linux, no free tier, Savings Plans or reserved instances; ${H} hours a month`,
    `${plural(f.tasks, "task")} running all month (desiredCount); the migration task runs for minutes at a rollout and is not counted`,
    `load balancer: ${a.albLcu} LCU on average (an LCU is 25 new connections a second, 3,000 active connections or 1 GB an hour processed, whichever is highest); a lightly used server stays below`,
    `artifacts: ${a.s3StoredGb} GB in S3 Standard (requests not counted)`,
    `logs: ${a.logsGbPerTaskMonth} GB written by each task a month`,
    `database backups: ${a.databaseDataGb} GB of data changing ${a.databaseDailyChange * 100}% a day; backups up to the provisioned storage are free (an allowance shared by every database of the account in ${region})`,
    `Container Insights: about ${a.containerInsightsMetrics} metrics (ECS publishes 16 metric names by cluster, service and task family)`,
  ];
  if (f.natTraffic)
    out.push(
      `NAT gateway: ${a.natGbPerMonth} GB a month (image pulls at each task start, ECR, Secrets Manager and CloudWatch Logs); artifacts reach S3 through the free gateway endpoint`,
    );
  if (f.ecr) out.push(`ECR: ${a.ecrStoredGb} GB of built images kept`);
  if (f.gcRuns > 0)
    out.push(
      `scheduled gc: about ${round(f.gcRuns, 1)} runs a month (gc.schedule), ${a.gcTaskMinutes} minutes each at the server's task size; EventBridge Scheduler's first 14 million invocations a month are free`,
    );
  return out;
}

const NOT_COUNTED = [
  "data transfer out to the internet (the first 100 GB a month of the account are free, then about $0.09 a GB): the same with either egress",
  "data between zones (about $0.01 a GB each way: the load balancer to a task in the other zone)",
  "API requests (S3, Secrets Manager, CloudWatch), KMS (AWS-managed keys are free), taxes",
];

/**
 * The monthly cost of an AWS environment, line by line, with its assumptions and the three biggest
 * levers. Pure: the price table and the Model only.
 */
export function estimateMonthlyCost(model: AwsModel, assumptions: Partial<CostAssumptions> = {}): CostEstimate {
  const a: CostAssumptions = { ...DEFAULT_COST_ASSUMPTIONS, ...assumptions };
  const region = model.target.region;
  const { region: pricesRegion, entry, fallback } = regionPrices(region);
  const p = entry.prices;
  const f = costFacts(model);
  const { lines, warnings } = costLines(f, p, a, pricesRegion);
  const total = sum(lines);
  if (fallback)
    warnings.unshift(
      `the price table holds no prices for ${region}: the estimate uses us-east-1's (other regions cost up to about 30% more)`,
    );
  const max = model.target.autoscaling?.max;
  return {
    environment: model.environment,
    region,
    pricesRegion,
    pricesAsOf: PRICES_AS_OF,
    currency: "USD",
    basis: "on-demand list prices, Linux",
    hoursPerMonth: H,
    tasks: f.tasks,
    lines,
    total,
    ...(max !== undefined && max > f.tasks
      ? { atAutoscalingMax: { tasks: max, total: sum(costLines({ ...f, tasks: max }, p, a, pricesRegion).lines) } }
      : {}),
    levers: levers(f, p, a, pricesRegion, total),
    assumptions: assumptionText(f, a, region, pricesRegion),
    notCounted: [...NOT_COUNTED],
    warnings,
  };
}

/** The estimate for humans: one line per charge, the total, the levers, the assumptions. */
export function formatCost(e: CostEstimate): string[] {
  const out: string[] = [];
  out.push(
    `monthly cost (an estimate in USD: ${e.pricesRegion} ${e.basis} of ${e.pricesAsOf}, ${e.hoursPerMonth} h a month):`,
  );
  for (const w of e.warnings) out.push(`  ! ${w}`);
  const width = Math.max(...e.lines.map((l) => l.item.length));
  for (const l of e.lines) out.push(`  ${l.item.padEnd(width)}  ${usd(l.monthly).padStart(8)}  ${l.detail}`);
  out.push(`  ${"total".padEnd(width)}  ${usd(e.total).padStart(8)}  a month`);
  if (e.atAutoscalingMax)
    out.push(
      `  ${`at autoscaling max`.padEnd(width)}  ${usd(e.atAutoscalingMax.total).padStart(8)}  with ${e.atAutoscalingMax.tasks} tasks all month`,
    );
  out.push("  levers:");
  for (const l of e.levers)
    out.push(
      `    ${l.change}: ${l.monthlyDelta <= 0 ? `saves ${usd(-l.monthlyDelta)}` : `adds ${usd(l.monthlyDelta)}`} a month.${l.note ? ` ${l.note}.` : ""}`,
    );
  out.push("  assumptions:");
  out.push(...e.assumptions.map((x) => `    - ${x}`));
  out.push(`  not counted: ${e.notCounted.join("; ")}`);
  return out;
}
