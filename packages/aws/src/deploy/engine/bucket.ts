import { awsErrorMessage, awsErrorName, DeployError } from "../errors.ts";
import type { AwsClients } from "./clients.ts";

/** The artifact bucket: whether it exists and is ours, what is left in it, and emptying mlflow-dev's prefix. */

/** The bucket exists and this account may use it (one a destroy kept, for the stack to import). */
export async function bucketExists(clients: AwsClients, bucket: string): Promise<boolean> {
  try {
    await clients.s3.headBucket({ Bucket: bucket });
    return true;
  } catch {
    return false;
  }
}

/** The bucket's tags (empty when it has none); undefined when they cannot be read. */
export async function bucketTags(clients: AwsClients, bucket: string): Promise<Record<string, string> | undefined> {
  try {
    const r = await clients.s3.getBucketTagging({ Bucket: bucket });
    return Object.fromEntries((r.TagSet ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
  } catch (e) {
    return awsErrorName(e) === "NoSuchTagSet" ? {} : undefined;
  }
}

/** `mlflow/` for the prefix `mlflow` (the objects mlflow-dev writes); empty for the bucket's root. */
export function prefixOf(prefix: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, "");
  return p ? `${p}/` : "";
}

/** Anything (an object version or a delete marker) left in the bucket. */
export async function holdsObjects(clients: AwsClients, bucket: string): Promise<boolean> {
  try {
    const r = await clients.s3.listObjectVersions({ Bucket: bucket, MaxKeys: 1 });
    return (r.Versions?.length ?? 0) + (r.DeleteMarkers?.length ?? 0) > 0;
  } catch (e) {
    if (awsErrorName(e) === "NoSuchBucket") return false;
    throw new DeployError(`cannot list the bucket ${bucket}: ${awsErrorMessage(e)}`, { cause: e });
  }
}

/**
 * Deletes every object version and delete marker under mlflow-dev's prefix (the whole bucket when
 * the prefix is empty); what others keep in the bucket stays. Returns how many were deleted
 * (undefined when there is no bucket).
 */
export async function emptyPrefix(
  clients: AwsClients,
  bucket: string,
  artifactPrefix: string,
): Promise<number | undefined> {
  const prefix = prefixOf(artifactPrefix);
  let deleted = 0;
  // ListObjectVersions has two markers and no SDK paginator: walked here.
  try {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const r = await clients.s3.listObjectVersions({
        Bucket: bucket,
        ...(prefix ? { Prefix: prefix } : {}),
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
      });
      const objects = [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])].map((v) => ({
        Key: v.Key ?? "",
        ...(v.VersionId ? { VersionId: v.VersionId } : {}),
      }));
      if (objects.length) {
        await clients.s3.deleteObjects({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } });
        deleted += objects.length;
      }
      if (!r.IsTruncated) break;
      keyMarker = r.NextKeyMarker;
      versionMarker = r.NextVersionIdMarker;
    }
  } catch (e) {
    if (awsErrorName(e) === "NoSuchBucket") return undefined;
    throw new DeployError(`cannot empty the bucket ${bucket}: ${awsErrorMessage(e)}`, { cause: e });
  }
  return deleted;
}
