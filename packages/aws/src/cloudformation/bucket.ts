import type { AwsModel } from "../aws-model.ts";
import { LogicalId } from "../names.ts";
import { getAtt, ref, sub } from "./intrinsics.ts";
import { type Resources, resource } from "./resource.ts";
import { toTags } from "./tags.ts";

/** The artifact bucket's ARN and the ARN pattern of the objects under the Model's prefix. */
export function bucketArn(): { "Fn::GetAtt": [string, string] } {
  return getAtt(LogicalId.artifactBucket, "Arn");
}

export function prefixObjectsArn(model: AwsModel): { "Fn::Sub": string } {
  return sub(`\${${LogicalId.artifactBucket}.Arn}/${model.artifacts.prefix}/*`);
}

function allObjectsArn(): { "Fn::Sub": string } {
  return sub(`\${${LogicalId.artifactBucket}.Arn}/*`);
}

/**
 * The artifact bucket: encrypted (SSE-S3), versioned, public access blocked, owner-enforced,
 * kept when the stack is deleted, and reachable over TLS only.
 */
export function toBucket(model: AwsModel): Resources {
  return {
    [LogicalId.artifactBucket]: resource(
      "AWS::S3::Bucket",
      {
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
        Tags: toTags(model),
      },
      {
        onDelete: "Retain",
        suppress: {
          checkov: [
            {
              id: "CKV_AWS_18",
              reason:
                "Server access logs need a second bucket the spec does not describe; MLflow logs every artifact request",
            },
          ],
        },
      },
    ),
    [LogicalId.artifactBucketPolicy]: resource("AWS::S3::BucketPolicy", {
      Bucket: ref(LogicalId.artifactBucket),
      PolicyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [bucketArn(), allObjectsArn()],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      },
    }),
  };
}
