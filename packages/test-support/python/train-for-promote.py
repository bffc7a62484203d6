"""Log and register a scikit-learn model with what a model promotion must carry over.

    MLFLOW_TRACKING_URI=... MLFLOW_EXPERIMENT=... MLFLOW_MODEL_NAME=... python train-for-promote.py

A run with params, tags, a metric history of HISTORY_POINTS points (steps and timestamps), a
dataset input, an extra artifact of EXTRA_ARTIFACT_MIB MiB (0: none) and the model logged with
mlflow.sklearn and registered; the version gets the alias "candidate". Prints one line
`trained=<json>` with the run, the version and the model's predictions on fixed inputs.
"""

import json
import os
import tempfile

import mlflow
import mlflow.sklearn
import numpy as np
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def main() -> None:
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT", "promote-example"))
    name = os.environ.get("MLFLOW_MODEL_NAME", "iris-promote")
    points = int(os.environ.get("HISTORY_POINTS", "60"))
    extra_mib = int(os.environ.get("EXTRA_ARTIFACT_MIB", "0"))
    x, y = load_iris(return_X_y=True)
    with mlflow.start_run(run_name="iris-promote") as run:
        model = LogisticRegression(max_iter=300, C=0.5).fit(x, y)
        mlflow.log_params({"C": 0.5, "max_iter": 300, "solver": "lbfgs"})
        mlflow.set_tags({"team": "ml", "purpose": "promote-test"})
        base = 1_700_000_000_000
        for step in range(points):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=base + step * 1000)
        mlflow.log_metric("accuracy", float(model.score(x, y)))
        dataset = mlflow.data.from_numpy(x, targets=y, name="iris")
        mlflow.log_input(dataset, context="training")
        if extra_mib > 0:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "weights.bin")
                rng = np.random.default_rng(7)
                with open(path, "wb") as f:
                    for _ in range(extra_mib):
                        f.write(rng.bytes(1 << 20))
                mlflow.log_artifact(path, artifact_path="extra")
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name, input_example=x[:2])
        client = MlflowClient()
        version = info.registered_model_version
        client.set_registered_model_alias(name, "candidate", version)
        client.update_registered_model(name, description="Iris classifier")
        client.set_registered_model_tag(name, "owner", "ml-team")
        client.set_model_version_tag(name, version, "validated", "yes")
        predictions = [int(p) for p in model.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])]
        print("trained=" + json.dumps({"run_id": run.info.run_id, "version": version, "model_id": info.model_id, "predictions": predictions}))


if __name__ == "__main__":
    main()
