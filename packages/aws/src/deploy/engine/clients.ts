import type { ACM } from "@aws-sdk/client-acm";
import type { CloudFormation } from "@aws-sdk/client-cloudformation";
import type { CloudWatchLogs } from "@aws-sdk/client-cloudwatch-logs";
import type { EC2 } from "@aws-sdk/client-ec2";
import type { ECR } from "@aws-sdk/client-ecr";
import type { ECS } from "@aws-sdk/client-ecs";
import type { IAM } from "@aws-sdk/client-iam";
import type { RDS } from "@aws-sdk/client-rds";
import type { S3 } from "@aws-sdk/client-s3";
import type { SecretsManager } from "@aws-sdk/client-secrets-manager";
import type { ServiceQuotas } from "@aws-sdk/client-service-quotas";
import type { SSM } from "@aws-sdk/client-ssm";
import type { STS } from "@aws-sdk/client-sts";

/** The AWS SDK clients the deploy runners use, all for one region and one set of credentials. */
export interface AwsClients {
  region: string;
  /** Set when the clients talk to an emulator (AWS_ENDPOINT_URL / --endpoint-url). */
  endpointUrl: string | undefined;
  cloudformation: CloudFormation;
  ecs: ECS;
  secretsManager: SecretsManager;
  sts: STS;
  ec2: EC2;
  ssm: SSM;
  ecr: ECR;
  s3: S3;
  rds: RDS;
  logs: CloudWatchLogs;
  acm: ACM;
  /** The preflight's look at the ECS service-linked role. */
  iam: IAM;
  /** The preflight's Fargate vCPU and Elastic IP quotas. */
  serviceQuotas: ServiceQuotas;
}

export interface ClientOptions {
  region: string;
  /** A named profile of ~/.aws/config (SSO profiles included); default: the SDK's credential chain. */
  profile?: string | undefined;
  /** Every service at this URL (an emulator such as MiniStack or LocalStack). */
  endpointUrl?: string | undefined;
  /** Static credentials instead of the provider chain (tests against an emulator). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

/** The endpoint override: the flag, else AWS_ENDPOINT_URL (which the SDK reads too). */
export function endpointUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = flag ?? env.AWS_ENDPOINT_URL;
  return value ? value.replace(/\/+$/, "") : undefined;
}

/**
 * Creates the clients. The SDK is imported here, lazily, so commands that do not talk to AWS (and
 * --help) never load it. Credentials come from the SDK's default provider chain: environment,
 * ~/.aws/credentials and config (profiles, SSO, assume-role), container and instance roles.
 */
export async function createAwsClients(options: ClientOptions): Promise<AwsClients> {
  const [cfn, ecs, sm, sts, ec2, ssm, ecr, s3, rds, logs, acm, iam, quotas] = await Promise.all([
    import("@aws-sdk/client-cloudformation"),
    import("@aws-sdk/client-ecs"),
    import("@aws-sdk/client-secrets-manager"),
    import("@aws-sdk/client-sts"),
    import("@aws-sdk/client-ec2"),
    import("@aws-sdk/client-ssm"),
    import("@aws-sdk/client-ecr"),
    import("@aws-sdk/client-s3"),
    import("@aws-sdk/client-rds"),
    import("@aws-sdk/client-cloudwatch-logs"),
    import("@aws-sdk/client-acm"),
    import("@aws-sdk/client-iam"),
    import("@aws-sdk/client-service-quotas"),
  ]);
  const config = {
    region: options.region,
    maxAttempts: 6,
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  return {
    region: options.region,
    endpointUrl: options.endpointUrl,
    cloudformation: new cfn.CloudFormation(config),
    ecs: new ecs.ECS(config),
    secretsManager: new sm.SecretsManager(config),
    sts: new sts.STS(config),
    ec2: new ec2.EC2(config),
    ssm: new ssm.SSM(config),
    ecr: new ecr.ECR(config),
    // Emulators serve buckets on their own host: path-style addressing.
    s3: new s3.S3({ ...config, ...(options.endpointUrl ? { forcePathStyle: true } : {}) }),
    rds: new rds.RDS(config),
    logs: new logs.CloudWatchLogs(config),
    acm: new acm.ACM(config),
    iam: new iam.IAM(config),
    serviceQuotas: new quotas.ServiceQuotas(config),
  };
}

/** Closes the clients' sockets so the process can exit at once. */
export function destroyAwsClients(clients: AwsClients): void {
  for (const c of [
    clients.cloudformation,
    clients.ecs,
    clients.secretsManager,
    clients.sts,
    clients.ec2,
    clients.ssm,
    clients.ecr,
    clients.s3,
    clients.rds,
    clients.logs,
    clients.acm,
    clients.iam,
    clients.serviceQuotas,
  ])
    c.destroy();
}
