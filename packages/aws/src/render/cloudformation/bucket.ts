import type { AwsTarget } from "@mlflow-dev/spec";
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

/** Where an internet-facing load balancer writes its access logs: beside the artifacts, in the same bucket. */
export const ACCESS_LOG_PREFIX = "load-balancer-logs";

/** An internet-facing load balancer keeps access logs (the request audit trail); an internal one does not. */
export function accessLogsOn(target: AwsTarget): boolean {
  return target.access.loadBalancer === "internet-facing";
}

/**
 * The account Elastic Load Balancing writes access logs from in the regions opened before August
 * 2022; later regions take the log delivery service principal, which the policy always names.
 */
const ELB_LOG_ACCOUNTS: Readonly<Record<string, string>> = {
  "us-east-1": "127311923021",
  "us-east-2": "033677994240",
  "us-west-1": "027434742980",
  "us-west-2": "797873946194",
  "af-south-1": "098369216593",
  "ap-east-1": "754344448648",
  "ap-southeast-3": "589379963580",
  "ap-south-1": "718504428378",
  "ap-northeast-3": "383597477331",
  "ap-northeast-2": "600734575887",
  "ap-southeast-1": "114774131450",
  "ap-southeast-2": "783225319266",
  "ap-northeast-1": "582318560864",
  "ca-central-1": "985666609251",
  "eu-central-1": "054676820928",
  "eu-west-1": "156460612806",
  "eu-west-2": "652711504416",
  "eu-south-1": "635631232127",
  "eu-west-3": "009996457667",
  "eu-north-1": "897822967062",
  "me-south-1": "076674570225",
  "sa-east-1": "507241528517",
  "us-gov-west-1": "048591011584",
  "us-gov-east-1": "190560391635",
};

/** The bucket policy statement that lets the load balancer write its access logs, and nothing else. */
function accessLogStatement(model: AwsModel) {
  const account = ELB_LOG_ACCOUNTS[model.target.region];
  return {
    Sid: "LoadBalancerAccessLogs",
    Effect: "Allow",
    Principal: {
      ...(account ? { AWS: sub(`arn:\${AWS::Partition}:iam::${account}:root`) } : {}),
      Service: "logdelivery.elasticloadbalancing.amazonaws.com",
    },
    Action: "s3:PutObject",
    Resource: sub(`\${${LogicalId.artifactBucket}.Arn}/${ACCESS_LOG_PREFIX}/AWSLogs/\${AWS::AccountId}/*`),
  };
}

/**
 * The bucket's lifecycle rules (artifacts.lifecycle): a version that was overwritten or deleted
 * (MLflow's gc deletes artifacts; versioning keeps them) expires after noncurrentVersionDays, and an
 * unfinished multipart upload is aborted after incompleteUploadDays. Current objects never expire.
 */
export function toLifecycleConfiguration(model: AwsModel) {
  const { noncurrentVersionDays, incompleteUploadDays } = model.artifacts.lifecycle;
  return {
    Rules: [
      {
        Id: "expire-noncurrent-versions",
        Status: "Enabled",
        NoncurrentVersionExpiration: { NoncurrentDays: noncurrentVersionDays },
      },
      {
        Id: "abort-incomplete-multipart-uploads",
        Status: "Enabled",
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: incompleteUploadDays },
      },
    ],
  };
}

/**
 * The artifact bucket: encrypted (SSE-S3, the one encryption load balancer access logs support),
 * versioned with lifecycle rules for old versions and unfinished uploads, public access blocked,
 * owner-enforced, kept when the stack is deleted, and reachable
 * over TLS only. An internet-facing load balancer writes its access logs under ACCESS_LOG_PREFIX,
 * outside the prefix the MLflow tasks may reach.
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
        LifecycleConfiguration: toLifecycleConfiguration(model),
        Tags: toTags(model),
      },
      {
        onDelete: "Retain",
        suppress: {
          checkov: [
            {
              id: "CKV_AWS_18",
              reason:
                "S3 server access logs need a second bucket, which the stack does not create. Requests through the artifact proxy pass the load balancer, whose access logs are on for internet-facing environments; direct S3 calls can be audited with CloudTrail data events",
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
          ...(accessLogsOn(model.target) ? [accessLogStatement(model)] : []),
        ],
      },
    }),
  };
}
