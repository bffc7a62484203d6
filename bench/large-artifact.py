"""One round trip of a large artifact, timed: MODE=mlflow logs it with the Python client
(mlflow.log_artifact) and downloads it (mlflow.artifacts.download_artifacts) through the tracking
server at MLFLOW_TRACKING_URI; MODE=store moves the same bytes with boto3 straight to and from the
object store (S3_ENDPOINT, BUCKET, AWS_* credentials), the floor the server is measured against.
Prints `large-artifact={json}`: seconds each way and whether the sha256 came back equal."""

import hashlib
import json
import os
import tempfile
import time

size = int(os.environ["SIZE_MIB"]) * 1024 * 1024
mode = os.environ["MODE"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "large.bin")
    digest = hashlib.sha256()
    with open(src, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 << 20))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    dst_dir = os.path.join(tmp, "down")
    os.makedirs(dst_dir)
    if mode == "store":
        import boto3
        from botocore.config import Config

        s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}))
        bucket, key = os.environ["BUCKET"], f"bench/large-{time.time_ns()}.bin"
        t = time.monotonic()
        s3.upload_file(src, bucket, key)
        up = time.monotonic() - t
        out = os.path.join(dst_dir, "large.bin")
        t = time.monotonic()
        s3.download_file(bucket, key, out)
        down = time.monotonic() - t
        s3.delete_object(Bucket=bucket, Key=key)
    else:
        import mlflow
        from mlflow.artifacts import download_artifacts

        mlflow.set_experiment("large-artifact-bench")
        with mlflow.start_run() as run:
            t = time.monotonic()
            mlflow.log_artifact(src)
            up = time.monotonic() - t
        t = time.monotonic()
        out = download_artifacts(run_id=run.info.run_id, artifact_path="large.bin", dst_path=dst_dir)
        down = time.monotonic() - t
    print("large-artifact=" + json.dumps({
        "uploadSeconds": up,
        "downloadSeconds": down,
        "sha256Equal": sha256(out) == digest.hexdigest(),
        "bytes": size,
    }), flush=True)
