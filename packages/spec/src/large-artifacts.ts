/**
 * What carrying the largest artifact (`artifacts.largestGiB`) asks of the server, the same on both
 * runtimes. Pure.
 *
 * MLflow 3.17's server advertises multipart transfers itself (`/api/3.0/mlflow/server-info`)
 * whenever its artifact destination is S3, so its Python client uploads a file of
 * MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE (500 MiB) or more in parts to presigned URLs and
 * downloads it in ranges from one presigned URL, both straight to the object store; the
 * variables that tune it (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD, the chunk sizes and thresholds)
 * are the client's, not the server's. The one server setting on that path is the presigned
 * download URL's lifetime (MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS, 300 s by default): every
 * range of a multipart download is fetched with the same URL, so a download longer than the
 * lifetime fails half way. It is sized here to the largest artifact at a slow client's pace.
 * Part upload URLs live an hour (boto3's default; MLflow does not make it a setting).
 */

/** The largest artifact the service carries unless the spec says otherwise, in GiB. */
export const DEFAULT_LARGEST_ARTIFACT_GIB = 5;

/**
 * The pace (MiB/s) of the slowest client a download must still complete for: about 84 Mbit/s,
 * an office or home link. An assumption, not a measurement.
 */
export const SLOW_CLIENT_MIB_PER_SECOND = 10;

/** Seconds added to every transfer time computed from an assumed pace. */
export const TRANSFER_MARGIN_SECONDS = 60;

/** MLflow's default lifetime of a presigned download URL, and the cloud providers' cap (7 days). */
export const PRESIGNED_DOWNLOAD_TTL = { defaultSeconds: 300, maxSeconds: 604_800 } as const;

/** Seconds to move `gib` GiB at `mibPerSecond`, plus the margin, rounded up. */
export function transferSeconds(gib: number, mibPerSecond: number): number {
  return Math.ceil((gib * 1024) / mibPerSecond) + TRANSFER_MARGIN_SECONDS;
}

/**
 * The presigned download URL's lifetime for the largest artifact: long enough for a slow client
 * to fetch all of it, never below MLflow's default, at most the cap.
 */
export function presignedDownloadTtlSeconds(largestGiB: number): number {
  const needed = transferSeconds(largestGiB, SLOW_CLIENT_MIB_PER_SECOND);
  return Math.min(PRESIGNED_DOWNLOAD_TTL.maxSeconds, Math.max(PRESIGNED_DOWNLOAD_TTL.defaultSeconds, needed));
}

/**
 * The server's variables for large artifacts (model.mlflow.environment, on both runtimes alike):
 * only a server that serves artifacts (`mlflow.proxyArtifacts`) hands out presigned URLs.
 * An environment's mlflow.env may set the variable itself.
 */
export function largeArtifactEnvironment(input: {
  largestGiB: number;
  proxyArtifacts: boolean;
}): Record<string, string> {
  if (!input.proxyArtifacts) return {};
  return { MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS: String(presignedDownloadTtlSeconds(input.largestGiB)) };
}
