import { describeImageOrigin } from "@mlflow-dev/spec";
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
 * (deploy/promote.ts) executes these steps in this order: one step function per step.
 */
export type RolloutStep =
  | { step: "secrets"; names: string[] }
  | { step: "infrastructure"; stack: string }
  | { step: "image"; source: "pull" | "build"; image: string; origin: string; repository?: string }
  | { step: "migrate"; taskDefinitionFamily: string; command: string }
  | { step: "register"; family: string; image: string }
  | { step: "update-service"; cluster: string; service: string; stack: string; parameter: string }
  | { step: "wait-steady"; cluster: string; service: string }
  | { step: "smoke-test"; path: string; urlOutput: string };

export function toRolloutPlan(model: AwsModel, ctx: Pick<DeployContext, "imageUri">): RolloutStep[] {
  const migration = model.mlflow.migration;
  const origin = describeImageOrigin(model.mlflow.image, model.mlflow.version);
  return [
    { step: "secrets", names: model.mlflow.secrets.map((s) => secretName(model, s.name)) },
    { step: "infrastructure", stack: stackName(model) },
    // A built image is pushed after the stack, which creates its ECR repository.
    model.mlflow.image.kind === "build"
      ? { step: "image", source: "build", image: ctx.imageUri, origin, repository: ecrRepositoryName(model) }
      : { step: "image", source: "pull", image: ctx.imageUri, origin },
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

/** The headings promote prints: its checks, then one per stage; register to wait-steady make the rollout. */
export type RolloutStage = "secrets" | "infrastructure" | "image" | "migration" | "rollout" | "smoke test";

const STAGE: Record<RolloutStep["step"], RolloutStage> = {
  secrets: "secrets",
  infrastructure: "infrastructure",
  image: "image",
  migrate: "migration",
  register: "rollout",
  "update-service": "rollout",
  "wait-steady": "rollout",
  "smoke-test": "smoke test",
};

export function rolloutStage(step: RolloutStep): RolloutStage {
  return STAGE[step.step];
}

/** The stages of a plan, in order, each once. */
export function rolloutStages(plan: RolloutStep[]): RolloutStage[] {
  return [...new Set(plan.map(rolloutStage))];
}

/** One line per step, for plan to print what promote will run. */
export function describeRolloutStep(s: RolloutStep): string {
  switch (s.step) {
    case "secrets":
      return `secrets: create the missing ones of ${s.names.join(", ") || "(none)"}`;
    case "infrastructure":
      return `infrastructure: stack ${s.stack} through a change set`;
    case "image":
      return s.source === "build"
        ? `image: build ${s.image} and push it to ${s.repository} (${s.origin})`
        : `image: ${s.image} (${s.origin})`;
    case "migrate":
      return `migrate: one task of ${s.taskDefinitionFamily}: ${s.command}`;
    case "register":
      return `register: a revision of ${s.family} unless the latest one matches`;
    case "update-service":
      return `update-service: the stack's ${s.parameter} points ${s.service} at the revision`;
    case "wait-steady":
      return `wait-steady: ${s.service} in ${s.cluster} runs the revision steadily and healthy`;
    case "smoke-test":
      return `smoke-test: GET ${s.path} at the ${s.urlOutput} output, then a tracking round trip; a failure rolls back`;
  }
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
