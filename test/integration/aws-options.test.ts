import { ApplicationAutoScaling } from "@aws-sdk/client-application-auto-scaling";
import {
  type AwsClients,
  createAwsClients,
  destroyAwsClients,
  type PromoteResult,
  send,
  targetFor,
} from "@mlflow-dev/aws/deploy";
import {
  cli,
  EMULATOR,
  emulatedEnv,
  emulatorAnswers,
  emulatorEnv,
  imageOverride,
  importCertificate,
  showRun as show,
  specFixture,
  tempDir,
} from "@mlflow-dev/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pins from "../../pins.json" with { type: "json" };

/**
 * The AWS options examples/basic staging does not use, promoted on the emulator (MiniStack with
 * the patches in images/ministack): `egress: nat` (a NAT gateway with its Elastic IP, the tasks
 * in the private subnets), `autoscaling` (an Application Auto Scaling target and policy), and a
 * `domain` with an imported certificate (an HTTPS listener, HTTP redirected to it). Each is read
 * back from the service that holds it, and destroy leaves none of them behind.
 */
const up = await emulatorAnswers("test/integration/aws-options.test.ts");
const ACCOUNT = "777788889999";
const REGION = "eu-west-1";
const SUFFIX = Math.random().toString(36).slice(2, 7);
const NAME = `itoptions-${SUFFIX}`;
const STACK = `mlflow-dev-${NAME}-staging`;
const SERVICE = `${NAME}-mlflow`;
const DOMAIN = `mlflow-${SUFFIX}.example.com`;
const MLFLOW_IMAGE = imageOverride("mlflow") ?? `localhost/mlflow-dev-local/mlflow:${pins.mlflow}`;
const env = () => ({
  ...emulatorEnv(ACCOUNT),
  MLFLOW_DEV_IMAGES: `mlflow=${MLFLOW_IMAGE}`,
  MLFLOW_DEV_DEPLOY_IMAGE: MLFLOW_IMAGE,
});

/** examples/basic with staging behind a NAT gateway, autoscaled, on `DOMAIN` with this certificate. */
function specDir(certificateArn: string): string {
  const dir = tempDir(`mlflow-dev-${NAME}-`);
  emulatedEnv(specFixture("examples/basic").name(NAME), {
    account: ACCOUNT,
    settings: {
      network: { egress: "nat" },
      autoscaling: { min: 1, max: 3, targetCpu: 55 },
      domain: DOMAIN,
      certificateArn,
    },
  }).write(dir);
  return dir;
}

describe.skipIf(!up && !process.env.CI)("NAT egress, autoscaling and HTTPS on a domain, on the emulator", () => {
  let clients: AwsClients;
  let scaling: ApplicationAutoScaling;
  let dir: string;
  let result: PromoteResult;
  const physical: Record<string, string> = {};

  beforeAll(async () => {
    if (!up) throw new Error(`CI is set but no AWS emulator answers at ${EMULATOR}: .ci/provision starts it`);
    const credentials = { accessKeyId: ACCOUNT, secretAccessKey: "test" };
    clients = await createAwsClients({ region: REGION, endpointUrl: EMULATOR, credentials });
    scaling = new ApplicationAutoScaling({ region: REGION, endpoint: EMULATOR, credentials });
    dir = specDir(await importCertificate(clients, DOMAIN));
  });

  afterAll(() => {
    if (dir)
      cli(["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], { cwd: dir, env: env() });
    scaling?.destroy();
    if (clients) destroyAwsClients(clients);
  });

  it("a certificate that does not name the domain is refused before anything is created", async () => {
    const other = specDir(await importCertificate(clients, `other-${SUFFIX}.example.com`));
    const r = cli(["promote", "--env", "staging"], { cwd: other, env: env() });
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(
      `environments.staging.certificateArn: the certificate is for other-${SUFFIX}.example.com, not for ${DOMAIN}`,
    );
    await expect(clients.cloudformation.describeStacks({ StackName: STACK })).rejects.toThrow(/does not exist/);
  });

  it("promotes: the smoke test reaches the service on its domain over the HTTPS listener", async () => {
    const r = cli(["promote", "--env", "staging", "--json"], { cwd: dir, env: env() });
    expect(r.code, show(r)).toBe(0);
    result = JSON.parse(r.stdout) as PromoteResult;
    expect(result.url).toBe(`https://${DOMAIN}`);
    expect(result.smokeTest?.runId).toBeDefined();
    const resources = await clients.cloudformation.describeStackResources({ StackName: STACK });
    for (const res of resources.StackResources ?? []) {
      physical[res.LogicalResourceId ?? ""] = res.PhysicalResourceId ?? "";
      expect(res.ResourceStatus, res.LogicalResourceId).toMatch(/^(CREATE|UPDATE)_COMPLETE$/);
    }
    expect(physical.NatGatewayEip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(physical.NatGateway).toMatch(/^nat-[0-9a-f]+$/);
    expect(physical.ScalableTarget).toBe(`service/${STACK}/${SERVICE}|ecs:service:DesiredCount|ecs`);
    expect(physical.CpuScalingPolicy).toMatch(/^arn:aws:autoscaling:eu-west-1:777788889999:scalingPolicy:/);
    expect(physical.HttpsListener).toMatch(/^arn:aws:elasticloadbalancing:eu-west-1:777788889999:listener\//);
  });

  it("egress: nat: a NAT gateway with its Elastic IP in a public subnet, the private default route through it", async () => {
    const nat = (await clients.ec2.describeNatGateways({ NatGatewayIds: [physical.NatGateway ?? ""] }))
      .NatGateways?.[0];
    expect(nat).toMatchObject({ State: "available", SubnetId: physical.PublicSubnet1, VpcId: physical.Vpc });
    const address = (await clients.ec2.describeAddresses({ PublicIps: [physical.NatGatewayEip ?? ""] })).Addresses?.[0];
    expect(address?.AssociationId).toMatch(/^eipassoc-/);
    const table = (await clients.ec2.describeRouteTables({ RouteTableIds: [physical.PrivateRouteTable ?? ""] }))
      .RouteTables?.[0];
    expect(table?.Routes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ DestinationCidrBlock: "0.0.0.0/0", NatGatewayId: nat?.NatGatewayId }),
      ]),
    );
    const service = (await clients.ecs.describeServices({ cluster: STACK, services: [SERVICE] })).services?.[0];
    const awsvpc = service?.networkConfiguration?.awsvpcConfiguration;
    expect(awsvpc?.assignPublicIp).toBe("DISABLED");
    expect([...(awsvpc?.subnets ?? [])].sort()).toEqual([physical.PrivateSubnet1, physical.PrivateSubnet2].sort());
  });

  it("autoscaling: Application Auto Scaling holds the service's target and its CPU policy", async () => {
    const resourceId = `service/${STACK}/${SERVICE}`;
    const targets = await scaling.describeScalableTargets({ ServiceNamespace: "ecs", ResourceIds: [resourceId] });
    expect(targets.ScalableTargets).toEqual([
      expect.objectContaining({ ScalableDimension: "ecs:service:DesiredCount", MinCapacity: 1, MaxCapacity: 3 }),
    ]);
    const policies = await scaling.describeScalingPolicies({ ServiceNamespace: "ecs", ResourceId: resourceId });
    expect(policies.ScalingPolicies).toEqual([
      expect.objectContaining({
        PolicyName: `${SERVICE}-cpu`,
        PolicyType: "TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration: expect.objectContaining({
          TargetValue: 55,
          PredefinedMetricSpecification: { PredefinedMetricType: "ECSServiceAverageCPUUtilization" },
        }),
      }),
    ]);
  });

  it("HTTP on the domain redirects to HTTPS; HTTPS reaches MLflow", async () => {
    const http = await send(targetFor(`http://${DOMAIN}`, EMULATOR), "GET", "/health");
    expect(http.status).toBe(301);
    expect(String(http.headers.location)).toMatch(
      new RegExp(`^https://${DOMAIN.replaceAll(".", "\\.")}(:443)?/health$`),
    );
    const https = await send(targetFor(`https://${DOMAIN}`, EMULATOR), "GET", "/health");
    expect(https.status).toBe(200);
    expect(https.body.toString()).toBe("OK");
  });

  it("destroy leaves no NAT gateway, Elastic IP, scalable target or stack", async () => {
    const r = cli(["destroy", "--env", "staging", "--yes", "--delete-data", "--skip-final-snapshot"], {
      cwd: dir,
      env: env(),
    });
    expect(r.code, show(r)).toBe(0);
    await expect(clients.cloudformation.describeStacks({ StackName: STACK })).rejects.toThrow(/does not exist/);
    const nats = await clients.ec2.describeNatGateways({ NatGatewayIds: [physical.NatGateway ?? ""] });
    expect((nats.NatGateways ?? []).filter((n) => n.State !== "deleted")).toEqual([]);
    const addresses = await clients.ec2.describeAddresses({});
    expect((addresses.Addresses ?? []).map((a) => a.PublicIp)).not.toContain(physical.NatGatewayEip);
    const targets = await scaling.describeScalableTargets({ ServiceNamespace: "ecs" });
    expect(targets.ScalableTargets).toEqual([]);
    dir = "";
  });
});
