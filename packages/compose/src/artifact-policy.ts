import { artifactAccessStatements, type LocalModel } from "@mlflow-dev/spec";

/**
 * The local server user's access to the artifacts: the ECS task role's artifact statements for the
 * spec's bucket and prefix, which both local object stores (MinIO's user policy, versitygw's bucket
 * policy) grant the server.
 */
export function serverArtifactStatements(model: LocalModel) {
  const { bucket, prefix } = model.artifacts;
  return artifactAccessStatements(prefix, {
    bucket: `arn:aws:s3:::${bucket}`,
    prefixObjects: `arn:aws:s3:::${bucket}/${prefix}/*`,
  });
}
