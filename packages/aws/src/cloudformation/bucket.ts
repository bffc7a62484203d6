import type { Model } from "@mlflow-dev/spec";
import { LOGICAL } from "../names.ts";
import { tagList } from "./tags.ts";
import { getAtt, type Resources, ref } from "./types.ts";

/** The artifact bucket: encrypted, versioned, no public access, TLS only; kept on stack deletion. */
export function toBucket(model: Model): Resources {
  return {
    [LOGICAL.bucket]: {
      Type: "AWS::S3::Bucket",
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        BucketName: model.artifacts.bucket,
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
        },
        VersioningConfiguration: { Status: "Enabled" },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
        Tags: tagList(model),
      },
      Metadata: {
        checkov: {
          skip: [
            { id: "CKV_AWS_18", comment: "access logging needs a separate log bucket; left to the operator" },
            { id: "CKV_AWS_144", comment: "cross-region replication is out of scope" },
          ],
        },
      },
    },
    [LOGICAL.bucketPolicy]: {
      Type: "AWS::S3::BucketPolicy",
      Properties: {
        Bucket: ref(LOGICAL.bucket),
        PolicyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "DenyInsecureTransport",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [getAtt(LOGICAL.bucket, "Arn"), { "Fn::Sub": `\${${LOGICAL.bucket}.Arn}/*` }],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
          ],
        },
      },
    },
  };
}
