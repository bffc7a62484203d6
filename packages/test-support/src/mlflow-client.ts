/** The tests talk to MLflow through the same client as the smoke test and live parity. */
export {
  MlflowClient,
  MlflowRestError,
  NotReadyError,
  waitUntilReady,
} from "@mlflow-dev/mlflow-client";
