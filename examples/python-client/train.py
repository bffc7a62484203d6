"""Train a tiny scikit-learn model and log it to the MLflow tracking server.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5050 python train.py

Point MLFLOW_TRACKING_URI at the promoted service to log to the cloud instead: the code
does not change.
"""

import os

import mlflow
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def main() -> None:
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5050"))
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT", "python-client-example"))
    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=7)
    with mlflow.start_run(run_name="iris-logreg") as run:
        model = LogisticRegression(max_iter=300, C=0.5)
        model.fit(x_train, y_train)
        accuracy = float(model.score(x_test, y_test))
        mlflow.log_params({"C": 0.5, "max_iter": 300})
        mlflow.log_metric("accuracy", accuracy)
        mlflow.sklearn.log_model(model, name="model", registered_model_name=os.environ.get("MLFLOW_MODEL_NAME", "iris-logreg"))
        print(f"run_id={run.info.run_id} accuracy={accuracy:.3f}")


if __name__ == "__main__":
    main()
