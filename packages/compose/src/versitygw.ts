import { type LocalModel, MINIO_SERVER_ACCESS_KEY } from "@mlflow-dev/spec";
import { serverArtifactStatements } from "./artifact-policy.ts";

/**
 * The local stack's default object store: versitygw (Apache-2.0), an S3 gateway here on its
 * `posix` backend, one directory per bucket on the data volume. The image's own entrypoint
 * (`docker-entrypoint.sh`, from versitygw's repository) starts it from the VGW_* variables, so the
 * upstream image and the one built offline from the same release (images/versitygw) run the same
 * configuration.
 *
 * The bucket, the server's user and its bucket policy are made by a one-off job (VERSITYGW_SETUP)
 * on the MLflow image, which carries Python and boto3 already: versitygw's image has no S3 client,
 * and only the S3 API sets a bucket policy.
 */

/** Where the data volume is mounted: the buckets and the gateway's user accounts live below it. */
export const VERSITYGW_DATA = "/data";
export const VERSITYGW_BUCKETS_DIR = `${VERSITYGW_DATA}/buckets`;
export const VERSITYGW_IAM_DIR = `${VERSITYGW_DATA}/iam`;

/** The unauthenticated health path (`--health`); a leading `_` is never a bucket name. */
export const VERSITYGW_HEALTH_PATH = "/_health";

/**
 * The bucket policy of the server's user: the ECS task role's artifact statements, each naming that
 * user as its principal (versitygw has no identity policies on its internal accounts; its bucket
 * policies evaluate the same actions, resources and `s3:prefix` condition).
 */
export function versitygwServerPolicy(model: LocalModel): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: serverArtifactStatements(model).map((statement) => ({
      ...statement,
      Principal: { AWS: [MINIO_SERVER_ACCESS_KEY] },
    })),
  });
}

/**
 * The set-up job (Python with boto3, from the MLflow image): the bucket, the server's user (created,
 * or its secret set again from .env) and the bucket policy, each made or updated in place, so every
 * `up` runs it. The user goes through versitygw's admin API (the calls `versitygw admin
 * create-user` and `update-user` make), the rest through the S3 API, all as the root account.
 * Errors name the step and versitygw's answer; the job exits 1 and `up` names it.
 */
export const VERSITYGW_SETUP_SCRIPT = `
import hashlib, os, sys, time, urllib.error, urllib.request
from xml.sax.saxutils import escape
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

env = os.environ
endpoint = env["MLFLOW_DEV_S3_ENDPOINT"]
region = env["AWS_DEFAULT_REGION"]
bucket = env["MLFLOW_DEV_BUCKET"]
user = env["MLFLOW_DEV_SERVER_ACCESS_KEY"]
root = Credentials(env["MLFLOW_DEV_ROOT_ACCESS_KEY"], env["MLFLOW_DEV_ROOT_SECRET_KEY"])

def fail(step, detail):
    sys.exit(f"mlflow-dev: versitygw set-up failed at {step}: {detail}")

# versitygw answers its health path a moment after its container starts: wait for it here rather
# than a health check interval later (the job starts with the container, not once it is healthy).
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(f"{endpoint}{env['MLFLOW_DEV_HEALTH_PATH']}", timeout=2):
            break
    except Exception as e:
        if time.monotonic() > deadline:
            fail("waiting for versitygw to answer", e)
        time.sleep(0.2)

def admin(path, body):
    data = body.encode()
    request = AWSRequest(method="PATCH", url=f"{endpoint}/{path}", data=data,
                         headers={"X-Amz-Content-Sha256": hashlib.sha256(data).hexdigest()})
    SigV4Auth(root, "s3", region).add_auth(request)
    try:
        with urllib.request.urlopen(urllib.request.Request(request.url, data=data, method="PATCH",
                                                           headers=dict(request.headers.items())), timeout=30):
            return ""
    except urllib.error.HTTPError as e:
        return e.read().decode(errors="replace") or f"HTTP {e.code}"

s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=root.access_key,
                  aws_secret_access_key=root.secret_key, config=Config(s3={"addressing_style": "path"}))
try:
    s3.create_bucket(Bucket=bucket)
except ClientError as e:
    if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        fail(f"creating the bucket {bucket}", e)

secret = escape(env["MLFLOW_DEV_SERVER_SECRET_KEY"])
answer = admin("create-user", f"<Account><Access>{escape(user)}</Access><Secret>{secret}</Secret><Role>user</Role></Account>")
if "XAdminUserExists" in answer:
    answer = admin(f"update-user?access={user}", f"<MutableProps><Secret>{secret}</Secret><Role>user</Role></MutableProps>")
if answer:
    fail(f"creating the user {user}", answer)

try:
    s3.put_bucket_policy(Bucket=bucket, Policy=env["MLFLOW_DEV_SERVER_POLICY"])
except ClientError as e:
    fail(f"setting the policy of bucket {bucket}", e)
print(f"bucket {bucket} ready; user {user} may use s3://{bucket}/{env['MLFLOW_DEV_PREFIX']}/ only", flush=True)
`.trimStart();
