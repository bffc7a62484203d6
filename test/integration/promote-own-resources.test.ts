import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AwsClients,
  createAwsClients,
  destroyAwsClients,
  type PromoteResult,
  send,
  targetFor,
} from "@mlflow-dev/aws/deploy";
import {
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  importCertificate,
  ROOT,
  specFixture,
  tempDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awsEnv, cli, elbv2, MLFLOW_IMAGE, show } from "./emulator-cli.ts";

/**
 * promote into resources of the user's own on the MiniStack emulator: an image built here and
 * pushed to the stack's ECR repository (images.build), and examples/existing-vpc in a VPC, subnets
 * and a certificate the test creates first. Split from promote.test.ts so the lanes can run it
 * beside promote's own rollouts (each in an account of its own).
 */
const SUFFIX = Math.random().toString(36).slice(2, 7);
const up = await emulatorAnswers("test/integration/promote-own-resources.test.ts");

/**
 * images.build: the image is built here and pushed to the stack's ECR repository. MiniStack's
 * registry endpoint takes unsigned pushes into its default account only (000000000000), so this
 * environment uses that account.
 */
describe.skipIf(!up && !process.env.CI)("promote with images.build: build, push to ECR, run", () => {
  const ECR_NAME = `itbuild-${SUFFIX}`;
  const ECR_ACCOUNT = "000000000000";
  let buildDir: string;
  let ecrClients: AwsClients;
  const env = () => ({ ...awsEnv({ AWS_ACCESS_KEY_ID: "test" }), MLFLOW_DEV_IMAGES: "", MLFLOW_DEV_DEPLOY_IMAGE: "" });

  beforeAll(async () => {
    if (!up) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}`);
    buildDir = tempDir("mlflow-dev-build-");
    mkdirSync(join(buildDir, "image"));
    writeFileSync(
      join(buildDir, "image/Dockerfile"),
      `ARG BASE_IMAGE=${MLFLOW_IMAGE}\nFROM \${BASE_IMAGE}\nLABEL org.opencontainers.image.title="mlflow-dev test build"\n`,
    );
    specFixture("examples/basic")
      .name(ECR_NAME)
      .set("images.build.context", "./image")
      .env("staging", {
        account: ECR_ACCOUNT,
        region: "us-east-1",
        bucket: `${ECR_NAME}-staging-artifacts-${ECR_ACCOUNT}`,
        // The test destroys what it promotes: destroy refuses a protected database.
        database: { deletionProtection: false },
      })
      .write(buildDir);
    ecrClients = await createAwsClients({
      region: "us-east-1",
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  });

  afterAll(() => {
    if (buildDir) {
      const d = cli(
        ["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"],
        buildDir,
        env(),
      );
      expect(d.code, show(d)).toBe(0);
    }
    if (ecrClients) destroyAwsClients(ecrClients);
  });

  it("builds the image, pushes it to ECR and runs it; a second promote neither builds nor pushes", async () => {
    const r = cli(["promote", "--env", "staging", "--json"], buildDir, env());
    expect(r.code, show(r)).toBe(0);
    const result = JSON.parse(r.stdout) as PromoteResult;
    const repo = `mlflow-dev/${ECR_NAME}/staging/mlflow`;
    expect(result.image).toMatch(
      new RegExp(
        `^${ECR_ACCOUNT}\\.dkr\\.ecr\\.us-east-1\\.amazonaws\\.com/${repo.replaceAll("/", "\\/")}:3\\.17\\.2-[0-9a-f]{12}$`,
      ),
    );
    const tag = result.image.split(":").pop() ?? "";
    const images = await ecrClients.ecr.describeImages({ repositoryName: repo, imageIds: [{ imageTag: tag }] });
    expect(images.imageDetails?.length).toBe(1);
    expect(result.smokeTest?.runId).toBeDefined();
    const again = cli(["promote", "--env", "staging"], buildDir, env());
    expect(again.code, show(again)).toBe(0);
    expect(again.stderr).toContain("is already in ECR (same build context): not rebuilt");
    expect(again.stdout).toContain("no changes");
  });
});

/**
 * examples/existing-vpc (bring your own VPC and subnets): its VPC and subnets are created on the
 * emulator, in an account of this test's own, and substituted into a copy of the example. plan
 * runs the same checks as promote, then computes the stack: it uses those subnets and creates no
 * network of its own. Subnets in one zone are refused before anything is computed.
 */
describe.skipIf(!up && !process.env.CI)("examples/existing-vpc on the emulator: a VPC of your own", () => {
  const VPC_ACCOUNT = "444455556666";
  const REGION = "eu-central-1";
  let vpcClients: AwsClients;
  let vpcDir: string;
  let vpcId: string;
  let certificateArn: string;
  const subnets: { id: string; zone: string }[] = [];
  const endpoints: string[] = [];
  const env = () =>
    awsEnv({
      AWS_ACCESS_KEY_ID: VPC_ACCOUNT,
      AWS_REGION: REGION,
      MLFLOW_DEV_IMAGES: "",
      MLFLOW_DEV_DEPLOY_IMAGE: "",
    }) as NodeJS.ProcessEnv;

  /** The example with this VPC's ids, this test's account, and its build context where it is. */
  function exampleDir(ids: { vpc: string; public: string[]; private: string[] }): string {
    const d = tempDir("mlflow-dev-existing-vpc-");
    const spec = specFixture("examples/existing-vpc")
      .set("images.build.context", join(ROOT, "images/mlflow"))
      // The emulator's RDS runs the one PostgreSQL image built offline (images/postgres, 17).
      .set("backend.postgresVersion", 17);
    emulatedEnv(spec, {
      env: "prod",
      account: VPC_ACCOUNT,
      bucket: `registry-prod-artifacts-${VPC_ACCOUNT}`,
      settings: {
        network: { vpcId: ids.vpc, publicSubnetIds: ids.public, privateSubnetIds: ids.private },
        certificateArn,
      },
    }).write(d);
    return d;
  }

  beforeAll(async () => {
    if (!up) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    vpcClients = await createAwsClients({
      region: REGION,
      endpointUrl: EMULATOR,
      credentials: { accessKeyId: VPC_ACCOUNT, secretAccessKey: "test" },
    });
    vpcId = (await vpcClients.ec2.createVpc({ CidrBlock: "10.42.0.0/16" })).Vpc?.VpcId ?? "";
    certificateArn = await importCertificate(vpcClients, "mlflow.example.com");
    // Public in a and b, private in a and b, and one more private subnet in a.
    for (const [i, zone] of [`${REGION}a`, `${REGION}b`, `${REGION}a`, `${REGION}b`, `${REGION}a`].entries()) {
      const s = await vpcClients.ec2.createSubnet({
        VpcId: vpcId,
        CidrBlock: `10.42.${i}.0/24`,
        AvailabilityZone: zone,
      });
      subnets.push({ id: s.Subnet?.SubnetId ?? "", zone });
    }
    // The tasks' way out of private subnets without a NAT route: endpoints for ECR, CloudWatch Logs,
    // Secrets Manager and S3 (the preflight refuses private subnets with neither).
    for (const [service, type] of [
      ["ecr.api", "Interface"],
      ["ecr.dkr", "Interface"],
      ["logs", "Interface"],
      ["secretsmanager", "Interface"],
      ["s3", "Gateway"],
    ] as const) {
      const e = await vpcClients.ec2.createVpcEndpoint({
        VpcId: vpcId,
        ServiceName: `com.amazonaws.${REGION}.${service}`,
        VpcEndpointType: type,
      });
      endpoints.push(e.VpcEndpoint?.VpcEndpointId ?? "");
    }
    vpcDir = exampleDir({
      vpc: vpcId,
      public: [subnets[0]?.id ?? "", subnets[1]?.id ?? ""],
      private: [subnets[2]?.id ?? "", subnets[3]?.id ?? ""],
    });
  });

  afterAll(async () => {
    if (!vpcClients) return;
    if (endpoints.length) await vpcClients.ec2.deleteVpcEndpoints({ VpcEndpointIds: endpoints }).catch(() => undefined);
    for (const s of subnets) await vpcClients.ec2.deleteSubnet({ SubnetId: s.id }).catch(() => undefined);
    if (vpcId) await vpcClients.ec2.deleteVpc({ VpcId: vpcId }).catch(() => undefined);
    destroyAwsClients(vpcClients);
  });

  it("private subnets with neither a NAT route nor VPC endpoints: plan refuses before anything is computed", async () => {
    // A second VPC as created: its subnets route only inside it (the main route table's local route).
    const bare = (await vpcClients.ec2.createVpc({ CidrBlock: "10.43.0.0/16" })).Vpc?.VpcId ?? "";
    const own: string[] = [];
    try {
      for (const [i, zone] of [`${REGION}a`, `${REGION}b`, `${REGION}a`, `${REGION}b`].entries())
        own.push(
          (await vpcClients.ec2.createSubnet({ VpcId: bare, CidrBlock: `10.43.${i}.0/24`, AvailabilityZone: zone }))
            .Subnet?.SubnetId ?? "",
        );
      const dir = exampleDir({ vpc: bare, public: own.slice(0, 2), private: own.slice(2, 4) });
      const r = cli(["plan", "--env", "prod"], dir, env());
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain(`${own[2]} routes 0.0.0.0/0 nowhere`);
      expect(r.stderr).toContain(`com.amazonaws.${REGION}.ecr.api`);
      expect(r.stderr).toContain("ResourceInitializationError");
      expect(r.stderr).toContain(
        "Route the private subnets' 0.0.0.0/0 through a NAT gateway, or add the missing VPC endpoints",
      );
      await expect(vpcClients.cloudformation.describeStacks({ StackName: "mlflow-dev-registry-prod" })).rejects.toThrow(
        /does not exist/,
      );
    } finally {
      for (const id of own) await vpcClients.ec2.deleteSubnet({ SubnetId: id }).catch(() => undefined);
      await vpcClients.ec2.deleteVpc({ VpcId: bare }).catch(() => undefined);
    }
  });

  it("plan checks the VPC and its subnets, then lists a stack in them that creates no network", () => {
    const r = cli(["plan", "--env", "prod", "--json"], vpcDir, env());
    expect(r.code, show(r)).toBe(0);
    // The preflight's verdicts: a way out through the endpoints, room in every subnet.
    const verdicts = JSON.parse(r.stdout).preflight as { check: string; status: string; message: string }[];
    expect(verdicts.find((v) => v.check === "egress-route")).toMatchObject({ status: "ok" });
    expect(verdicts.find((v) => v.check === "egress-route")?.message).toContain("endpoints for ECR");
    expect(verdicts.find((v) => v.check === "subnet-ips")?.status).toBe("ok");
    expect(verdicts.find((v) => v.check === "subnet-ips")?.message).toContain(`${subnets[2]?.id} `);
    expect(r.stderr).toContain(`account ${VPC_ACCOUNT}`);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({ stack: "mlflow-dev-registry-prod", stackAction: "create", account: VPC_ACCOUNT });
    const types = plan.infrastructure.map((c: { type: string }) => c.type);
    expect(types).toEqual(
      expect.arrayContaining([
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBSubnetGroup",
        "AWS::ECS::Service",
      ]),
    );
    for (const own of ["AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::EC2::InternetGateway"])
      expect(types).not.toContain(own);
    // basic auth: its secrets are created on promote, never shown.
    expect(plan.secrets.map((s: { name: string }) => s.name)).toContain("mlflow-dev/registry/prod/auth-admin-password");
  });

  it("subnets that are all in one zone are refused, naming the setting", async () => {
    const oneZone = exampleDir({
      vpc: vpcId,
      public: [subnets[0]?.id ?? "", subnets[1]?.id ?? ""],
      private: [subnets[2]?.id ?? "", subnets[4]?.id ?? ""],
    });
    const r = cli(["plan", "--env", "prod"], oneZone, env());
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(`environments.prod.network.privateSubnetIds: all subnets are in ${REGION}a`);
    await expect(vpcClients.cloudformation.describeStacks({ StackName: "mlflow-dev-registry-prod" })).rejects.toThrow(
      /does not exist/,
    );
  });

  it("promotes into it: tasks and database in its private subnets, basic auth over HTTPS on the domain; destroy keeps the VPC", async () => {
    const ids = {
      vpc: vpcId,
      public: [subnets[0]?.id ?? "", subnets[1]?.id ?? ""],
      private: [subnets[2]?.id ?? "", subnets[3]?.id ?? ""],
    };
    const d = exampleDir(ids);
    const promoteEnv = awsEnv({ AWS_ACCESS_KEY_ID: VPC_ACCOUNT, AWS_REGION: REGION });
    const stack = "mlflow-dev-registry-prod";
    try {
      const r = cli(["promote", "--env", "prod", "--json"], d, promoteEnv);
      expect(r.code, show(r)).toBe(0);
      const result = JSON.parse(r.stdout) as PromoteResult;
      expect(result.url).toBe("https://mlflow.example.com");
      const resources =
        (await vpcClients.cloudformation.describeStackResources({ StackName: stack })).StackResources ?? [];
      const types = resources.map((res) => res.ResourceType);
      for (const own of ["AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::EC2::EIP"])
        expect(types).not.toContain(own);
      const service = (await vpcClients.ecs.describeServices({ cluster: stack, services: ["registry-mlflow"] }))
        .services?.[0];
      expect(service?.runningCount).toBe(2);
      expect([...(service?.networkConfiguration?.awsvpcConfiguration?.subnets ?? [])].sort()).toEqual(
        [...ids.private].sort(),
      );
      const groupName = resources.find((res) => res.LogicalResourceId === "DatabaseSubnetGroup")?.PhysicalResourceId;
      const group = (await vpcClients.rds.describeDBSubnetGroups({ DBSubnetGroupName: groupName ?? "" }))
        .DBSubnetGroups?.[0];
      expect(group?.VpcId).toBe(vpcId);
      expect((group?.Subnets ?? []).map((s) => s.SubnetIdentifier).sort()).toEqual([...ids.private].sort());
      // access: internet-facing in the public subnets, admitting the office and the VPN only, with access logs.
      const physical = (id: string) => resources.find((res) => res.LogicalResourceId === id)?.PhysicalResourceId ?? "";
      const lb = physical("LoadBalancer");
      const xml = await elbv2("DescribeLoadBalancers", { "LoadBalancerArns.member.1": lb }, VPC_ACCOUNT, REGION);
      expect(xml).toContain("<Scheme>internet-facing</Scheme>");
      expect([...xml.matchAll(/<SubnetId>([^<]+)<\/SubnetId>/g)].map((m) => m[1]).sort()).toEqual(
        [...ids.public].sort(),
      );
      const attributes = await elbv2("DescribeLoadBalancerAttributes", { LoadBalancerArn: lb }, VPC_ACCOUNT, REGION);
      expect(attributes).toMatch(/<Key>access_logs\.s3\.enabled<\/Key>\s*<Value>true<\/Value>/);
      expect(attributes).toMatch(/<Key>access_logs\.s3\.prefix<\/Key>\s*<Value>load-balancer-logs<\/Value>/);
      const albGroup = (
        await vpcClients.ec2.describeSecurityGroups({ GroupIds: [physical("LoadBalancerSecurityGroup")] })
      ).SecurityGroups?.[0];
      expect(
        (albGroup?.IpPermissions ?? [])
          .flatMap((p) => (p.IpRanges ?? []).map((r) => `${r.CidrIp} ${p.FromPort}`))
          .sort(),
      ).toEqual(["198.51.100.16/28 443", "198.51.100.16/28 80", "203.0.113.0/24 443", "203.0.113.0/24 80"]);
      // Over HTTPS the smoke test signs in and runs its round trip.
      expect(result.smokeTest?.skipped).toBeUndefined();
      expect(result.smokeTest?.runId).toMatch(/^[0-9a-f]{32}$/);
      const password = (
        await vpcClients.secretsManager.getSecretValue({ SecretId: "mlflow-dev/registry/prod/auth-admin-password" })
      ).SecretString;
      const target = targetFor(result.url, EMULATOR);
      const path = "/api/2.0/mlflow/experiments/search?max_results=1";
      expect((await send(target, "GET", path)).status).toBe(401);
      const authorization = `Basic ${Buffer.from(`admin:${password}`).toString("base64")}`;
      expect((await send(target, "GET", path, { headers: { authorization } })).status).toBe(200);
    } finally {
      const r = cli(["destroy", "--env", "prod", "--yes", "--delete-data", "--skip-final-snapshot"], d, promoteEnv);
      expect(r.code, show(r)).toBe(0);
    }
    await expect(vpcClients.cloudformation.describeStacks({ StackName: stack })).rejects.toThrow(/does not exist/);
    expect((await vpcClients.ec2.describeVpcs({ VpcIds: [vpcId] })).Vpcs?.length).toBe(1);
  }, 900_000);
});
