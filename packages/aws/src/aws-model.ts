import type { AwsTarget, Model } from "@mlflow-dev/spec";
import { AwsCompatibilityError, checkCompatibility } from "./compatibility.ts";

declare const checked: unique symbol;

/**
 * A Model of an AWS environment that passed every compatibility check: the only input the AWS
 * renderers and runners take, so they never check again and never throw a user error. Made by
 * toAwsModel only.
 */
export type AwsModel = Model & { readonly target: AwsTarget; readonly [checked]: true };

/**
 * The one way into the AWS renderers. Validation (`awsCompatibilityRule`) has already refused every
 * spec this would refuse, so for a model resolved from a validated spec a throw here is a bug.
 */
export function toAwsModel(model: Model): AwsModel {
  const problems = checkCompatibility(model);
  if (problems.length > 0) throw new AwsCompatibilityError(problems);
  return model as AwsModel;
}
