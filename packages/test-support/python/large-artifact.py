"""One round trip of a large artifact, timed: MODE=mlflow logs it with the Python client
(mlflow.log_artifact) and downloads it (mlflow.artifacts.download_artifacts) through the tracking
server at MLFLOW_TRACKING_URI; MODE=store moves the same bytes with boto3 straight to and from the
object store (S3_ENDPOINT, BUCKET, AWS_* credentials), the floor the server is measured against.

The file (SIZE_MIB) is written in 8 MiB chunks of random bytes, hashed as it is written, and never
held in memory whole; it and the downloaded copy live in a temporary directory removed at the end.
In MODE=mlflow the client's own choice of path is recorded: whether the upload went through
presigned multipart URLs (the bytes straight to the store) and whether the download did, or both
passed the server (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD/DOWNLOAD=false, or a server that does not
advertise multipart transfers).

Prints `large-artifact={json}`: seconds each way, both digests, whether they are equal, the path."""

import hashlib
import json
import os
import tempfile
import time

size = int(os.environ["SIZE_MIB"]) * 1024 * 1024
mode = os.environ["MODE"]
CHUNK = 8 << 20


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "large.bin")
    digest = hashlib.sha256()
    with open(src, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, CHUNK))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    dst_dir = os.path.join(tmp, "down")
    os.makedirs(dst_dir)
    path = {}
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
        from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

        # Which path the client took: these run only when it transfers through presigned URLs.
        path = {"multipartUpload": False, "multipartDownload": False}
        try_upload = HttpArtifactRepository._try_multipart_upload
        multipart_download = HttpArtifactRepository._multipart_download

        def traced_upload(self, *args, **kwargs):
            result = try_upload(self, *args, **kwargs)
            path["multipartUpload"] = True
            return result

        def traced_download(self, *args, **kwargs):
            result = multipart_download(self, *args, **kwargs)
            path["multipartDownload"] = True
            return result

        HttpArtifactRepository._try_multipart_upload = traced_upload
        HttpArtifactRepository._multipart_download = traced_download

        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT", "large-artifact"))
        with mlflow.start_run() as run:
            t = time.monotonic()
            mlflow.log_artifact(src)
            up = time.monotonic() - t
        t = time.monotonic()
        out = download_artifacts(run_id=run.info.run_id, artifact_path="large.bin", dst_path=dst_dir)
        down = time.monotonic() - t
        path["runId"] = run.info.run_id
    downloaded = sha256(out)
    print("large-artifact=" + json.dumps({
        "uploadSeconds": up,
        "downloadSeconds": down,
        "bytes": size,
        "downloadedBytes": os.path.getsize(out),
        "uploaded": digest.hexdigest(),
        "downloaded": downloaded,
        "sha256Equal": downloaded == digest.hexdigest(),
        **path,
    }), flush=True)
