import { describe, expect, it } from "vitest";
import { type AwsModel, CPU_ARCHITECTURE, estimateMonthlyCost, formatCost, PRICE_TABLE } from "../src/index.ts";
import { exampleModel, modelFromYaml } from "./helpers.ts";

/** The monthly cost estimate `plan` prints, against calculations done by hand from the price table. */

function inRegion(model: AwsModel, region: string): AwsModel {
  return { ...model, target: { ...model.target, region } } as AwsModel;
}

function withTarget(model: AwsModel, change: Partial<AwsModel["target"]>): AwsModel {
  return { ...model, target: { ...model.target, ...change } } as AwsModel;
}

function line(e: ReturnType<typeof estimateMonthlyCost>, item: string): number {
  const found = e.lines.find((l) => l.item.startsWith(item));
  if (!found) throw new Error(`no line "${item}" in ${e.lines.map((l) => l.item).join(", ")}`);
  return found.monthly;
}

const basic = exampleModel("basic", "staging");

describe("estimateMonthlyCost", () => {
  it("examples/basic staging at us-east-1 prices: the hand calculation", () => {
    // examples/basic staging: one task of 0.5 vCPU / 1 GB (x86), db.t4g.micro Single-AZ with 20 GB
    // gp3 and 7 days of backups, an internal ALB, egress: public (the task has a public IP, no NAT
    // gateway), auth none (2 secrets), logs kept 30 days, the default image (a build of images/mlflow pushed
    // to the stack's ECR repository: 5 GB kept).
    // us-east-1 prices (prices.ts), 730 hours:
    //   Fargate vCPU      0.5 × 1 × 730 × 0.04048   = 14.7752
    //   Fargate memory    1 × 1 × 730 × 0.004445    =  3.24485
    //   ephemeral storage 24 GiB (artifacts.largestGiB 5: 2 workers × 2 transfers × 5 + 4), the
    //                     4 GiB beyond the included 20: 4 × 1 × 730 × 0.000111 = 0.32412
    //   RDS db.t4g.micro  730 × 0.016               = 11.68
    //   gp3 storage       20 × 0.115                =  2.30
    //   backups           5 GB + 6 × 5% of 5 GB = 6.5 GB, under the 20 GB free: 0
    //   ALB hours         730 × 0.0225              = 16.425
    //   ALB LCU           1 × 730 × 0.008           =  5.84
    //   public IPv4       1 (the task) × 730 × 0.005 = 3.65   (an internal ALB has none)
    //   S3                10 GB × 0.023             =  0.23
    //   Secrets Manager   2 × 0.40                  =  0.80
    //   Logs              1 GB × 0.50 + 1 GB × 30/30 × 0.03 = 0.53
    //   Container Insights 30 metrics × 0.30        =  9.00
    //   ECR               5 GB × 0.10               =  0.50
    //   total                                       = 69.29917
    // The "about $60" is this without Container Insights and ECR (59.79917).
    const e = estimateMonthlyCost(inRegion(basic, "us-east-1"));
    expect(e.pricesRegion).toBe("us-east-1");
    expect(e.warnings).toEqual([]);
    expect(e.tasks).toBe(1);
    expect(line(e, "Fargate vCPU")).toBeCloseTo(14.7752, 6);
    expect(line(e, "Fargate memory")).toBeCloseTo(3.24485, 6);
    expect(line(e, "Fargate ephemeral storage")).toBeCloseTo(0.32412, 6);
    expect(line(e, "RDS db.t4g.micro")).toBeCloseTo(11.68, 6);
    expect(line(e, "RDS gp3")).toBeCloseTo(2.3, 6);
    expect(line(e, "RDS backup")).toBe(0);
    expect(line(e, "Load balancer (ALB) hours")).toBeCloseTo(16.425, 6);
    expect(line(e, "Load balancer capacity units")).toBeCloseTo(5.84, 6);
    expect(line(e, "Public IPv4")).toBeCloseTo(3.65, 6);
    expect(line(e, "S3")).toBeCloseTo(0.23, 6);
    expect(line(e, "Secrets Manager")).toBeCloseTo(0.8, 6);
    expect(line(e, "CloudWatch Logs")).toBeCloseTo(0.53, 6);
    expect(line(e, "Container Insights")).toBeCloseTo(9, 6);
    expect(e.lines.some((l) => l.item.startsWith("NAT"))).toBe(false);
    expect(line(e, "ECR")).toBeCloseTo(0.5, 6);
    expect(e.total).toBeCloseTo(69.29917, 6);
    expect(e.total - line(e, "Container Insights") - line(e, "ECR")).toBeCloseTo(59.79917, 6);

    // The levers, largest first:
    //   egress: nat  - the task's IP (3.65) + NAT hours 730 × 0.045 (32.85) + 20 GB × 0.045 (0.90)
    //                + the NAT's Elastic IP (3.65) = +33.75
    //   Multi-AZ     + a standby 11.68 + its volume 2.30 = +13.98
    //   ARM          0.5 × 730 × (0.04048 - 0.03238) + 1 × 730 × (0.004445 - 0.00356) = -3.60255
    expect(e.levers.map((l) => l.lever)).toEqual(["egress", "multi-az", "arm"]);
    expect(e.levers[0]?.monthlyDelta).toBeCloseTo(33.75, 6);
    expect(e.levers[1]?.monthlyDelta).toBeCloseTo(13.98, 6);
    expect(e.levers[2]?.monthlyDelta).toBeCloseTo(-3.60255, 6);
  });

  it("examples/basic staging with a NAT gateway: about $95 without Container Insights", () => {
    // The same environment with network.egress: nat: the task loses its public IP (-3.65), the
    // stack's NAT gateway (32.85), 20 GB through it (0.90) and its Elastic IP (3.65):
    // 69.29917 + 33.75 = 103.04917; without Container Insights 94.04917.
    const network = { ...basic.target.network, egress: "nat" as const };
    const e = estimateMonthlyCost(withTarget(inRegion(basic, "us-east-1"), { network }));
    expect(line(e, "NAT gateway hours")).toBeCloseTo(32.85, 6);
    expect(line(e, "NAT gateway data")).toBeCloseTo(0.9, 6);
    expect(line(e, "Public IPv4")).toBeCloseTo(3.65, 6);
    expect(e.total).toBeCloseTo(103.04917, 6);
    expect(e.total - line(e, "Container Insights")).toBeCloseTo(94.04917, 6);
    expect(e.levers.find((l) => l.lever === "egress")?.monthlyDelta).toBeCloseTo(-33.75, 6);
  });

  it("examples/basic staging at its own region's prices (eu-west-1)", () => {
    // eu-west-1: Fargate as us-east-1 (18.02005, and 0.32412 for the storage beyond 20 GiB), db.t4g.micro 730 × 0.017 = 12.41, gp3 20 × 0.127 =
    // 2.54, ALB 730 × 0.0252 = 18.396, LCU 5.84, IPv4 3.65, S3 0.23, secrets 0.80, logs 1 × 0.57 +
    // 1 × 0.03 = 0.60, Container Insights 9.00, ECR 5 × 0.10 = 0.50: 72.31017.
    const e = estimateMonthlyCost(basic);
    expect(e.region).toBe("eu-west-1");
    expect(e.pricesRegion).toBe("eu-west-1");
    expect(e.total).toBeCloseTo(72.31017, 6);
  });

  it("examples/existing-vpc prod: Multi-AZ, two tasks, an internet-facing ALB, the VPC's own NAT", () => {
    // eu-central-1, 2 tasks of 1 vCPU / 2 GB, db.t4g.small Multi-AZ with 50 GB, 14 days of backups,
    // an internet-facing ALB in 2 public subnets, egress nat through the VPC's NAT gateway (not the
    // stack's: its data is counted, its hours are not), auth basic (4 secrets), a built image (ECR).
    const model = exampleModel("existing-vpc", "prod");
    const e = estimateMonthlyCost(model);
    const p = PRICE_TABLE["eu-central-1"]?.prices;
    if (!p) throw new Error("eu-central-1 is not in the price table");
    expect(line(e, "Fargate vCPU")).toBeCloseTo(1 * 2 * 730 * p.fargate.x86.vcpuHour, 6);
    expect(line(e, "RDS db.t4g.small (Multi-AZ")).toBeCloseTo(2 * 730 * (p.rds.instanceHour["db.t4g.small"] ?? 0), 6);
    expect(line(e, "RDS gp3")).toBeCloseTo(50 * 2 * p.rds.gp3GbMonth, 6);
    expect(e.lines.some((l) => l.item === "NAT gateway hours")).toBe(false);
    expect(line(e, "NAT gateway data")).toBeCloseTo(20 * p.nat.gbProcessed, 6);
    // The load balancer's two addresses only: the tasks have none, the NAT's is the VPC's.
    expect(line(e, "Public IPv4")).toBeCloseTo(2 * 730 * 0.005, 6);
    expect(line(e, "Secrets Manager")).toBeCloseTo(4 * 0.4, 6);
    expect(line(e, "ECR")).toBeCloseTo(5 * 0.1, 6);
    const multiAz = e.levers.find((l) => l.lever === "multi-az");
    expect(multiAz?.change).toBe("database.multiAz: false");
    expect(multiAz?.monthlyDelta).toBeCloseTo(
      -(730 * (p.rds.instanceHour["db.t4g.small"] ?? 0) + 50 * p.rds.gp3GbMonth),
      6,
    );
    expect(e.levers.find((l) => l.lever === "egress")?.note).toMatch(/VPC's own NAT gateway is not counted/);
    // gc.schedule cron(0 3 * * ? *): one run a day (365/12 a month), 10 minutes of a 1 vCPU / 2 GB task each.
    const runHours = ((365 / 12) * 10) / 60;
    expect(line(e, "Scheduled gc")).toBeCloseTo(runHours * (p.fargate.x86.vcpuHour + 2 * p.fargate.x86.gbHour), 6);
    expect(e.assumptions).toContainEqual(expect.stringMatching(/^scheduled gc: about 30\.4 runs a month/));
    expect(estimateMonthlyCost(exampleModel("basic", "staging")).lines.map((l) => l.item)).not.toContain(
      "Scheduled gc (Fargate task)",
    );
  });

  it("the total at the autoscaling maximum, and a region or class the table lacks, said so", () => {
    const model = modelFromYaml(
      `
name: scaled
artifacts:
  bucket: scaled-artifacts
environments:
  dev:
    region: ap-southeast-2
    account: "111122223333"
    desiredCount: 1
    autoscaling: { min: 1, max: 4, targetCpu: 60 }
    database:
      instanceClass: db.m5.xlarge
`,
      "dev",
    );
    const e = estimateMonthlyCost(model);
    expect(e.pricesRegion).toBe("us-east-1");
    expect(e.warnings[0]).toMatch(/no prices for ap-southeast-2: the estimate uses us-east-1's/);
    expect(e.warnings[1]).toMatch(/no price for db\.m5\.xlarge/);
    expect(e.atAutoscalingMax?.tasks).toBe(4);
    const perTask = line(e, "Fargate vCPU") + line(e, "Fargate memory");
    // Three more tasks: their vCPU and memory, and their logs (1 GB each, ingested and kept).
    const logsPerTask = line(e, "CloudWatch Logs");
    expect(e.atAutoscalingMax?.total).toBeCloseTo(e.total + 3 * (perTask + logsPerTask), 6);
  });

  it("prices the ephemeral storage beyond Fargate's 20 GiB only when the task asks for more", () => {
    // artifacts.largestGiB 1 with 2 workers: 2 × 2 × 1 + 4 = 8 GiB fit the included 20: no line.
    const small = { ...basic, artifacts: { ...basic.artifacts, largestGiB: 1 } } as AwsModel;
    expect(estimateMonthlyCost(small).lines.some((l) => l.item.startsWith("Fargate ephemeral"))).toBe(false);
    // 40 GiB with 2 workers: 2 × 2 × 40 + 4 = 164 GiB a task, 144 beyond 20, at the autoscaling
    // maximum too: 144 × tasks × 730 × 0.000111 (us-east-1).
    const large = inRegion({ ...basic, artifacts: { ...basic.artifacts, largestGiB: 40 } } as AwsModel, "us-east-1");
    const e = estimateMonthlyCost(large);
    expect(line(e, "Fargate ephemeral storage")).toBeCloseTo(144 * e.tasks * 730 * 0.000111, 6);
  });

  it("prices the architecture the task definition runs", () => {
    expect(CPU_ARCHITECTURE).toBe("X86_64");
    const e = estimateMonthlyCost(basic);
    expect(e.lines[0]?.item).toBe("Fargate vCPU (Linux/x86)");
  });

  it("every region of the table carries every price, and every example's region is in it", () => {
    for (const region of ["us-east-1", "eu-west-1", "eu-central-1"]) {
      const entry = PRICE_TABLE[region];
      expect(entry?.checked.length).toBeGreaterThan(0);
      expect(entry?.unconfirmed.length).toBeGreaterThan(0);
      expect(entry?.prices.rds.instanceHour["db.t4g.micro"]).toBeGreaterThan(0);
    }
    expect(estimateMonthlyCost(exampleModel("existing-vpc", "prod")).warnings).toEqual([]);
  });
});

describe("formatCost", () => {
  it("one line per charge, the total, the levers and the assumptions", () => {
    const text = formatCost(estimateMonthlyCost(inRegion(basic, "us-east-1"))).join("\n");
    expect(text).toMatch(
      /^monthly cost \(an estimate in USD: us-east-1 on-demand list prices, Linux of \d{4}-\d{2}-\d{2}/,
    );
    expect(text).toMatch(/ {2}total +\$69\.30 {2}a month/);
    expect(text).toContain(
      "Fargate ephemeral storage                  $0.32  24 GiB a task, 4 GiB beyond the included 20 × 1 task × 730 h × $0.000111",
    );
    expect(text).toMatch(/Fargate vCPU \(Linux\/x86\) +\$14\.78 {2}0\.5 vCPU × 1 task × 730 h × \$0\.04048/);
    expect(text).toContain(
      "network.egress: nat (tasks in the private subnets behind a NAT gateway): adds $33.75 a month.",
    );
    expect(text).toContain("database.multiAz: true: adds $13.98 a month");
    expect(text).toContain("Fargate on ARM (Graviton) instead of x86: saves $3.60 a month");
    expect(text).toContain("load balancer: 1 LCU on average");
  });
});
