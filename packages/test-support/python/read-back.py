"""Print, as one JSON line, everything the tracking server holds for a run and its registered model.

    MLFLOW_TRACKING_URI=... RUN_ID=... MLFLOW_MODEL_NAME=... python read-back.py

Read through the Python client: the run (info, params, metrics with their history, tags set by
the user), the registered model and its versions, every file of the model's version 1 with its size and
sha256 (downloaded), and the loaded model's predictions on fixed inputs. Two answers are equal only
when the data survived whatever happened between them.
"""

import hashlib
import json
import os
import pathlib
import tempfile

import mlflow
from mlflow import MlflowClient


def main() -> None:
    client = MlflowClient()
    run_id = os.environ["RUN_ID"]
    name = os.environ["MLFLOW_MODEL_NAME"]
    run = client.get_run(run_id)
    out = {
        "run": {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "status": run.info.status,
            "start_time": run.info.start_time,
            "end_time": run.info.end_time,
            "artifact_uri": run.info.artifact_uri,
            "params": run.data.params,
            "metrics": run.data.metrics,
            "history": {k: [(m.value, m.step, m.timestamp) for m in client.get_metric_history(run_id, k)] for k in sorted(run.data.metrics)},
            "tags": {k: v for k, v in sorted(run.data.tags.items()) if not k.startswith("mlflow.")},
        },
        "model": {
            "name": client.get_registered_model(name).name,
            "versions": sorted(
                ({"version": v.version, "run_id": v.run_id, "status": v.status, "source": v.source}
                 for v in client.search_model_versions(f"name='{name}'")),
                key=lambda v: int(v["version"]),
            ),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        # MLflow 3 keeps a logged model's files with the model, not the run: read the version's.
        root = pathlib.Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/1", dst_path=tmp))
        out["artifacts"] = {
            str(p.relative_to(root)): {"bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for p in sorted(root.rglob("*")) if p.is_file()
        }
    model = mlflow.pyfunc.load_model(f"models:/{name}/1")
    out["predictions"] = [int(x) for x in model.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])]
    print("read-back=" + json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
