/**
 * The runtime-neutral Model: what both renderers (Compose and ECS) consume.
 * A setting lives here once, so it cannot exist on one side only.
 */

import type { ServerCommand } from "./runtime-contract.ts";

/**
 * Where the MLflow image reference came from: the spec (`images.mlflow` or `images.build`),
 * mlflow-dev's default for the spec's MLflow version, or an override from the environment (the
 * variable is named, so plan and promote can say so).
 */
export type ImageOrigin = { from: "spec" } | { from: "default" } | { from: "override"; variable: string };

export type ImageSource =
  | { kind: "pull"; ref: string; origin: ImageOrigin }
  | { kind: "build"; context: string; baseImage?: string; tag: string; origin: ImageOrigin };

/** A secret the MLflow container reads from an environment variable. */
export interface SecretRef {
  /** Environment variable inside the container. */
  env: string;
  /** Logical secret name: the .env key locally, the Secrets Manager secret on AWS. */
  name: SecretName;
  /** What it is, for humans. */
  description: string;
}

export type SecretName = "db-password" | "auth-admin-password" | "flask-secret-key" | "kek-passphrase";

export interface HealthCheck {
  /** Exec-form command run inside the container; exit 0 means healthy. */
  command: string[];
  intervalSeconds: number;
  timeoutSeconds: number;
  retries: number;
  startPeriodSeconds: number;
}

export interface MlflowServer {
  version: string;
  image: ImageSource;
  /** Port inside the container, on every runtime. */
  port: number;
  healthPath: string;
  /** Entrypoint and command are identical on every runtime. */
  entrypoint: string[];
  /**
   * The server's command as data: setup lines and the `mlflow server` flags, each with where it
   * comes from. The renderers make the container's command of it (serverCommand, runtime-contract.ts).
   */
  server: ServerCommand;
  /** The one-off database migration (`mlflow db upgrade`) run before a rollout. */
  migration: { entrypoint: string[]; command: string[] };
  /**
   * The server's settings in this environment: the common ones plus the environment's own
   * `mlflow.env` (the runtime bindings are added by each renderer, see runtime-contract.ts).
   */
  environment: Record<string, string>;
  secrets: SecretRef[];
  healthCheck: HealthCheck;
  /** Worker processes: mlflow.workers, or the default for the environment's CPU. */
  workers: number;
  /** MLflow's job execution (a job runner and its consumers beside the workers). */
  jobs: boolean;
  auth: "none" | "basic";
  proxyArtifacts: boolean;
  /** Host headers from the spec; each runtime adds its own address. */
  allowedHosts: string[];
}

export interface Database {
  engine: "postgres";
  majorVersion: number;
  name: string;
  user: string;
  port: number;
}

export interface Artifacts {
  bucket: string;
  prefix: string;
  /** s3://bucket/prefix */
  destination: string;
  /** The AWS bucket's lifecycle rules, in days (artifacts.lifecycle). */
  lifecycle: { noncurrentVersionDays: number; incompleteUploadDays: number };
  /** The largest single artifact the service must carry, in GiB (artifacts.largestGiB). */
  largestGiB: number;
}

/** The S3-compatible server of the local stack. */
export type LocalObjectStore = "versitygw" | "minio";

export interface LocalTarget {
  kind: "local";
  bindAddress: string;
  /** Host ports; minioConsole and postgres are published only when the spec sets them. */
  ports: { mlflow: number; minio: number; minioConsole?: number; postgres?: number };
  /** The object store's image is the one of `objectStore`. */
  images: { postgres: string; objectStore: string };
  objectStore: LocalObjectStore;
  /** Region name the S3 client uses against the local object store. */
  region: string;
}

/**
 * How tasks reach the internet: `nat` puts them in the private subnets behind a NAT gateway,
 * `public` in the public subnets with a public IP (no NAT gateway). The database stays private.
 */
export type Egress = "nat" | "public";

/** A new VPC from a CIDR block, split into 2 public and 2 private subnets. */
export interface NewNetwork {
  mode: "new";
  cidr: string;
  egress: Egress;
}

/** An existing VPC and its subnets (at least 2 of each, in different availability zones). */
export interface ExistingNetwork {
  mode: "existing";
  vpcId: string;
  publicSubnetIds: string[];
  privateSubnetIds: string[];
  egress: Egress;
}

/** A new VPC or an existing one: each mode carries exactly the settings it needs. */
export type AwsNetwork = NewNetwork | ExistingNetwork;

/**
 * Who may reach the environment: the load balancer's scheme and the blocks its security group
 * admits (resolved: an internal load balancer in a new VPC admits the VPC's CIDR by default).
 */
export interface AwsAccess {
  loadBalancer: "internal" | "internet-facing";
  sourceCidrs: string[];
  /** The spec acknowledges an endpoint open to the internet without basic auth and HTTPS, and why. */
  openToInternet?: { reason: string };
}

export interface AwsTarget {
  kind: "aws";
  region: string;
  account: string;
  network: AwsNetwork;
  desiredCount: number;
  autoscaling?: { min: number; max: number; targetCpu: number };
  database: {
    instanceClass: string;
    allocatedStorage: number;
    multiAz: boolean;
    backupRetentionDays: number;
    deletionProtection: boolean;
  };
  access: AwsAccess;
  domain?: string;
  certificateArn?: string;
  logRetentionDays: number;
  tags: Record<string, string>;
}

/** An intended local/cloud difference: the setting as `mlflow-dev parity` names it, and why. */
export interface ParityDeclaration {
  setting: string;
  reason: string;
}

/** CPU units and memory (MiB) of the MLflow container: the Fargate task size, and the local limits. */
export interface Resources {
  cpu: number;
  memory: number;
  /** Where the size comes from, e.g. environments.staging (the local stack mirrors it). */
  source: string;
}

export interface Model {
  name: string;
  environment: string;
  mlflow: MlflowServer;
  resources: Resources;
  database: Database;
  artifacts: Artifacts;
  /**
   * What `gc` removes: runs and experiments deleted more than olderThanDays ago; schedule (an
   * EventBridge Scheduler expression, gc-schedule.ts) is when an AWS environment runs it by itself.
   */
  gc: { olderThanDays: number; schedule?: string };
  target: LocalTarget | AwsTarget;
  parity: { declared: ParityDeclaration[] };
}

/** The Model of the local environment: what the Compose renderer and the local runtime take. */
export type LocalModel = Model & { readonly target: LocalTarget };
