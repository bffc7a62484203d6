import type { AwsTarget, Model } from "@mlflow-dev/spec";

export type { AwsTarget };

/** The Model's AWS target; the AWS renderers refuse any other. */
export function awsTarget(model: Model): AwsTarget {
  if (model.target.kind !== "aws")
    throw new Error(
      `environment "${model.environment}" is the local Docker Compose stack: the AWS renderer needs an AWS environment. Pass an environment other than "local"`,
    );
  return model.target;
}
