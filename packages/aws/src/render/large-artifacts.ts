import { type Model, transferSeconds } from "@mlflow-dev/spec";

/**
 * What the largest artifact (`artifacts.largestGiB`) asks of the AWS stack: the load balancer's
 * idle timeout and the task's ephemeral storage. Pure; the template and the task definition read
 * it, and `aws-rules.ts` refuses a spec whose artifacts do not fit.
 *
 * MLflow's proxied upload (PUT /api/2.0/mlflow-artifacts/artifacts/...) writes the whole body
 * to the server's temporary directory, then uploads it to S3 and only then answers; a proxied
 * download first fetches the whole object from S3 into the temporary directory, then sends it.
 * Meanwhile no byte moves between the client and the load balancer, and an ALB cuts a connection
 * idle for longer than its idle timeout (60 s by default): the client gets a 504 and the
 * artifact is lost. Clients that go to the bucket themselves (MLflow's multipart transfers, or
 * `mlflow.proxyArtifacts: false`) do not pass through the server; any other client (an older
 * client, a file under the multipart threshold, the browser) does.
 */

/** The ALB's idle timeout (seconds): AWS's default and the attribute's range. */
export const ALB_IDLE_TIMEOUT = { defaultSeconds: 60, minSeconds: 1, maxSeconds: 4000 } as const;

/** Fargate's ephemeral storage (GiB): the size a task gets without asking, and the range it may ask for. */
export const FARGATE_EPHEMERAL_STORAGE = { defaultGiB: 20, minGiB: 21, maxGiB: 200 } as const;

/**
 * The pace (MiB/s) at which a task moves an artifact between its disk and S3 in its region: a
 * conservative figure for one boto3 transfer from a small Fargate task. An assumption, not
 * measured on AWS (no account here).
 */
export const TASK_STORE_MIB_PER_SECOND = 25;

/** Ephemeral storage (GiB) kept for the image, its unpacked layers and the system, beside the spool. */
export const SYSTEM_STORAGE_GIB = 4;

/** Transfers each worker may hold on disk at once: one upload and one download of the largest artifact. */
export const SPOOLED_TRANSFERS_PER_WORKER = 2;

export interface LargeArtifacts {
  /** The largest artifact, GiB. */
  largestGiB: number;
  /** Seconds the server may be silent while it moves the largest artifact between its disk and S3. */
  silentSeconds: number;
  /** The load balancer's idle timeout: silentSeconds, at least AWS's default. */
  idleTimeoutSeconds: number;
  /** Disk the spooled transfers need: workers × SPOOLED_TRANSFERS_PER_WORKER × largest, GiB. */
  spoolGiB: number;
  /** spoolGiB + SYSTEM_STORAGE_GIB, rounded up. */
  neededStorageGiB: number;
  /** What the task definition asks for: undefined when Fargate's default 20 GiB holds it. */
  ephemeralStorageGiB: number | undefined;
}

/**
 * The settings for this environment's largest artifact. A server that does not serve artifacts
 * (`mlflow.proxyArtifacts: false`) never holds one: AWS's defaults stay.
 */
export function largeArtifacts(model: Pick<Model, "artifacts" | "mlflow">): LargeArtifacts {
  const largestGiB = model.artifacts.largestGiB;
  if (!model.mlflow.proxyArtifacts)
    return {
      largestGiB,
      silentSeconds: 0,
      idleTimeoutSeconds: ALB_IDLE_TIMEOUT.defaultSeconds,
      spoolGiB: 0,
      neededStorageGiB: SYSTEM_STORAGE_GIB,
      ephemeralStorageGiB: undefined,
    };
  const silentSeconds = transferSeconds(largestGiB, TASK_STORE_MIB_PER_SECOND);
  const spoolGiB = model.mlflow.workers * SPOOLED_TRANSFERS_PER_WORKER * largestGiB;
  const neededStorageGiB = Math.ceil(spoolGiB + SYSTEM_STORAGE_GIB);
  return {
    largestGiB,
    silentSeconds,
    idleTimeoutSeconds: Math.min(ALB_IDLE_TIMEOUT.maxSeconds, Math.max(ALB_IDLE_TIMEOUT.defaultSeconds, silentSeconds)),
    spoolGiB,
    neededStorageGiB,
    ephemeralStorageGiB:
      neededStorageGiB <= FARGATE_EPHEMERAL_STORAGE.defaultGiB
        ? undefined
        : Math.max(FARGATE_EPHEMERAL_STORAGE.minGiB, neededStorageGiB),
  };
}
