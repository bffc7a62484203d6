import { isMap, parseDocument } from "yaml";

/**
 * The rehearsal's copy of the spec (pure): the environment as it is, with what the twin needs
 * instead of the real account's resources, each change said.
 *  - the database's deletion protection off, so the rehearsal can remove what it created;
 *  - an existing VPC and its subnets, and a certificate, replaced by stand-ins created on the twin.
 */

/** What must be created on the twin before the rehearsal's promote. */
export interface StandInsNeeded {
  network?: { vpcId: string; publicSubnets: number; privateSubnets: number };
  certificate?: { arn: string; domain: string };
}

/** The stand-ins created on the twin (twin ids for the real ones). */
export interface StandIns {
  network?: { vpcId: string; publicSubnetIds: string[]; privateSubnetIds: string[] };
  certificateArn?: string;
}

export interface RehearsalSpec {
  text: string;
  /** What the copy changes, one line each, for the output. */
  changes: string[];
}

/** The environment's settings as the spec file holds them (the spec was validated before). */
function environmentOf(text: string, env: string) {
  const doc = parseDocument(text);
  const node = doc.getIn(["environments", env]);
  if (!isMap(node)) throw new Error(`the spec has no environment ${env}`);
  return { doc, node: node.toJSON() as Record<string, unknown> };
}

export function standInsNeeded(text: string, env: string): StandInsNeeded {
  const { node } = environmentOf(text, env);
  const network = (node.network ?? {}) as { vpcId?: string; publicSubnetIds?: string[]; privateSubnetIds?: string[] };
  const out: StandInsNeeded = {};
  if (network.vpcId)
    out.network = {
      vpcId: network.vpcId,
      publicSubnets: network.publicSubnetIds?.length ?? 2,
      privateSubnets: network.privateSubnetIds?.length ?? 2,
    };
  if (typeof node.certificateArn === "string" && typeof node.domain === "string")
    out.certificate = { arn: node.certificateArn, domain: node.domain };
  return out;
}

/** The spec with the rehearsal's changes to `env` (comments and every other environment kept). */
export function rehearsalSpec(text: string, env: string, standIns: StandIns = {}): RehearsalSpec {
  const { doc, node } = environmentOf(text, env);
  const at = (...path: string[]) => ["environments", env, ...path];
  const changes: string[] = [];
  const database = (node.database ?? {}) as { deletionProtection?: boolean };
  if (database.deletionProtection !== false) {
    doc.setIn(at("database", "deletionProtection"), false);
    changes.push(
      `environments.${env}.database.deletionProtection: false on the twin, so the rehearsal can remove the database it created`,
    );
  }
  if (standIns.network) {
    const network = (node.network ?? {}) as { vpcId?: string };
    doc.setIn(at("network", "vpcId"), standIns.network.vpcId);
    doc.setIn(at("network", "publicSubnetIds"), doc.createNode(standIns.network.publicSubnetIds, { flow: true }));
    doc.setIn(at("network", "privateSubnetIds"), doc.createNode(standIns.network.privateSubnetIds, { flow: true }));
    changes.push(
      `environments.${env}.network: the account's VPC ${network.vpcId} and its subnets are stand-ins created on the twin (${standIns.network.vpcId}: ${[...standIns.network.publicSubnetIds, ...standIns.network.privateSubnetIds].join(", ")})`,
    );
  }
  if (standIns.certificateArn) {
    doc.setIn(at("certificateArn"), standIns.certificateArn);
    changes.push(
      `environments.${env}.certificateArn: a self-signed stand-in for ${String(node.domain)} imported into the twin's ACM (${standIns.certificateArn})`,
    );
  }
  return { text: doc.toString(), changes };
}

/**
 * The AWS variables of the rehearsal's commands: every call goes to the twin, as the spec's account
 * (the twin takes a 12-digit access key as the account id) in the environment's region. Whatever
 * names real credentials or another endpoint is removed, so a rehearsal never reaches AWS.
 */
export function twinAwsEnv(
  base: NodeJS.ProcessEnv,
  twin: { endpoint: string },
  target: { account: string; region: string },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!/^AWS_/.test(k)) env[k] = v;
  return {
    ...env,
    AWS_ENDPOINT_URL: twin.endpoint,
    AWS_ACCESS_KEY_ID: target.account,
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: target.region,
    AWS_DEFAULT_REGION: target.region,
    // No profile or config file of the user's may add a role, an SSO session or another endpoint.
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  };
}

/**
 * The MLflow image the twin runs: MLFLOW_DEV_DEPLOY_IMAGE when set, else the local stack's
 * MLFLOW_DEV_IMAGES "mlflow=" (both sides then run the same image), else the spec's (promote builds it).
 */
export function rehearsalDeployImage(env: NodeJS.ProcessEnv): { image?: string; from?: string } {
  const deploy = env.MLFLOW_DEV_DEPLOY_IMAGE?.trim();
  if (deploy) return { image: deploy, from: "MLFLOW_DEV_DEPLOY_IMAGE" };
  for (const part of (env.MLFLOW_DEV_IMAGES ?? "").split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === "mlflow" && part.slice(eq + 1).trim())
      return { image: part.slice(eq + 1).trim(), from: 'MLFLOW_DEV_IMAGES "mlflow=", the image the local stack runs' };
  }
  return {};
}
