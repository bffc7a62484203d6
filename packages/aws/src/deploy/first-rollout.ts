import type { AwsModel } from "../render/aws-model.ts";
import { stackName } from "../render/names.ts";

/**
 * A first rollout (the stack had no service yet) that CloudFormation rolled back: on AWS, and on
 * the emulator with patch 17, the change set that adds the service waits for the service's first
 * deployment; when ECS's circuit breaker gives up on it, the service resource fails, CloudFormation
 * deletes it and the stack update ends UPDATE_ROLLBACK_COMPLETE. What stays is the stack as the
 * infrastructure step left it. Pure: says what is left and what to do next.
 */
export function firstRolloutRolledBack(model: AwsModel): string {
  return (
    `CloudFormation rolled the stack back and removed the service it had created: nothing of this rollout runs or needs cleaning up. ` +
    `The stack ${stackName(model)} keeps what the infrastructure step made (network, load balancer, the database with the schema the migration wrote, the bucket); ` +
    `the next promote adds the service again.`
  );
}
