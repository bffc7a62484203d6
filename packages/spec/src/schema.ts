import { z } from "zod";
import { AccessSchema, checkExposure } from "./access.ts";
import { checkFargateSize, FARGATE_SIZES } from "./fargate.ts";
import { GC_SCHEDULE_EXAMPLES, parseGcSchedule } from "./gc-schedule.ts";
import {
  DEFAULT_HEALTH_CHECK_RETRIES,
  HEALTH_CHECK_INTERVAL_SECONDS,
  HEALTH_CHECK_RETRY_LIMITS,
  START_PERIOD_LIMITS,
  START_PERIOD_MARGIN,
} from "./health-check.ts";
import { DEFAULT_LARGEST_ARTIFACT_GIB } from "./large-artifacts.ts";
import {
  DEFAULT_MLFLOW_VERSION,
  DEFAULT_POSTGRES_MAJOR,
  MLFLOW_CONTAINER_PORT,
  SUPPORTED_POSTGRES_MAJORS,
} from "./pins.ts";
import {
  AUTH_CACHE_TTL_MAX_SECONDS,
  DEFAULT_AUTH_CACHE_TTL_SECONDS,
  MANAGED_SERVER_ENV,
  reservedFlagOf,
  takesValue,
} from "./runtime-contract.ts";
import { DEFAULT_TASK_SIZE, memoryShortfall, requiredServerMemory, type ServerProcesses } from "./server-footprint.ts";
import { awsEnvironmentNames, localTaskSize, serverProcesses } from "./task-size.ts";

/**
 * The schema of mlflow-dev.yaml. The JSON Schema in schema.json is generated from it
 * (`pnpm schema:write`) and a test fails when the two differ.
 */

const dnsLabel = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
const semver = /^\d+\.\d+\.\d+$/;
const imageRef =
  /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
const hostPattern = /^(\*|(\*\.)?[A-Za-z0-9.-]+)(:(\d+|\*))?$/;
const cidr = /^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-8])$/;
const certificateArn = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;
const port = z.int().min(1).max(65535);
const octet = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const ipv4 = new RegExp(`^${octet}(\\.${octet}){3}$`);

/** Ports browsers and Node's fetch refuse to connect to (the WHATWG Fetch standard's "bad ports"). */
export const BAD_HTTP_PORTS: readonly number[] = [
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
];
const httpPort = port.refine((p) => !BAD_HTTP_PORTS.includes(p), {
  message:
    "is one of the ports browsers and Node's fetch refuse to connect to (the Fetch standard's bad ports), so neither the UI nor mlflow-dev's health check could reach it. Choose another port, e.g. 5050",
});

/** S3 bucket naming rules (general purpose buckets). */
const BucketNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    message: "must be a valid S3 bucket name (3-63 chars, a-z 0-9 . -)",
  })
  .refine((v) => !/^\d+\.\d+\.\d+\.\d+$/.test(v), { message: "must not look like an IP address (S3 naming rules)" })
  .refine((v) => !/\.\.|\.-|-\./.test(v), {
    message: "must not have two periods in a row, or a period next to a hyphen (S3 naming rules)",
  })
  .refine(
    (v) => !v.startsWith("xn--") && !v.startsWith("sthree-") && !v.endsWith("-s3alias") && !v.endsWith("--ol-s3"),
    {
      message: "uses a prefix or suffix S3 reserves (xn--, sthree-, -s3alias, --ol-s3)",
    },
  );

export const ImageRefSchema = z
  .string()
  .refine((v) => !v.includes("@") || /@sha256:[a-f0-9]{64}$/.test(v), {
    message: "has a malformed digest: pin as name:tag@sha256:<64 lowercase hex digits>",
    abort: true,
  })
  .regex(imageRef, { message: "is not a valid image reference" })
  .refine((v) => !v.endsWith(":latest"), { message: "uses the :latest tag" })
  .meta({ description: "An image reference, pinned by tag or digest (never :latest)." });

/** The artifact bucket's lifecycle rules by default (days). */
export const DEFAULT_LIFECYCLE = { noncurrentVersionDays: 30, incompleteUploadDays: 7 } as const;
/** How long a deleted run or experiment stays before `gc` removes it, by default (days). */
export const DEFAULT_GC_OLDER_THAN_DAYS = 30;
const HealthCheckSchema = z
  .strictObject({
    startPeriodSeconds: z
      .int()
      .min(START_PERIOD_LIMITS[0])
      .max(START_PERIOD_LIMITS[1])
      .optional()
      .meta({
        description: `Seconds after the server's start during which failed health checks do not count (Docker's start_period, ECS's startPeriod). Default: the server's measured start time at the environment's task size and workers, times ${START_PERIOD_MARGIN.factor}, plus ${START_PERIOD_MARGIN.plusSeconds} s, rounded up to ${START_PERIOD_MARGIN.roundTo} s. A shorter one detects a broken revision sooner; one below the start time replaces a healthy but slow server.`,
      }),
    retries: z
      .int()
      .min(HEALTH_CHECK_RETRY_LIMITS[0])
      .max(HEALTH_CHECK_RETRY_LIMITS[1])
      .optional()
      .meta({
        description: `Consecutive failed health checks, ${HEALTH_CHECK_INTERVAL_SECONDS} s apart, after which the container is unhealthy and its task replaced. Default: ${DEFAULT_HEALTH_CHECK_RETRIES}.`,
      }),
  })
  .meta({
    description:
      "The server's container health check, the same on both runtimes. With the target group's checks and ECS's circuit breaker it bounds how long a broken revision takes to be detected and rolled back on AWS (`mlflow-dev plan` prints it).",
  });

const MlflowSchema = z
  .strictObject({
    version: z
      .string()
      .regex(semver, { message: `must be a pinned MLflow version such as ${DEFAULT_MLFLOW_VERSION}` })
      .default(DEFAULT_MLFLOW_VERSION)
      .meta({ description: "The MLflow version, pinned (x.y.z)." }),
    workers: z.int().min(1).max(32).optional().meta({
      description:
        "Server worker processes. Default: derived from the environment's CPU (one per 512 CPU units, 1 to 8); the local stack uses the value of the environment it mirrors.",
    }),
    jobs: z.boolean().default(false).meta({
      description:
        "MLflow's job execution (MLFLOW_SERVER_ENABLE_JOB_EXECUTION): a job runner and seven huey consumer processes beside the workers, about 1.4 GiB more memory. Off by default: the tracking server does not need it. Refused with more than one task, because MLflow's periodic jobs must run on one instance only.",
    }),
    allowedHosts: z
      .array(z.string().regex(hostPattern, { message: "is not a host pattern (host, *.domain or host:port)" }))
      .default([])
      .meta({
        description:
          "Extra Host headers the server accepts (MLflow rejects unknown hosts). The local address and the ALB/domain are added automatically.",
      }),
    auth: z.enum(["none", "basic"]).default("none").meta({ description: "`basic` turns on MLflow's basic-auth app." }),
    authCacheTtlSeconds: z.int().min(0).max(AUTH_CACHE_TTL_MAX_SECONDS).default(DEFAULT_AUTH_CACHE_TTL_SECONDS).meta({
      description:
        "With `auth: basic`, how long each server worker remembers a verified username and password (MLflow's auth_cache_ttl_seconds), so a repeated request skips the password hash, which costs hundreds of milliseconds at a small task size. A password change, a deleted user or a changed admin flag takes effect at once on the worker that handled it and within this many seconds on every other worker (and every other task on ECS); a restart or a rollout forces it. 0 turns the cache off. Ignored with `auth: none`.",
    }),
    proxyArtifacts: z
      .boolean()
      .default(true)
      .meta({ description: "Serve artifacts through the tracking server (--serve-artifacts)." }),
    extraArgs: z
      .array(z.string())
      .default([])
      .meta({ description: "Extra `mlflow server` flags, passed on both runtimes." }),
    healthCheck: HealthCheckSchema.optional(),
  })
  .meta({ description: "The MLflow tracking server." });

const BuildSchema = z.strictObject({
  context: z.string().min(1).meta({ description: "Build context directory, relative to the spec file." }),
  baseImage: ImageRefSchema.optional().meta({ description: "Passed as the BASE_IMAGE build argument." }),
});

const ImagesSchema = z
  .strictObject({
    mlflow: ImageRefSchema.optional().meta({
      description:
        "MLflow server image. Default: for the pinned MLflow version, the image built from mlflow-dev's images/mlflow (its Dockerfile and hashed lock, shipped in the package) on python:<3.x>-slim, locally and pushed to the stack's ECR repository on AWS; for another version, ghcr.io/mlflow/mlflow:v<version>-full.",
    }),
    build: BuildSchema.optional().meta({
      description: "Build the project's own MLflow image (for example images/mlflow) instead of pulling one.",
    }),
    postgres: ImageRefSchema.optional().meta({ description: "Local PostgreSQL image. Default: postgres:<major>." }),
    versitygw: ImageRefSchema.optional().meta({
      description:
        "Local versitygw image (artifacts.localServer: versitygw). Default: versity/versitygw:<pinned release>.",
    }),
    minio: ImageRefSchema.optional().meta({
      description: "Local MinIO image (artifacts.localServer: minio). Default: the last published release.",
    }),
  })
  .default({})
  .meta({ description: "Image overrides for every service (private registries, mirrors, offline builds)." });

const BackendSchema = z
  .strictObject({
    postgresVersion: z
      .int()
      .refine((v) => (SUPPORTED_POSTGRES_MAJORS as readonly number[]).includes(v), {
        message: `must be a supported PostgreSQL major version (${SUPPORTED_POSTGRES_MAJORS.join(", ")})`,
      })
      .default(DEFAULT_POSTGRES_MAJOR),
    database: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,62}$/, {
        message:
          "must be a lowercase SQL identifier starting with a letter (1-63 of a-z, 0-9 and _; RDS refuses a leading _)",
      })
      .default("mlflow"),
    user: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,62}$/, {
        message:
          "must be a lowercase SQL identifier starting with a letter (1-63 of a-z, 0-9 and _; RDS refuses a leading _)",
      })
      .refine((v) => !["postgres", "admin", "rdsadmin", "root"].includes(v), {
        message: "is reserved by PostgreSQL or RDS; choose another user name such as mlflow",
      })
      .default("mlflow"),
  })
  .default({ postgresVersion: DEFAULT_POSTGRES_MAJOR, database: "mlflow", user: "mlflow" })
  .meta({ description: "The PostgreSQL backend store." });

const ArtifactsSchema = z
  .strictObject({
    bucket: BucketNameSchema.meta({
      description: "Bucket name. AWS environments may override it (S3 names are global).",
    }),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, { message: "must be a key prefix without leading or trailing /" })
      .refine((v) => !v.split("/").some((part) => part === "." || part === ".."), {
        message: "must not have . or .. as a part: keys are not paths",
      })
      .default("mlflow"),
    localServer: z.enum(["versitygw", "minio"]).default("versitygw").meta({
      description:
        "The S3-compatible server of the local stack: versitygw (maintained, the default) or MinIO (archived upstream).",
    }),
    largestGiB: z.number().positive().max(1024).default(DEFAULT_LARGEST_ARTIFACT_GIB).meta({
      description:
        "The largest single artifact (GiB) the service must carry. With mlflow.proxyArtifacts the server holds a proxied upload or download whole on its disk while it moves it to or from the bucket, sending no byte to the client meanwhile: on AWS the load balancer's idle timeout and the task's ephemeral storage are derived from this, and on both runtimes the lifetime of the presigned URL a multipart download reads from.",
    }),
    lifecycle: z
      .strictObject({
        noncurrentVersionDays: z.int().min(1).max(3650).default(DEFAULT_LIFECYCLE.noncurrentVersionDays).meta({
          description:
            "Days an object version stays after it was overwritten or deleted (the bucket is versioned on AWS); then it expires. Deleted artifacts are gone for good after this many days.",
        }),
        incompleteUploadDays: z.int().min(1).max(365).default(DEFAULT_LIFECYCLE.incompleteUploadDays).meta({
          description: "Days after which an unfinished multipart upload is aborted and its parts deleted.",
        }),
      })
      .default({ ...DEFAULT_LIFECYCLE })
      .meta({ description: "The AWS artifact bucket's lifecycle rules (the local bucket keeps no versions)." }),
  })
  .meta({ description: "The S3 artifact store." });

const GcSchema = z
  .strictObject({
    olderThanDays: z.int().min(0).max(3650).default(DEFAULT_GC_OLDER_THAN_DAYS).meta({
      description:
        "`mlflow-dev gc` removes runs and experiments deleted more than this many days ago, with their artifacts (MLflow's `mlflow gc --older-than`). 0 removes every deleted one.",
    }),
    schedule: z
      .string()
      .superRefine((value, ctx) => {
        const parsed = parseGcSchedule(value);
        if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.message });
      })
      .optional()
      .meta({
        description: `When every AWS environment runs \`gc\` by itself (EventBridge Scheduler, UTC): ${GC_SCHEDULE_EXAMPLES.rate} or ${GC_SCHEDULE_EXAMPLES.cron}, at most once an hour. Unset: gc runs only on demand (\`mlflow-dev gc\`), as it always does locally.`,
      }),
  })
  .default({ olderThanDays: DEFAULT_GC_OLDER_THAN_DAYS })
  .meta({ description: "Garbage collection of deleted runs and experiments." });

const envVarName = /^[A-Z_][A-Z0-9_]*$/;
/** Linux's limit on one NAME=value string of a process's environment (MAX_ARG_STRLEN), in bytes. */
const MAX_ENV_STRING_BYTES = 128 * 1024;
const secretLikeName = /(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|PRIVATE_KEY|CREDENTIAL)/;

/**
 * Variables the server's process reads before MLflow does: the shell that runs its script, the
 * dynamic loader, the Python interpreter. Set from mlflow.env they hide the mlflow command (PATH),
 * load foreign code (LD_PRELOAD, PYTHONSTARTUP) or break the interpreter (PYTHONHOME).
 */
const PROCESS_VARIABLES: Record<string, string> = {
  PATH: "shell, to find the mlflow command",
  HOME: "shell and Python, for their own files",
  PWD: "shell",
  IFS: "shell, to split its script's words",
  ENV: "shell, as a file of commands to run",
  BASH_ENV: "shell, as a file of commands to run",
  CDPATH: "shell",
  PYTHONHOME: "Python interpreter, to find its standard library",
  PYTHONPATH: "Python interpreter, to find modules before MLflow's",
  PYTHONSTARTUP: "Python interpreter, as a file of code to run",
  PYTHONEXECUTABLE: "Python interpreter",
  PYTHONUSERBASE: "Python interpreter, to find modules",
  PYTHONPLATLIBDIR: "Python interpreter, to find its standard library",
  PYTHONINSPECT: "Python interpreter, which then waits for input instead of exiting",
};

/** What reads a variable before MLflow does, or undefined for a variable only MLflow and its libraries read. */
function processVariable(name: string): string | undefined {
  if (name.startsWith("LD_")) return "dynamic loader, to load libraries before the server's";
  return PROCESS_VARIABLES[name];
}

const ServerEnvSchema = z
  .record(
    z.string().regex(envVarName, {
      message: "is not an environment variable name. Use upper-case letters, digits and _, not starting with a digit",
    }),
    z.string(),
  )
  .superRefine((env, ctx) => {
    for (const name of Object.keys(env)) {
      const bytes = new TextEncoder().encode(`${name}=${env[name]}`).length + 1;
      if (bytes > MAX_ENV_STRING_BYTES)
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `is ${env[name]?.length} characters long: Linux starts no process with a variable over ${MAX_ENV_STRING_BYTES / 1024} KiB (NAME=value), so the server could not start. Keep large values out of the environment`,
          params: { hideValue: true },
        });
      const breaks = processVariable(name);
      if (breaks)
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `is read by the container's ${breaks}: set here it can keep the server (or its migration job) from starting on either runtime. Remove it`,
          params: { atKey: true, hideValue: true },
        });
      else if (MANAGED_SERVER_ENV.includes(name) || name.startsWith("AWS_"))
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "is set by mlflow-dev on the server. Use the matching spec setting instead, or remove it",
        });
      else if (secretLikeName.test(name))
        ctx.addIssue({
          code: "custom",
          path: [name],
          message:
            "looks like a secret: values here are written in plain text into compose.yaml and the ECS task definition. Keep secrets out of mlflow.env",
          params: { hideValue: true },
        });
    }
  })
  .meta({
    description: "Extra environment variables of the MLflow server (and its migration job) in this environment.",
  });

const EnvMlflowSchema = z
  .strictObject({
    env: ServerEnvSchema.default({}),
    extraArgs: z
      .array(z.string())
      .default([])
      .meta({ description: "Extra `mlflow server` flags in this environment, after mlflow.extraArgs." }),
  })
  .optional()
  .meta({
    description:
      "MLflow server settings for this environment only. A setting on one side only is drift for `mlflow-dev parity` unless listed under parity.declared.",
  });

const TaskSizeSchema = z
  .strictObject({
    cpu: z.int().meta({ description: "CPU units (1024 = 1 vCPU), as on Fargate." }),
    memory: z.int().meta({ description: "Memory (MiB), as on Fargate." }),
  })
  .meta({ description: "CPU and memory limits of the local MLflow container, a Fargate task size." });

const LocalEnvSchema = z
  .strictObject({
    mirror: z.string().optional().meta({
      description:
        "The AWS environment whose task size (CPU and memory limits) and workers the local MLflow container runs with. Default: the spec's only AWS environment.",
    }),
    resources: TaskSizeSchema.optional().meta({
      description: "Set the local limits by hand instead of mirroring an AWS environment.",
    }),
    bindAddress: z
      .string()
      .regex(ipv4, { message: "must be an IPv4 address such as 127.0.0.1" })
      .default("127.0.0.1")
      .meta({ description: "Host address the ports are published on. Default loopback only." }),
    ports: z
      .strictObject({
        mlflow: httpPort.default(5050).meta({
          description: "Host port of the MLflow server. Default 5050 (5000 is macOS's AirPlay Receiver).",
        }),
        minio: httpPort.default(9000).meta({ description: "Host port of the object store's S3 API. Default 9000." }),
        minioConsole: httpPort.optional().meta({
          description: "Publish the object store's web console on this host port. Default: not published.",
        }),
        postgres: port.optional().meta({
          description:
            "Publish PostgreSQL on this host port (for a SQL client on the host). Default: not published; backups and restores go through the container.",
        }),
      })
      .default({ mlflow: 5050, minio: 9000 }),
    mlflow: EnvMlflowSchema,
  })
  .meta({ description: "The local Docker Compose stack." });

const NetworkSchema = z
  .strictObject({
    cidr: z.string().regex(cidr, { message: "must be an IPv4 CIDR block between /16 and /28" }).optional(),
    vpcId: z
      .string()
      .regex(/^vpc-[0-9a-f]{8,17}$/, { message: "must be a VPC id such as vpc-0abc1234" })
      .optional(),
    publicSubnetIds: z
      .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { message: "must be a subnet id" }))
      .optional(),
    privateSubnetIds: z
      .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { message: "must be a subnet id" }))
      .optional(),
    egress: z.enum(["nat", "public"]).default("nat").meta({
      description:
        "How the MLflow tasks reach the internet (image registry, Secrets Manager, CloudWatch Logs). `nat` (default): tasks run in the private subnets behind a NAT gateway. `public`: tasks run in the public subnets with a public IP and no NAT gateway or Elastic IP is created, which saves the NAT gateway's hourly and per-GB charges (a good fit for staging); the security group still admits only the load balancer, and the database stays in the private subnets.",
    }),
  })
  .default({ egress: "nat" })
  .meta({
    description:
      "A new VPC (cidr, default 10.0.0.0/16) or an existing one (vpcId + subnets), and how tasks reach the internet (egress).",
  });

const AutoscalingSchema = z.strictObject({
  min: z.int().min(1),
  max: z.int().min(1).max(100),
  targetCpu: z.int().min(10).max(95).default(60),
});

const DatabaseSchema = z
  .strictObject({
    instanceClass: z
      .string()
      .regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, { message: "must be an RDS instance class such as db.t4g.micro" })
      .default("db.t4g.micro"),
    allocatedStorage: z.int().min(20).max(65536).default(20).meta({ description: "GiB." }),
    multiAz: z.boolean().default(false),
    backupRetentionDays: z.int().min(0).max(35).default(7),
    deletionProtection: z.boolean().default(true),
  })
  .default({
    instanceClass: "db.t4g.micro",
    allocatedStorage: 20,
    multiAz: false,
    backupRetentionDays: 7,
    deletionProtection: true,
  });

const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

const AwsEnvSchema = z
  .strictObject({
    region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, { message: "must be an AWS region such as eu-west-1" }),
    account: z.string().regex(/^\d{12}$/, { message: "must be a 12-digit AWS account id (quote it)" }),
    network: NetworkSchema,
    cpu: z.int().default(DEFAULT_TASK_SIZE.cpu).meta({ description: "Fargate CPU units." }),
    memory: z
      .int()
      .default(DEFAULT_TASK_SIZE.memory)
      .meta({ description: "Fargate memory (MiB); must hold the MLflow server's workers (and jobs) with headroom." }),
    desiredCount: z.int().min(1).max(100).default(1),
    autoscaling: AutoscalingSchema.optional(),
    database: DatabaseSchema,
    domain: z
      .string()
      .regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/, { message: "must be a domain name such as mlflow.example.com" })
      .optional(),
    certificateArn: z
      .string()
      .regex(certificateArn, {
        message: "must be an ACM certificate ARN",
      })
      .optional(),
    access: AccessSchema,
    bucket: BucketNameSchema.optional().meta({
      description: "Override the artifact bucket name for this environment.",
    }),
    logRetentionDays: z
      .int()
      .refine((v) => LOG_RETENTION_DAYS.includes(v), {
        message: `must be a CloudWatch Logs retention period: ${LOG_RETENTION_DAYS.join(", ")}`,
      })
      .default(30),
    tags: z
      .record(
        z.string().regex(/^[A-Za-z0-9 _.:/=+@-]{1,128}$/, {
          message: "is not a valid AWS tag key: use 1-128 letters, digits, spaces and _ . : / = + - @. Rename the tag",
        }),
        z
          .string()
          .max(256)
          .regex(/^[\p{L}\p{Z}\p{N}_.:/=+@-]*$/u, {
            message: "is not a valid AWS tag value: use letters, digits, spaces and _ . : / = + - @ only",
          }),
      )
      .default({})
      .meta({
        description: "Tags on every resource of this environment: plain strings (quote numbers and true/false).",
      }),
    mlflow: EnvMlflowSchema,
  })
  .superRefine((env, ctx) => {
    const size = checkFargateSize(env.cpu, env.memory);
    if (!size.ok) ctx.addIssue({ code: "custom", path: [size.field], message: size.message });
    const n = env.network;
    if (n.vpcId !== undefined) {
      if (n.cidr !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["network", "cidr"],
          message: "cannot be combined with vpcId. Remove cidr to use the existing VPC, or vpcId to create one",
        });
      for (const key of ["publicSubnetIds", "privateSubnetIds"] as const) {
        const ids = n[key];
        if (ids === undefined || ids.length < 2)
          ctx.addIssue({
            code: "custom",
            path: ["network", key],
            message: `needs at least 2 subnets in different availability zones when vpcId is set`,
          });
      }
    } else {
      for (const key of ["publicSubnetIds", "privateSubnetIds"] as const) {
        if (n[key] !== undefined)
          ctx.addIssue({
            code: "custom",
            path: ["network", key],
            message: "needs network.vpcId: subnets can only be given for an existing VPC",
          });
      }
    }
    if (env.autoscaling) {
      const a = env.autoscaling;
      if (a.min > a.max)
        ctx.addIssue({
          code: "custom",
          path: ["autoscaling", "min"],
          message: `(${a.min}) is greater than autoscaling.max (${a.max})`,
        });
      if (env.desiredCount < a.min || env.desiredCount > a.max)
        ctx.addIssue({
          code: "custom",
          path: ["desiredCount"],
          message: `(${env.desiredCount}) must lie between autoscaling.min (${a.min}) and autoscaling.max (${a.max})`,
        });
    }
    if (env.certificateArn !== undefined && env.domain === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["domain"],
        message: "is required when certificateArn is set (the certificate must cover it)",
      });
    if (env.certificateArn !== undefined && certificateArn.test(env.certificateArn)) {
      const certAccount = env.certificateArn.split(":")[4];
      if (certAccount !== env.account)
        ctx.addIssue({
          code: "custom",
          path: ["certificateArn"],
          message: `belongs to account ${certAccount}, but the environment deploys to ${env.account}. A load balancer can use only a certificate of its own account`,
        });
      const certRegion = env.certificateArn.split(":")[3];
      if (certRegion !== env.region)
        ctx.addIssue({
          code: "custom",
          path: ["certificateArn"],
          message: `is in ${certRegion} but the environment is in ${env.region}. An ALB needs a certificate from its own region`,
        });
    }
  })
  .meta({ description: "An AWS ECS Fargate environment." });

const envName = /^[a-z][a-z0-9-]{0,20}$/;

const EnvironmentsSchema = z
  .object({ local: LocalEnvSchema.optional() })
  .catchall(AwsEnvSchema)
  .superRefine((envs, ctx) => {
    for (const name of Object.keys(envs)) {
      if (!envName.test(name))
        ctx.addIssue({
          code: "custom",
          path: [name],
          message:
            "is not a valid environment name. Use 1 to 21 lowercase letters, digits and -, starting with a letter",
          params: { atKey: true },
        });
    }
    if (Object.keys(envs).length === 0)
      ctx.addIssue({ code: "custom", path: [], message: "must define at least one environment (local or an AWS one)" });
  })
  .meta({ description: "`local` is the Docker Compose stack; every other key is an AWS environment." });

/** The settings static parity compares, as `mlflow-dev parity` names them. */
export const PARITY_SETTING =
  /^((env|secret)\.[A-Za-z_][A-Za-z0-9_]*|arg\.--[A-Za-z0-9][A-Za-z0-9-]*|healthcheck\.(command|interval|timeout|retries|startPeriod)|image|entrypoint|command|port|resources)$/;

const ParityDeclarationSchema = z.strictObject({
  setting: z
    .string()
    .regex(PARITY_SETTING, {
      message:
        "must name a setting that `mlflow-dev parity` compares: env.NAME, secret.NAME, arg.--flag, image, entrypoint, command, port, resources or healthcheck.<command|interval|timeout|retries|startPeriod>",
    })
    .meta({
      description: "The setting that may differ, as `mlflow-dev parity` names it (e.g. env.MY_VAR, arg.--flag).",
    }),
  reason: z
    .string()
    .refine((v) => v.trim().length >= 10, {
      message: "must explain why the difference is intended (at least 10 characters)",
    })
    .meta({ description: "Why the difference is intended; shown in every parity report." }),
});

export const SpecSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: z
      .string()
      .regex(dnsLabel, { message: "must be 2-32 lowercase letters, digits or -, starting with a letter" })
      .meta({ description: "Service name; prefixes every resource." }),
    mlflow: MlflowSchema.default({
      version: DEFAULT_MLFLOW_VERSION,
      jobs: false,
      allowedHosts: [],
      auth: "none",
      authCacheTtlSeconds: DEFAULT_AUTH_CACHE_TTL_SECONDS,
      proxyArtifacts: true,
      extraArgs: [],
    }),
    images: ImagesSchema,
    backend: BackendSchema,
    artifacts: ArtifactsSchema,
    gc: GcSchema,
    environments: EnvironmentsSchema,
    parity: z
      .strictObject({ declared: z.array(ParityDeclarationSchema).default([]) })
      .default({ declared: [] })
      .meta({ description: "Differences between local and cloud that are intended, each with a reason." }),
  })
  .superRefine((spec, ctx) => {
    if (spec.images.mlflow !== undefined && spec.images.build !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["images", "build"],
        message: "cannot be combined with images.mlflow. Keep one: build the image, or use a published one",
      });
    if (!spec.mlflow.proxyArtifacts && spec.mlflow.auth === "basic")
      ctx.addIssue({
        code: "custom",
        path: ["mlflow", "proxyArtifacts"],
        message:
          "must stay true with auth: basic, otherwise clients need direct bucket credentials that bypass the server's auth",
      });
    // S3 bucket names are global: two AWS environments on one bucket would share its artifacts and
    // the second stack could not create it.
    const bucketOwner = new Map<string, string>();
    for (const [name, env] of Object.entries(spec.environments)) {
      if (name === "local" || env === undefined || !("region" in env)) continue;
      const bucket = env.bucket ?? spec.artifacts.bucket;
      const first = bucketOwner.get(bucket);
      if (first === undefined) {
        bucketOwner.set(bucket, name);
        continue;
      }
      ctx.addIssue({
        code: "custom",
        path: env.bucket === undefined ? ["environments", name] : ["environments", name, "bucket"],
        message: `resolves to the artifact bucket "${bucket}", the same as environments.${first}: S3 bucket names are global, so each AWS environment needs its own. Set environments.${name}.bucket to another name, e.g. ${spec.name}-${name}-artifacts-${env.account}`,
      });
    }
    checkTaskSizes(spec, ctx);
    checkLocalPorts(spec, ctx);
    for (const name of awsEnvironmentNames(spec)) {
      const env = spec.environments[name] as AwsEnv;
      for (const p of checkExposure(name, { ...env, auth: spec.mlflow.auth }))
        ctx.addIssue({ code: "custom", path: ["environments", name, ...p.path], message: p.message });
    }
    const checkArgs = (args: readonly string[], path: readonly (string | number)[]) =>
      args.forEach((arg, i) => {
        const flag = reservedFlagOf(arg);
        if (flag !== undefined)
          ctx.addIssue({
            code: "custom",
            path: [...path, i],
            message: `sets ${flag}, which mlflow-dev manages. Use the matching spec setting instead`,
          });
        else if (!arg.startsWith("-") && !takesValue(args[i - 1]))
          // `mlflow server` takes no positional argument: a word is the value of the flag before it, or an error.
          ctx.addIssue({
            code: "custom",
            path: [...path, i],
            message: `is not a flag, nor the value of one: \`mlflow server\` takes no positional argument. Start the item with - or --, or put it after the flag it belongs to`,
          });
      });
    checkArgs(spec.mlflow.extraArgs, ["mlflow", "extraArgs"]);
    for (const [name, env] of Object.entries(spec.environments))
      if (env?.mlflow) checkArgs(env.mlflow.extraArgs, ["environments", name, "mlflow", "extraArgs"]);
    const declaredAt = new Map<string, number>();
    spec.parity.declared.forEach((d, i) => {
      const first = declaredAt.get(d.setting);
      if (first === undefined) declaredAt.set(d.setting, i);
      else
        ctx.addIssue({
          code: "custom",
          path: ["parity", "declared", i, "setting"],
          message: `declares ${d.setting} again (first at parity.declared[${first}]). Keep one entry with one reason`,
        });
    });
  })
  .meta({ title: "mlflow-dev.yaml", description: "An MLflow tracking service, local and on AWS ECS Fargate." });

type RefineContext = Parameters<Parameters<typeof SpecSchema.superRefine>[0]>[1];

/**
 * The local ports are distinct, and MinIO's are not the server's own port: the server and MinIO
 * share one network namespace locally, where MinIO listens on its published port numbers.
 */
function checkLocalPorts(spec: Spec, ctx: RefineContext): void {
  const ports = spec.environments.local?.ports;
  if (!ports) return;
  const seen = new Map<number, string>();
  for (const [key, port] of Object.entries(ports)) {
    const first = seen.get(port);
    if (first !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["environments", "local", "ports", key],
        message: `(${port}) is also environments.local.ports.${first}. Give each service its own port`,
      });
    else seen.set(port, key);
  }
  for (const key of ["minio", "minioConsole"] as const)
    if (ports[key] === MLFLOW_CONTAINER_PORT)
      ctx.addIssue({
        code: "custom",
        path: ["environments", "local", "ports", key],
        message: `(${MLFLOW_CONTAINER_PORT}) is the MLflow server's own port inside the stack, where MinIO listens on its published port too. Choose another one`,
      });
}

/** How to make the server smaller, for messages. */
function lighterServer(p: ServerProcesses): string {
  return p.jobs ? "lower mlflow.workers, or turn off mlflow.jobs" : "lower mlflow.workers";
}

/** The smallest Fargate memory for this CPU that holds `need`, or undefined when there is none. */
function fittingMemory(cpu: number, need: number): number | undefined {
  return FARGATE_SIZES.get(cpu)?.find((m) => m >= need);
}

/**
 * Each environment's task size holds the server it runs, the local stack's size is known (mirror or
 * resources), and job execution runs on one task only.
 */
function checkTaskSizes(spec: Spec, ctx: RefineContext): void {
  const aws = awsEnvironmentNames(spec);
  for (const name of aws) {
    const env = spec.environments[name] as AwsEnv;
    const processes = serverProcesses(spec, env.cpu);
    const bigger = fittingMemory(env.cpu, requiredServerMemory(processes));
    const fix = bigger
      ? `Raise environments.${name}.memory to ${bigger}, or ${lighterServer(processes)}`
      : `Raise environments.${name}.cpu and memory to a larger Fargate size, or ${lighterServer(processes)}`;
    const short = memoryShortfall(processes, env.memory, fix);
    if (short) ctx.addIssue({ code: "custom", path: ["environments", name, "memory"], message: short });
    const most = Math.max(env.desiredCount, env.autoscaling?.max ?? 1);
    if (spec.mlflow.jobs && most > 1)
      ctx.addIssue({
        code: "custom",
        path: ["mlflow", "jobs"],
        message: `is on, but environments.${name} runs up to ${most} tasks: MLflow's periodic jobs must run on one instance only, and every task of an ECS service runs the same settings. Turn off mlflow.jobs, or run environments.${name} with desiredCount 1 and no autoscaling`,
      });
  }
  const local = spec.environments.local;
  if (!local) return;
  if (local.mirror !== undefined && local.resources !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["environments", "local", "resources"],
      message: "cannot be combined with mirror. Keep one: mirror an AWS environment's task size, or set it here",
    });
    return;
  }
  if (local.mirror !== undefined && !aws.includes(local.mirror)) {
    ctx.addIssue({
      code: "custom",
      path: ["environments", "local", "mirror"],
      message: `names no AWS environment of this spec. Use one of: ${aws.length ? aws.join(", ") : "(none: add one, or set environments.local.resources)"}`,
    });
    return;
  }
  if (local.mirror === undefined && local.resources === undefined && aws.length > 1) {
    ctx.addIssue({
      code: "custom",
      path: ["environments", "local"],
      message: `needs mirror or resources: the spec has ${aws.length} AWS environments (${aws.join(", ")}), so say whose CPU and memory limits the local MLflow container runs with. Add mirror: ${aws[0]}, or resources: { cpu, memory }`,
    });
    return;
  }
  if (local.resources !== undefined) {
    const r = local.resources;
    const size = checkFargateSize(r.cpu, r.memory);
    if (!size.ok) {
      ctx.addIssue({ code: "custom", path: ["environments", "local", "resources", size.field], message: size.message });
      return;
    }
    const processes = serverProcesses(spec, r.cpu);
    const short = memoryShortfall(
      processes,
      r.memory,
      `Raise environments.local.resources.memory, or ${lighterServer(processes)}`,
    );
    if (short) ctx.addIssue({ code: "custom", path: ["environments", "local", "resources", "memory"], message: short });
    return;
  }
  if (aws.length === 0) {
    // The local stack runs with the default Fargate task size.
    const size = localTaskSize(spec);
    const processes = serverProcesses(spec, size.cpu);
    const short = memoryShortfall(
      processes,
      size.memory,
      `The local stack runs with the default Fargate size (cpu ${size.cpu}, memory ${size.memory}): set environments.local.resources, or ${lighterServer(processes)}`,
    );
    if (short) ctx.addIssue({ code: "custom", path: ["environments", "local"], message: short });
  }
  // Mirroring an AWS environment: its own check above covers the local stack too.
}

export type SpecInput = z.input<typeof SpecSchema>;
export type Spec = z.output<typeof SpecSchema>;
export type LocalEnv = z.output<typeof LocalEnvSchema>;
export type AwsEnv = z.output<typeof AwsEnvSchema>;

export function specJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(SpecSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}
