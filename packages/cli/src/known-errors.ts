/**
 * The error classes the CLI turns into messages without a stack trace, loaded only once a command
 * has failed (by then the command has loaded their modules, so this costs nothing).
 */
export { FileWriteError } from "@mlflow-dev/compose/files";
export { SpecError } from "@mlflow-dev/spec";
