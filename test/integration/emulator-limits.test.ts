import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateNetworkInterfaceCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteNetworkInterfaceCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeSubnetsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteLoadBalancerCommand,
  DeleteTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  ModifyLoadBalancerAttributesCommand,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import {
  CreateDBInstanceCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { toAwsModel } from "@mlflow-dev/aws";
import { accountVerdicts, createAwsClients, destroyAwsClients } from "@mlflow-dev/aws/deploy";
import { parseSpecOrThrow, rdsMaxConnections, resolve } from "@mlflow-dev/spec";
import { emulatorUnavailable, sparePort } from "@mlflow-dev/test-support";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";

/**
 * Where the emulator (MiniStack plus images/ministack/patches.py) holds AWS's limits: the load
 * balancer's idle timeout (patch 13), RDS PostgreSQL's max_connections by instance class (patch
 * 14) and a subnet's free addresses (patch 16). Real containers: the emulator, its PostgreSQL
 * container, and an HTTP server on this host as the load balancer's target.
 */
const ENDPOINT = process.env.MLFLOW_DEV_AWS_ENDPOINT ?? "http://127.0.0.1:4566";
const EMULATOR = new URL(ENDPOINT);
// The emulator's Docker network; its gateway is this host as the emulator's containers see it.
const SUBNET = process.env.MLFLOW_DEV_AWS_SUBNET ?? "169.254.170.0/24";
const HOST_FROM_EMULATOR = SUBNET.replace(/\.0\/\d+$/, ".1");
const ACCOUNT = "535353535353";
const config = {
  endpoint: ENDPOINT,
  region: "us-east-1",
  credentials: { accessKeyId: ACCOUNT, secretAccessKey: "test" },
};
const suffix = `${Date.now().toString(36)}-${randomBytes(2).toString("hex")}`;

const unavailable = await emulatorUnavailable("emulator-limits.test.ts", ENDPOINT);

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  body: string;
  /** The response ended with its last byte (false: the connection closed before). */
  complete: boolean;
  ms: number;
}

/**
 * One request to the load balancer through the emulator's port, with its DNS name as Host.
 * `stallAfter` sends that many bytes of a body announced longer, then nothing.
 */
function throughLoadBalancer(
  dns: string,
  path: string,
  options: { method?: string; body?: string; stallAfter?: number } = {},
): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const body = options.body ?? "";
    const req = http.request(
      {
        host: EMULATOR.hostname,
        port: EMULATOR.port,
        path,
        method: options.method ?? "GET",
        headers: { host: dns, ...(body ? { "content-length": String(body.length) } : {}) },
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        const done = () =>
          resolve({ status: res.statusCode ?? 0, body: text, complete: res.complete, ms: Date.now() - started });
        res.on("end", done);
        res.on("aborted", done);
        res.on("error", done);
      },
    );
    req.on("error", reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer to ${path} within 60 s`)));
    if (options.stallAfter !== undefined) req.write(body.slice(0, options.stallAfter));
    else req.end(body);
  });
}

describe.skipIf(unavailable !== undefined)("AWS limits in the emulator", () => {
  it("the load balancer cuts a transfer idle for longer than its idle_timeout.timeout_seconds", async () => {
    // The target: an HTTP server on this host that answers after a delay, or stalls half way.
    const target = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://target");
      if (url.pathname === "/slow") {
        const timer = setTimeout(() => res.end("done"), Number(url.searchParams.get("ms")));
        res.on("close", () => clearTimeout(timer));
      } else if (url.pathname === "/stall") {
        res.writeHead(200, { "content-type": "text/plain", "content-length": "100" });
        res.write("partial");
        const timer = setTimeout(() => res.end("x".repeat(93)), 10_000);
        res.on("close", () => clearTimeout(timer));
      } else {
        let n = 0;
        req.on("data", (chunk: Buffer) => {
          n += chunk.length;
        });
        req.on("end", () => res.end(`received ${n}`));
      }
    });
    await new Promise<void>((resolve) => target.listen(sparePort(import.meta.url, 0), "0.0.0.0", resolve));
    cleanups.push(() => new Promise((resolve) => target.close(resolve)));
    const port = (target.address() as AddressInfo).port;

    const elb = new ElasticLoadBalancingV2Client(config);
    const name = `idle-${suffix}`;
    const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: name, Type: "application", Subnets: [] })))
      .LoadBalancers?.[0];
    if (!lb?.LoadBalancerArn || !lb.DNSName) throw new Error("CreateLoadBalancer returned no load balancer");
    cleanups.push(() => elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: lb.LoadBalancerArn })));
    const tg = (
      await elb.send(
        new CreateTargetGroupCommand({
          Name: name,
          Protocol: "HTTP",
          Port: port,
          TargetType: "ip",
          VpcId: "vpc-00000001",
        }),
      )
    ).TargetGroups?.[0];
    if (!tg?.TargetGroupArn) throw new Error("CreateTargetGroup returned no target group");
    cleanups.push(() => elb.send(new DeleteTargetGroupCommand({ TargetGroupArn: tg.TargetGroupArn })));
    await elb.send(
      new RegisterTargetsCommand({
        TargetGroupArn: tg.TargetGroupArn,
        Targets: [{ Id: HOST_FROM_EMULATOR, Port: port }],
      }),
    );
    const listener = (
      await elb.send(
        new CreateListenerCommand({
          LoadBalancerArn: lb.LoadBalancerArn,
          Protocol: "HTTP",
          Port: 80,
          DefaultActions: [{ Type: "forward", TargetGroupArn: tg.TargetGroupArn }],
        }),
      )
    ).Listeners?.[0];
    cleanups.push(() => elb.send(new DeleteListenerCommand({ ListenerArn: listener?.ListenerArn })));
    const idleTimeout = async (seconds: number) =>
      elb.send(
        new ModifyLoadBalancerAttributesCommand({
          LoadBalancerArn: lb.LoadBalancerArn,
          Attributes: [{ Key: "idle_timeout.timeout_seconds", Value: String(seconds) }],
        }),
      );
    await idleTimeout(2);

    // Within the timeout: through.
    expect(await throughLoadBalancer(lb.DNSName, "/slow?ms=1000")).toMatchObject({ status: 200, body: "done" });
    // A target silent for longer than 2 s: the load balancer answers 504 after about 2 s.
    const silent = await throughLoadBalancer(lb.DNSName, "/slow?ms=6000");
    expect(silent.status).toBe(504);
    expect(silent.ms).toBeGreaterThanOrEqual(1800);
    expect(silent.ms).toBeLessThan(5500);
    // A response that stalls half way is cut: the body ends short, well before the target's 10 s.
    const stalled = await throughLoadBalancer(lb.DNSName, "/stall");
    expect(stalled).toMatchObject({ status: 200, body: "partial", complete: false });
    expect(stalled.ms).toBeLessThan(8000);
    // A client that stops sending its body: 408 after about 2 s.
    const idleClient = await throughLoadBalancer(lb.DNSName, "/upload", {
      method: "POST",
      body: "y".repeat(64),
      stallAfter: 8,
    });
    expect(idleClient.status).toBe(408);
    expect(idleClient.ms).toBeLessThan(5500);
    // A body sent whole reaches the target.
    expect(await throughLoadBalancer(lb.DNSName, "/upload", { method: "POST", body: "y".repeat(64) })).toMatchObject({
      status: 200,
      body: "received 64",
    });

    // The attribute decides: with 10 s the 6 s answer comes through.
    await idleTimeout(10);
    expect(await throughLoadBalancer(lb.DNSName, "/slow?ms=6000")).toMatchObject({ status: 200, body: "done" });
  }, 120_000);

  it("RDS PostgreSQL runs with the instance class's max_connections and refuses the next connection", async () => {
    const rds = new RDSClient(config);
    const id = `maxconn-${suffix}`;
    const password = randomBytes(12).toString("hex");
    const instanceClass = "db.t4g.micro";
    const expected = rdsMaxConnections(instanceClass);
    if (expected === undefined) throw new Error(`${instanceClass} is not in the table`);
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        DBInstanceClass: instanceClass,
        Engine: "postgres",
        EngineVersion: "17",
        MasterUsername: "mlflow",
        MasterUserPassword: password,
        DBName: "mlflow",
        AllocatedStorage: 20,
      }),
    );
    cleanups.push(() => rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true })));
    let endpoint: { Address?: string; Port?: number } | undefined;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const instance = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0];
      if (instance?.DBInstanceStatus === "available") {
        endpoint = instance.Endpoint;
        break;
      }
      await sleep(1000);
    }
    if (!endpoint?.Address) throw new Error(`${id} was not available within 120 s`);
    // The endpoint is a DNS name on the emulator's network (patch 15), as on AWS; from this host the
    // database is its container's published port.
    const container = execFileSync("docker", ["ps", "--filter", `name=ministack-rds-`, "--format", "{{.Names}}"], {
      encoding: "utf8",
    })
      .split("\n")
      .find((n) => n.endsWith(id));
    if (!container) throw new Error(`no running RDS container for ${id}`);
    const published = execFileSync("docker", ["port", container, "5432/tcp"], { encoding: "utf8" });
    const hostPort = Number(/:(\d+)\s*$/m.exec(published)?.[1]);
    if (!hostPort) throw new Error(`${container} publishes no port for 5432: ${published}`);
    const connect = async () => {
      const client = new pg.Client({
        host: "127.0.0.1",
        port: hostPort,
        user: "mlflow",
        password,
        database: "mlflow",
        ssl: { rejectUnauthorized: false },
        connectionTimeoutMillis: 20_000,
      });
      await client.connect();
      return client;
    };
    const clients: pg.Client[] = [];
    cleanups.push(() => Promise.all(clients.map((c) => c.end().catch(() => undefined))));
    clients.push(await connect());
    const shown = await clients[0]?.query("SHOW max_connections");
    expect(shown?.rows[0]?.max_connections).toBe(String(expected));

    // Open connections until the database refuses one: it happens at the class's limit, not at 100.
    let refusal: Error | undefined;
    while (clients.length <= expected + 5) {
      try {
        clients.push(await connect());
      } catch (e) {
        refusal = e as Error;
        break;
      }
    }
    expect(refusal?.message).toMatch(/too many clients|remaining connection slots are reserved/);
    expect(clients.length).toBeLessThanOrEqual(expected);
    expect(clients.length).toBeGreaterThanOrEqual(expected - 5);
  }, 180_000);

  it("a subnet's free addresses come from its CIDR block, so preflight sees a /28 too small for a rollout", async () => {
    const ec2 = new EC2Client(config);
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.77.0.0/16" }))).Vpc;
    if (!vpc?.VpcId) throw new Error("CreateVpc returned no VPC");
    cleanups.push(() => ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })));
    const subnet = async (cidr: string, zone: string) => {
      const s = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: cidr, AvailabilityZone: zone })))
        .Subnet;
      if (!s?.SubnetId) throw new Error(`CreateSubnet ${cidr} returned no subnet`);
      cleanups.push(() => ec2.send(new DeleteSubnetCommand({ SubnetId: s.SubnetId })));
      return s.SubnetId;
    };
    const small = await subnet("10.77.0.0/28", "us-east-1a");
    const wide = await subnet("10.77.1.0/24", "us-east-1b");
    const publicA = await subnet("10.77.2.0/24", "us-east-1a");
    const publicB = await subnet("10.77.3.0/24", "us-east-1b");
    const free = async () =>
      Object.fromEntries(
        ((await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [small, wide] }))).Subnets ?? []).map((s) => [
          s.SubnetId,
          s.AvailableIpAddressCount,
        ]),
      );
    // 16 addresses less AWS's 5; 256 less 5.
    expect(await free()).toEqual({ [small]: 11, [wide]: 251 });
    const eni = (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: small }))).NetworkInterface;
    cleanups.push(() => ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni?.NetworkInterfaceId })));
    expect((await free())[small]).toBe(10);

    // An environment in these subnets at autoscaling max 6: 6 × 2 during a rollout + 1 one-off task
    // = 13 tasks over 2 task subnets = 7 each, plus the internal load balancer's 8 and the database's 1.
    const model = modelFromYaml(
      `
name: tight
artifacts:
  bucket: tight-artifacts-${suffix}
environments:
  staging:
    region: us-east-1
    account: "${ACCOUNT}"
    autoscaling: { min: 1, max: 6 }
    database: { instanceClass: db.m7g.large }
    access: { sourceCidrs: [10.77.0.0/16] }
    network:
      vpcId: ${vpc.VpcId}
      publicSubnetIds: [${publicA}, ${publicB}]
      privateSubnetIds: [${small}, ${wide}]
`,
      "staging",
    );
    const clients = await createAwsClients({
      region: "us-east-1",
      endpointUrl: ENDPOINT,
      credentials: config.credentials,
    });
    cleanups.push(async () => destroyAwsClients(clients));
    const verdicts = await accountVerdicts(model, clients, "plan");
    const subnets = verdicts.find((v) => v.check === "subnet-ips");
    expect(subnets?.status).toBe("fail");
    expect(subnets?.message).toContain(small);
    expect(subnets?.message).not.toContain(wide);
  }, 60_000);
});

function modelFromYaml(yaml: string, environment: string) {
  return toAwsModel(resolve(parseSpecOrThrow(yaml, "emulator-limits.yaml"), environment));
}
