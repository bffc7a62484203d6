"""The Python client's artifact path, as a user's script takes it: log_artifact of a file above the
multipart threshold (set low by the caller through MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE), then
download_artifacts. With a server that advertises multipart transfers, both go through presigned
URLs straight to the object store. Prints what the server advertised and both digests."""

import hashlib
import os
import tempfile

import mlflow
import requests
from mlflow.artifacts import download_artifacts

uri = os.environ["MLFLOW_TRACKING_URI"]
mlflow.set_tracking_uri(uri)
mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT", "artifact-round-trip"))
auth = None
if os.environ.get("MLFLOW_TRACKING_USERNAME"):
    auth = (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"])
info = requests.get(f"{uri}/api/3.0/mlflow/server-info", auth=auth, timeout=30).json()
data = os.urandom(12 * 1024 * 1024 + 7)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "big.bin")
    with open(path, "wb") as f:
        f.write(data)
    with mlflow.start_run(run_name="artifact-round-trip") as run:
        mlflow.log_artifact(path)
    out = download_artifacts(run_id=run.info.run_id, artifact_path="big.bin", dst_path=os.path.join(tmp, "dl"))
    with open(out, "rb") as f:
        got = f.read()
print(
    f"run_id={run.info.run_id}"
    f" multipart_uploads={info.get('multipart_uploads_enabled')}"
    f" multipart_downloads={info.get('multipart_downloads_enabled')}"
    f" uploaded={hashlib.sha256(data).hexdigest()} downloaded={hashlib.sha256(got).hexdigest()}"
)
