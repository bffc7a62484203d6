import type { Model } from "@mlflow-dev/spec";

/**
 * The differences between the local stack and ECS that mlflow-dev makes on purpose, each with its
 * reason. A built-in declaration covers a difference only when `applies` holds, so a change that
 * goes further than the reason (say a spec host missing on one side) is still drift.
 */
export interface BuiltinDeclaration {
  setting: string;
  reason: string;
  applies: (local: string | undefined, remote: string | undefined, ctx: BuiltinContext) => boolean;
}

export interface BuiltinContext {
  local: Model;
  remote: Model;
}

const localOnly = (l: string | undefined, r: string | undefined) => l !== undefined && r === undefined;
const bothSides = (l: string | undefined, r: string | undefined) => l !== undefined && r !== undefined;

function s3Parts(uri: string | undefined): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri ?? "");
  return m ? { bucket: m[1] ?? "", prefix: m[2] ?? "" } : undefined;
}

export const BUILTIN_DECLARATIONS: readonly BuiltinDeclaration[] = [
  {
    setting: "env.MLFLOW_S3_ENDPOINT_URL",
    reason:
      "S3 endpoint: locally the artifacts go to MinIO, so boto3 is pointed at its S3 API at the address clients on the host use too (presigned URLs work there); on AWS boto3 uses the regional S3 endpoint.",
    applies: localOnly,
  },
  {
    setting: "env.AWS_ACCESS_KEY_ID",
    reason:
      "Static key vs task role: locally the server signs S3 requests as a MinIO user whose policy holds the task role's artifact statements (its prefix only); on AWS it uses the ECS task role's temporary credentials.",
    applies: localOnly,
  },
  {
    setting: "secret.AWS_SECRET_ACCESS_KEY",
    reason:
      "Static key vs task role: the local MinIO user's secret key is generated into .env; on AWS the ECS task role's temporary credentials need none.",
    applies: localOnly,
  },
  {
    setting: "env.AWS_DEFAULT_REGION",
    reason: "Region: MinIO ignores it but boto3 needs one (us-east-1) locally; on AWS it is the environment's region.",
    applies: bothSides,
  },
  {
    setting: "env.MLFLOW_DB_HOST",
    reason:
      "Database host: the compose service `postgres` locally, the RDS instance on AWS (its endpoint is a stack output).",
    applies: bothSides,
  },
  {
    setting: "env.MLFLOW_SERVER_ALLOWED_HOSTS",
    reason:
      "Allowed hosts: each runtime adds the addresses clients use to reach it (localhost and 127.0.0.1 locally; the domain and the load balancer's DNS name on AWS). The spec's mlflow.allowedHosts are on both sides.",
    applies: (l, r, { local, remote }) => {
      if (l === undefined || r === undefined) return false;
      const a = new Set(l.split(","));
      const b = new Set(r.split(","));
      return [...local.mlflow.allowedHosts, ...remote.mlflow.allowedHosts].every((h) => a.has(h) && b.has(h));
    },
  },
  {
    setting: "env.MLFLOW_ARTIFACTS_DESTINATION",
    reason:
      "Artifact bucket: S3 bucket names are global, so the AWS environment names its own bucket (environments.<env>.bucket); the key prefix is the same.",
    applies: (l, r, { local, remote }) => {
      const a = s3Parts(l);
      const b = s3Parts(r);
      return (
        a !== undefined &&
        b !== undefined &&
        a.prefix === b.prefix &&
        a.bucket === local.artifacts.bucket &&
        b.bucket === remote.artifacts.bucket
      );
    },
  },
  {
    setting: "port.published",
    reason:
      "Bind address: locally the port is published on environments.local.bindAddress (loopback by default); on AWS only the load balancer reaches the task's port.",
    applies: bothSides,
  },
  {
    setting: "restart",
    reason:
      "Restarts: Docker restarts the local container; on AWS the ECS service replaces stopped or unhealthy tasks.",
    applies: bothSides,
  },
  {
    setting: "logging",
    reason: "Logs: the Docker engine keeps them locally (mlflow-dev logs); on AWS they go to CloudWatch Logs.",
    applies: bothSides,
  },
  {
    setting: "startup",
    reason:
      "Start-up order: Compose starts the server after PostgreSQL, the bucket job and the migration job; on AWS promote runs the migration task before the rollout, and RDS and S3 exist before.",
    applies: bothSides,
  },
  {
    setting: "platform",
    reason:
      "Platform: the local container runs on the Docker host's architecture; Fargate tasks are pinned to LINUX/X86_64.",
    applies: bothSides,
  },
];
