/**
 * What the MLflow server may do in its artifact store, the same on both runtimes: the ECS task
 * role's policy on AWS and the MinIO user's policy locally are built from these statements. The
 * server lists its prefix and reads, writes and deletes the objects under it; nothing else in the
 * bucket, and no other bucket.
 */
export interface ArtifactAccessStatement<B, O> {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: (B | O)[];
  Condition?: { StringLike: { "s3:prefix": string[] } };
}

/** The statements, given how each runtime names the bucket and the objects under the prefix. */
export function artifactAccessStatements<B, O>(
  prefix: string,
  resources: { bucket: B; prefixObjects: O },
): ArtifactAccessStatement<B, O>[] {
  return [
    {
      Sid: "ListArtifactPrefix",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [resources.bucket],
      Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}/*`] } },
    },
    {
      Sid: "ReadWriteArtifacts",
      Effect: "Allow",
      Action: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
      Resource: [resources.prefixObjects],
    },
  ];
}
