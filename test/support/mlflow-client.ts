/** The MLflow REST client lives with the live parity workload (packages/parity); the tests use the same one. */
export { MlflowClient, MlflowRestError } from "../../packages/parity/src/live/client.ts";
