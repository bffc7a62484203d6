/**
 * The error classes the CLI turns into messages without a stack trace, loaded only once a command
 * has failed (by then the command has loaded their modules, so this costs nothing).
 */
export { FileWriteError } from "@mlflow-dev/compose/files";
export {
  DockerContextError,
  DockerUnreachableError,
  dockerUnreachableHint,
  isConnectionError,
  localDockerEndpoint,
} from "@mlflow-dev/compose/runtime";
export { SpecError } from "@mlflow-dev/spec";
