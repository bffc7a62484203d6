"""Print, as one line `model-files=<json>`, what the Python client sees of a registered model.

    MLFLOW_TRACKING_URI=... MODEL_URI=models:/<name>@<alias> python model-files.py

Every file of the model (downloaded) with its size and sha256, and the loaded model's
predictions on fixed iris inputs: two answers are equal only when the model survived the copy.
"""

import hashlib
import json
import os
import pathlib
import tempfile

import mlflow
import numpy as np


def main() -> None:
    uri = os.environ["MODEL_URI"]
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        files = {
            str(p.relative_to(root)): {"bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for p in sorted(root.rglob("*")) if p.is_file()
        }
    model = mlflow.pyfunc.load_model(uri)
    inputs = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])
    predictions = [int(x) for x in model.predict(inputs)]
    print("model-files=" + json.dumps({"files": files, "predictions": predictions}, sort_keys=True))


if __name__ == "__main__":
    main()
