/**
 * The library entry of the mlflow-dev package: parse, validate, resolve and render a spec from
 * a script, with the same rules and output as the CLI. Everything here is pure (no Docker, no AWS).
 */
import {
  type AwsModel,
  placeholderContext,
  type RolloutStep,
  type TaskDefinition,
  type Template,
  toAwsModel,
  toMigrationTaskDefinition,
  toRolloutPlan,
  toTaskDefinition,
  toTemplate,
  toTemplateYaml,
} from "@mlflow-dev/aws";
import {
  type ComposeFile,
  type ComposeRenderOptions,
  toComposeFile as composeFile,
  toComposeYaml as composeYaml,
} from "@mlflow-dev/compose";
import { asLocalModel, type LocalModel, type Model } from "@mlflow-dev/spec";

export type { ComposeFile, ComposeRenderOptions } from "@mlflow-dev/compose";
export {
  environmentNames,
  formatIssue,
  type ImageOverrides,
  MLFLOW_DEV_VERSION as VERSION,
  type Model,
  type ParseResult,
  resolve,
  type Spec,
  SpecError,
  type SpecIssue,
  specJsonSchema,
} from "@mlflow-dev/spec";
export { parseSpecText as parse } from "./load-spec.ts";

/** What `mlflow-dev render --env <aws env>` renders, with placeholder deploy facts (no AWS calls). */
export interface AwsRendering {
  template: Template;
  templateYaml: string;
  taskDefinition: TaskDefinition;
  migrationTaskDefinition: TaskDefinition;
  rolloutPlan: RolloutStep[];
}

/**
 * An AWS environment's model, rendered. A Model that has not been through the CLI's validation
 * is checked here first (toAwsModel throws an AwsCompatibilityError naming each problem).
 */
export function renderAws(resolved: Model | AwsModel): AwsRendering {
  const model = toAwsModel(resolved);
  const ctx = placeholderContext(model);
  return {
    template: toTemplate(model),
    templateYaml: toTemplateYaml(model),
    taskDefinition: toTaskDefinition(model, ctx),
    migrationTaskDefinition: toMigrationTaskDefinition(model, ctx),
    rolloutPlan: toRolloutPlan(model, ctx),
  };
}

function localModel(model: Model | LocalModel): LocalModel {
  const local = asLocalModel(model);
  if (!local) throw new Error(`environment "${model.environment}" is an AWS environment: render it with renderAws`);
  return local;
}

/** The local environment's compose.yaml (the Model of `resolve(spec, "local")`). */
export function toComposeYaml(model: Model | LocalModel, options: ComposeRenderOptions = {}): string {
  return composeYaml(localModel(model), options);
}

/** The local environment's compose file as an object. */
export function toComposeFile(model: Model | LocalModel, options: ComposeRenderOptions = {}): ComposeFile {
  return composeFile(localModel(model), options);
}
