export { MLFLOW_DEV_VERSION as VERSION } from "@mlflow-dev/spec/version";
