import type { AwsModel } from "../aws-model.ts";
import { ecrRepositoryName, LogicalId } from "../names.ts";
import { type Resources, resource } from "./resource.ts";
import { toTags } from "./tags.ts";

/** The ECR repository for a built image (none when the image is pulled): scanned on push, tags immutable. */
export function toEcrRepository(model: AwsModel): Resources {
  if (model.mlflow.image.kind !== "build") return {};
  return {
    [LogicalId.ecrRepository]: resource(
      "AWS::ECR::Repository",
      {
        RepositoryName: ecrRepositoryName(model),
        ImageScanningConfiguration: { ScanOnPush: true },
        ImageTagMutability: "IMMUTABLE",
        EncryptionConfiguration: { EncryptionType: "AES256" },
        Tags: toTags(model),
      },
      {
        onDelete: "Retain",
        suppress: {
          checkov: [
            {
              id: "CKV_AWS_136",
              reason:
                "Images hold no secrets; ECR's AES-256 encryption at rest is kept and a customer-managed KMS key is not part of the spec",
            },
          ],
        },
      },
    ),
  };
}
