import type { AwsTarget, ImageOverrides, Model, Spec, SpecCheck } from "@mlflow-dev/spec";
import { awsEnvironmentNames, resolve } from "@mlflow-dev/spec";
import { AwsCompatibilityError, checkCompatibility } from "./aws-rules.ts";

declare const checked: unique symbol;
declare const checkedSpec: unique symbol;

/**
 * A Model of an AWS environment that passed every compatibility check: the only input the AWS
 * renderers and runners take, so they never check again and never throw a user error. Made by
 * resolveAwsModel (from a checked spec) or toAwsModel (from a Model) only.
 */
export type AwsModel = Model & { readonly target: AwsTarget; readonly [checked]: true };

/** A spec whose every AWS environment passed the compatibility checks. Made by awsCompatibilityCheck only. */
export type AwsCheckedSpec = Spec & { readonly [checkedSpec]: true };

/**
 * The compatibility checks as the validation's spec check: every AWS environment of the spec,
 * resolved and checked, so `validate` (and every command that reads a spec) refuses what the
 * renderers could not render, and the spec it accepts is an AwsCheckedSpec.
 */
export const awsCompatibilityCheck: SpecCheck<AwsCheckedSpec> = (spec) => {
  const problems = awsEnvironmentNames(spec).flatMap((name) => checkCompatibility(resolve(spec, name)));
  return problems.length === 0 ? { ok: true, spec: spec as AwsCheckedSpec } : { ok: false, problems };
};

/**
 * An AWS environment's Model from a checked spec: nothing to check again (image overrides replace
 * image references only, which no compatibility check reads). `environment` must name an AWS
 * environment of the spec; the local one is a caller's bug.
 */
export function resolveAwsModel(spec: AwsCheckedSpec, environment: string, overrides: ImageOverrides = {}): AwsModel {
  const model = resolve(spec, environment, overrides);
  if (model.target.kind !== "aws")
    throw new Error(`internal error: resolveAwsModel for "${environment}", which is not an AWS environment`);
  return model as AwsModel;
}

/** A Model narrowed by checking it: for Models that did not come from a checked spec (tests, tools). */
export function toAwsModel(model: Model): AwsModel {
  const problems = checkCompatibility(model);
  if (problems.length > 0) throw new AwsCompatibilityError(problems);
  return model as AwsModel;
}
