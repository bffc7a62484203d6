import type { AwsModel } from "./aws-model.ts";
import type { DeployContext } from "./context.ts";
import {
  clusterName,
  ecrRepositoryName,
  migrationTaskFamily,
  OutputName,
  ParameterName,
  secretName,
  serviceName,
  stackName,
  taskFamily,
} from "./names.ts";

/**
 * The ordered steps of a rollout, for the deploy tool to execute and for `plan` to print.
 * Secrets come first: the stack takes their ARNs as parameters (the database reads its master
 * password from one), so they must exist before the infrastructure is deployed. `promote`
 * (deploy/promote.ts) executes these steps in this order.
 */
export type RolloutStep =
  | { step: "secrets"; names: string[] }
  | { step: "infrastructure"; stack: string }
  | { step: "image"; source: "pull" | "build"; image: string; repository?: string }
  | { step: "migrate"; taskDefinitionFamily: string; command: string }
  | { step: "register"; family: string; image: string }
  | { step: "update-service"; cluster: string; service: string; stack: string; parameter: string }
  | { step: "wait-steady"; cluster: string; service: string }
  | { step: "smoke-test"; path: string; urlOutput: string };

export function toRolloutPlan(model: AwsModel, ctx: DeployContext): RolloutStep[] {
  const migration = model.mlflow.migration;
  return [
    { step: "secrets", names: model.mlflow.secrets.map((s) => secretName(model, s.name)) },
    { step: "infrastructure", stack: stackName(model) },
    // A built image is pushed after the stack, which creates its ECR repository.
    model.mlflow.image.kind === "build"
      ? { step: "image", source: "build", image: ctx.imageUri, repository: ecrRepositoryName(model) }
      : { step: "image", source: "pull", image: ctx.imageUri },
    {
      step: "migrate",
      taskDefinitionFamily: migrationTaskFamily(model),
      command: summarizeCommand(migration.entrypoint, migration.command),
    },
    { step: "register", family: taskFamily(model), image: ctx.imageUri },
    // The service belongs to the stack: the new revision goes in as the TaskDefinitionArn
    // parameter, which creates the service on the first rollout and updates it afterwards.
    {
      step: "update-service",
      cluster: clusterName(model),
      service: serviceName(model),
      stack: stackName(model),
      parameter: ParameterName.taskDefinitionArn,
    },
    { step: "wait-steady", cluster: clusterName(model), service: serviceName(model) },
    { step: "smoke-test", path: model.mlflow.healthPath, urlOutput: OutputName.serviceUrl },
  ];
}

const SUMMARY_LENGTH = 100;

/**
 * One line for humans: the entrypoint, then the last line of the script (the `exec`, after the
 * set-up lines), cut at 100 characters.
 */
export function summarizeCommand(entrypoint: string[], command: string[]): string {
  const lines = command
    .join("\n")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines[lines.length - 1] ?? "";
  const line = `${entrypoint.join(" ")} ${lines.length > 1 ? "… " : ""}${last}`;
  return line.length <= SUMMARY_LENGTH ? line : `${line.slice(0, SUMMARY_LENGTH - 1)}…`;
}
