import type { Reporter } from "@mlflow-dev/kernel/progress";
import type { ExistingNetwork } from "@mlflow-dev/spec";
import { nearest } from "@mlflow-dev/spec";
import type { AwsModel } from "../../render/aws-model.ts";
import { awsErrorMessage, awsErrorName, DeployError, isNetworkError } from "../errors.ts";
import type { AwsClients } from "./clients.ts";

export interface Identity {
  account: string;
  arn: string;
  region: string;
}

export interface PreflightOptions {
  /** Also check that an existing VPC and its subnets exist (promote and plan; destroy skips it). */
  network?: boolean;
  /** Also check that the artifact bucket is not someone else's. */
  bucket?: boolean;
}

/**
 * Everything that can be checked before anything is created: credentials, region, account, and
 * the existing network the spec names. Each failure is an `input` error naming the setting.
 */
export async function preflight(
  model: AwsModel,
  clients: AwsClients,
  report: Reporter,
  options: PreflightOptions = { network: true, bucket: true },
): Promise<Identity> {
  const target = model.target;
  const at = (key: string) => `environments.${model.environment}.${key}`;
  await checkCredentials(clients);
  await checkRegion(clients, target.region, at("region"));
  const identity = await checkAccount(clients, target.account, at("account"));
  report.info(`account ${identity.account} (${identity.arn}), region ${target.region}`);
  if (options.network !== false && target.network.mode === "existing") await checkNetwork(target.network, clients, at);
  if (options.bucket !== false) await checkBucket(model, clients, at);
  if (options.network !== false && target.certificateArn && target.domain)
    await checkCertificate(clients, target.certificateArn, target.domain, at);
  return identity;
}

const CREDENTIALS_HINT =
  "Set AWS_PROFILE or pass --profile <name> (for SSO profiles run `aws sso login --profile <name>` first), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.";

async function checkCredentials(clients: AwsClients): Promise<void> {
  try {
    const provider = clients.sts.config.credentials;
    const creds = await provider();
    if (!creds.accessKeyId) throw new Error("the credential provider returned no access key");
  } catch (e) {
    throw new DeployError(`no usable AWS credentials: ${firstLine(awsErrorMessage(e))}`, {
      kind: "input",
      hint: CREDENTIALS_HINT,
      cause: e,
    });
  }
}

/** AWS region names look alike across partitions; the list comes from EC2 itself. */
async function checkRegion(clients: AwsClients, region: string, setting: string): Promise<void> {
  let regions: { name: string; optIn: string }[];
  try {
    const r = await clients.ec2.describeRegions({ AllRegions: true });
    regions = (r.Regions ?? []).map((x) => ({ name: x.RegionName ?? "", optIn: x.OptInStatus ?? "" }));
  } catch (e) {
    if (isNetworkError(e))
      throw new DeployError(
        `${setting}: region "${region}" does not exist or cannot be reached (${firstLine(awsErrorMessage(e))})`,
        { kind: "input", hint: "Use an AWS region such as eu-west-1 (see `aws ec2 describe-regions`).", cause: e },
      );
    throw credentialOrAccessError(e, "ec2:DescribeRegions");
  }
  const found = regions.find((r) => r.name === region);
  if (!found) {
    const guess = nearest(
      region,
      regions.map((r) => r.name),
    );
    throw new DeployError(`${setting}: "${region}" is not an AWS region${guess ? `. Did you mean "${guess}"?` : ""}`, {
      kind: "input",
      hint: `Regions: ${regions
        .map((r) => r.name)
        .sort()
        .join(", ")}`,
    });
  }
  if (found.optIn === "not-opted-in")
    throw new DeployError(`${setting}: region ${region} is not enabled for this account`, {
      kind: "input",
      hint: "Enable it in the AWS console (Account > AWS Regions), or choose an enabled region.",
    });
}

async function checkAccount(clients: AwsClients, expected: string, setting: string): Promise<Identity> {
  let account: string;
  let arn: string;
  try {
    const me = await clients.sts.getCallerIdentity({});
    account = me.Account ?? "";
    arn = me.Arn ?? "";
  } catch (e) {
    throw credentialOrAccessError(e, "sts:GetCallerIdentity");
  }
  if (account !== expected)
    throw new DeployError(
      `${setting} is ${expected}, but the credentials are for account ${account} (${arn}): nothing was changed`,
      {
        kind: "input",
        hint: `Use credentials for account ${expected} (--profile <name> or AWS_PROFILE), or correct ${setting}.`,
      },
    );
  return { account, arn, region: clients.region };
}

async function checkNetwork(n: ExistingNetwork, clients: AwsClients, at: (k: string) => string): Promise<void> {
  const vpcId = n.vpcId;
  try {
    const r = await clients.ec2.describeVpcs({ VpcIds: [vpcId] });
    if (!r.Vpcs?.length) throw Object.assign(new Error(`The vpc ID '${vpcId}' does not exist`), { name: "NotFound" });
  } catch (e) {
    if (/NotFound|Malformed/.test(awsErrorName(e)))
      throw new DeployError(`${at("network.vpcId")}: VPC ${vpcId} does not exist in ${clients.region}`, {
        kind: "input",
        hint: "Check the id and the region (`aws ec2 describe-vpcs`), or remove vpcId (and the subnets) to create a new VPC from network.cidr.",
        cause: e,
      });
    throw credentialOrAccessError(e, "ec2:DescribeVpcs");
  }
  for (const key of ["publicSubnetIds", "privateSubnetIds"] as const) {
    const ids = n[key];
    let subnets: { id: string; vpc: string; zone: string }[];
    try {
      const r = await clients.ec2.describeSubnets({ SubnetIds: ids });
      subnets = (r.Subnets ?? []).map((s) => ({
        id: s.SubnetId ?? "",
        vpc: s.VpcId ?? "",
        zone: s.AvailabilityZone ?? "",
      }));
    } catch (e) {
      if (/NotFound|Malformed/.test(awsErrorName(e)))
        throw new DeployError(`${at(`network.${key}`)}: ${firstLine(awsErrorMessage(e))}`, {
          kind: "input",
          hint: `List subnets of ${vpcId} with \`aws ec2 describe-subnets --filters Name=vpc-id,Values=${vpcId}\`.`,
          cause: e,
        });
      throw credentialOrAccessError(e, "ec2:DescribeSubnets");
    }
    const missing = ids.filter((id) => !subnets.some((s) => s.id === id));
    if (missing.length)
      throw new DeployError(`${at(`network.${key}`)}: subnet ${missing.join(", ")} does not exist`, { kind: "input" });
    const foreign = subnets.filter((s) => s.vpc !== vpcId);
    if (foreign.length)
      throw new DeployError(
        `${at(`network.${key}`)}: ${foreign.map((s) => `${s.id} is in ${s.vpc}`).join(", ")}, not in ${vpcId}`,
        { kind: "input", hint: "Every subnet must belong to network.vpcId." },
      );
    if (new Set(subnets.map((s) => s.zone)).size < 2)
      throw new DeployError(
        `${at(`network.${key}`)}: all subnets are in ${subnets[0]?.zone ?? "one zone"}: the load balancer and the database need two availability zones`,
        { kind: "input", hint: "List subnets from two different availability zones." },
      );
  }
}

/**
 * The HTTPS listener needs an issued certificate of this account and region, and clients refuse
 * one that does not name the domain or has expired: all of that shows only after the stack is
 * created (or as browser errors), so it is checked first.
 */
async function checkCertificate(
  clients: AwsClients,
  arn: string,
  domain: string,
  at: (k: string) => string,
): Promise<void> {
  let certificate: CertificateDetail;
  try {
    certificate = (await clients.acm.describeCertificate({ CertificateArn: arn })).Certificate ?? {};
  } catch (e) {
    if (/ResourceNotFound|InvalidArn/.test(awsErrorName(e)))
      throw new DeployError(`${at("certificateArn")}: certificate ${arn} does not exist in ${clients.region}`, {
        kind: "input",
        hint: "Import or request the certificate in ACM in the environment's region (`aws acm list-certificates`).",
        cause: e,
      });
    throw credentialOrAccessError(e, "acm:DescribeCertificate");
  }
  const problem = certificateProblem(certificate, domain, new Date());
  if (problem)
    throw new DeployError(`${at("certificateArn")}: ${problem}`, {
      kind: "input",
      hint: `Use an issued, unexpired certificate for ${domain} (or a wildcard for its parent domain).`,
    });
}

type CertificateDetail = {
  Status?: string | undefined;
  DomainName?: string | undefined;
  SubjectAlternativeNames?: string[] | undefined;
  NotAfter?: Date | undefined;
};

/** Why a certificate cannot serve `domain` (undefined when it can). */
export function certificateProblem(certificate: CertificateDetail, domain: string, now: Date): string | undefined {
  if (certificate.Status !== "ISSUED")
    return `the certificate is ${certificate.Status ?? "in an unknown state"}, not ISSUED`;
  const names = [...new Set([certificate.DomainName ?? "", ...(certificate.SubjectAlternativeNames ?? [])])].filter(
    Boolean,
  );
  if (!names.some((name) => certificateNameCovers(name, domain)))
    return `the certificate is for ${names.join(", ") || "no domain"}, not for ${domain}`;
  if (certificate.NotAfter && certificate.NotAfter.getTime() <= now.getTime())
    return `the certificate expired on ${certificate.NotAfter.toISOString().slice(0, 10)}`;
  return undefined;
}

/** TLS name matching: exact, or a wildcard that stands for exactly one leftmost label. */
function certificateNameCovers(name: string, domain: string): boolean {
  const n = name.toLowerCase();
  const d = domain.toLowerCase();
  if (!n.startsWith("*.")) return n === d;
  const dot = d.indexOf(".");
  return dot > 0 && d.slice(dot + 1) === n.slice(2);
}

/** S3 names are global: a bucket that exists in another account can never be created here. */
async function checkBucket(model: AwsModel, clients: AwsClients, at: (k: string) => string): Promise<void> {
  const bucket = model.artifacts.bucket;
  try {
    await clients.s3.headBucket({ Bucket: bucket });
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || awsErrorName(e) === "NotFound" || awsErrorName(e) === "NoSuchBucket") return;
    if (status === 403)
      throw new DeployError(
        `${at("bucket")}: the bucket "${bucket}" exists and belongs to another account (S3 bucket names are global)`,
        { kind: "input", hint: `Choose another name, e.g. ${model.name}-${model.environment}-artifacts-<account id>.` },
      );
    if (status === 301)
      throw new DeployError(`${at("bucket")}: the bucket "${bucket}" exists in another region`, {
        kind: "input",
        hint: "Choose another name, or deploy the environment to the bucket's region.",
      });
    throw credentialOrAccessError(e, "s3:HeadBucket");
  }
}

function credentialOrAccessError(e: unknown, action: string): DeployError {
  const name = awsErrorName(e);
  if (/InvalidClientTokenId|UnrecognizedClient|SignatureDoesNotMatch|ExpiredToken|AuthFailure/.test(name))
    return new DeployError(`the AWS credentials were refused (${name}): ${firstLine(awsErrorMessage(e))}`, {
      kind: "input",
      hint: CREDENTIALS_HINT,
      cause: e,
    });
  if (/AccessDenied|UnauthorizedOperation/.test(name))
    return new DeployError(`the credentials may not call ${action}: ${firstLine(awsErrorMessage(e))}`, {
      kind: "input",
      hint: "Deploying needs CloudFormation, ECS, EC2, IAM, RDS, S3, Secrets Manager, SSM, ECR and CloudWatch Logs permissions.",
      cause: e,
    });
  return new DeployError(`${action} failed: ${firstLine(awsErrorMessage(e))}`, { cause: e });
}

export function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}
