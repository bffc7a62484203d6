import type { AwsModel } from "../aws-model.ts";
import { LogicalId, logGroupName } from "../names.ts";
import { type Resources, resource } from "./resource.ts";
import { toTags } from "./tags.ts";

/** The log group both task definitions write to, with the spec's retention. */
export function toLogGroup(model: AwsModel): Resources {
  return {
    [LogicalId.logGroup]: resource(
      "AWS::Logs::LogGroup",
      {
        LogGroupName: logGroupName(model),
        RetentionInDays: model.target.logRetentionDays,
        Tags: toTags(model),
      },
      {
        // Deleted with the stack: a kept group would block re-creating the stack under the same name.
        onDelete: "Delete",
        suppress: {
          checkov: [
            {
              id: "CKV_AWS_158",
              reason: "CloudWatch Logs encrypts at rest by default; a customer-managed KMS key is not part of the spec",
            },
          ],
        },
      },
    ),
  };
}
