import type { Model } from "@mlflow-dev/spec";
import type { DeployContext } from "./context.ts";
import { clusterName, migrationFamily, secretName, serviceName, stackName, taskFamily } from "./names.ts";

/** The ordered steps of `promote`, rendered so they can be reviewed before anything runs. */
export function toRolloutPlan(model: Model, ctx: DeployContext) {
  return {
    stack: stackName(model),
    steps: [
      {
        step: "secrets",
        create: model.mlflow.secrets.map((s) => secretName(model, s.name)),
        note: "created once, generated, never printed",
      },
      ...(model.mlflow.image.kind === "build"
        ? [{ step: "image", build: model.mlflow.image.context, push: ctx.imageUri }]
        : []),
      { step: "infrastructure", stack: stackName(model), via: "CloudFormation change set" },
      {
        step: "migrate",
        taskDefinitionFamily: migrationFamily(model),
        note: "one-off task; creates or upgrades the schema; must exit 0",
      },
      { step: "register", taskDefinitionFamily: taskFamily(model), image: ctx.imageUri },
      { step: "update-service", cluster: clusterName(model), service: serviceName(model) },
      { step: "wait-steady", note: "deployment circuit breaker rolls back a failing rollout" },
      { step: "smoke-test", path: model.mlflow.healthPath, roundTrip: "experiment, run, metric, artifact" },
    ],
  };
}
