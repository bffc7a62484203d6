import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AwsClients } from "@mlflow-dev/aws/deploy";
import { runCaptured } from "@mlflow-dev/kernel/process";
import { UserError } from "../errors.ts";
import type { StandIns, StandInsNeeded } from "./spec.ts";

/**
 * The edge that creates, on the twin, stand-ins for the real account's resources a spec names (an
 * existing VPC with its subnets, an ACM certificate), and removes them after the rehearsal.
 */

/** The VPC endpoints a private subnet without a NAT route needs (the preflight checks for them). */
const PRIVATE_EGRESS_ENDPOINTS = [
  ["ecr.api", "Interface"],
  ["ecr.dkr", "Interface"],
  ["logs", "Interface"],
  ["secretsmanager", "Interface"],
  ["s3", "Gateway"],
] as const;

export interface CreatedStandIns {
  standIns: StandIns;
  remove(): Promise<void>;
}

export async function createStandIns(clients: AwsClients, needed: StandInsNeeded): Promise<CreatedStandIns> {
  const undo: (() => Promise<unknown>)[] = [];
  const standIns: StandIns = {};
  const remove = async () => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  };
  try {
    if (needed.network) {
      const vpcId = (await clients.ec2.createVpc({ CidrBlock: "10.250.0.0/16" })).Vpc?.VpcId ?? "";
      undo.push(() => clients.ec2.deleteVpc({ VpcId: vpcId }));
      const zones = [`${clients.region}a`, `${clients.region}b`];
      const subnet = async (i: number) => {
        const id =
          (
            await clients.ec2.createSubnet({
              VpcId: vpcId,
              CidrBlock: `10.250.${i}.0/24`,
              AvailabilityZone: zones[i % 2],
            })
          ).Subnet?.SubnetId ?? "";
        undo.push(() => clients.ec2.deleteSubnet({ SubnetId: id }));
        return id;
      };
      const publicSubnetIds: string[] = [];
      const privateSubnetIds: string[] = [];
      for (let i = 0; i < needed.network.publicSubnets; i++) publicSubnetIds.push(await subnet(i));
      for (let i = 0; i < needed.network.privateSubnets; i++)
        privateSubnetIds.push(await subnet(needed.network.publicSubnets + i));
      const endpoints: string[] = [];
      for (const [service, type] of PRIVATE_EGRESS_ENDPOINTS) {
        const e = await clients.ec2.createVpcEndpoint({
          VpcId: vpcId,
          ServiceName: `com.amazonaws.${clients.region}.${service}`,
          VpcEndpointType: type,
        });
        endpoints.push(e.VpcEndpoint?.VpcEndpointId ?? "");
      }
      undo.push(() => clients.ec2.deleteVpcEndpoints({ VpcEndpointIds: endpoints }));
      standIns.network = { vpcId, publicSubnetIds, privateSubnetIds };
    }
    if (needed.certificate) {
      const arn = await importSelfSigned(clients, needed.certificate.domain);
      undo.push(() => clients.acm.deleteCertificate({ CertificateArn: arn }));
      standIns.certificateArn = arn;
    }
  } catch (e) {
    await remove();
    if (e instanceof UserError) throw e;
    throw new UserError(`rehearse: creating stand-ins on the twin failed: ${(e as Error).message}`);
  }
  return { standIns, remove };
}

/** A self-signed certificate for `domain` (openssl), imported into the twin's ACM: its ARN. */
async function importSelfSigned(clients: AwsClients, domain: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-rehearse-cert-"));
  try {
    const made = await runCaptured("openssl", [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7"],
      ...["-subj", `/CN=${domain}`, "-addext", `subjectAltName=DNS:${domain}`],
      ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
    ]);
    if (made.code !== 0)
      throw new UserError(`rehearse: cannot make a stand-in certificate for ${domain}: ${made.stderr.trim()}`, {
        hint: "The stand-in is a self-signed certificate made with openssl: install openssl.",
      });
    const imported = await clients.acm.importCertificate({
      Certificate: readFileSync(join(dir, "cert.pem")),
      PrivateKey: readFileSync(join(dir, "key.pem")),
    });
    return imported.CertificateArn ?? "";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
