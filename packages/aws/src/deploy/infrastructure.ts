import type { SecretName } from "@mlflow-dev/spec";
import type { AwsModel } from "../aws-model.ts";
import { type Template, toTemplate } from "../cloudformation/template.ts";
import { LogicalId, ParameterName, stackName } from "../names.ts";
import { type ChangeSetRequest, createChangeSet, executeChangeSet } from "./change-set.ts";
import type { AwsClients } from "./clients.ts";
import { formatChanges, type ResourceChange, summarizeChanges } from "./diff.ts";
import { DeployError } from "./errors.ts";
import type { WaitOptions } from "./poll.ts";
import type { Reporter } from "./report.ts";
import { getStack, type StackInfo, stackParameters } from "./stack-info.ts";
import { promoteStackAction } from "./stack-status.ts";
import { deleteStack } from "./stack-wait.ts";

/** Promote's infrastructure step: the stack through a change set, adopting a kept bucket first. */

export interface Infrastructure {
  stack: StackInfo;
  changes: ResourceChange[];
}

/** The stack through a change set; the service's task definition is left as it is. */
export async function deployInfrastructure(
  model: AwsModel,
  clients: AwsClients,
  secretArns: Partial<Record<SecretName, string>>,
  report: Reporter,
  wait: WaitOptions,
): Promise<Infrastructure> {
  const cfn = clients.cloudformation;
  const name = stackName(model);
  let stack = await getStack(cfn, name);
  const action = promoteStackAction(name, stack);
  if (action.do === "refuse") throw new DeployError(action.message, { hint: action.hint });
  if (action.do === "replace") {
    report.info(`the stack's first creation failed earlier and left it empty (ROLLBACK_COMPLETE): deleting it first`);
    await deleteStack(cfn, name, report, wait);
    stack = undefined;
  }
  let type: "CREATE" | "UPDATE" = action.do === "update" ? "UPDATE" : "CREATE";
  const template = toTemplate(model);
  if (type === "CREATE" && (await bucketExists(clients, model.artifacts.bucket))) {
    // The bucket outlived an earlier destroy (it keeps the artifacts): the new stack adopts it
    // first (an IMPORT change set), then gets everything else as an update.
    report.info(`the bucket ${model.artifacts.bucket} exists (kept by an earlier destroy): adopting it into the stack`);
    const adopt = await createChangeSet(cfn, keptBucketImport(model, template), "adopt", wait);
    await executeChangeSet(cfn, name, adopt, report, wait);
    type = "UPDATE";
  }
  const changeSet = await createChangeSet(
    cfn,
    {
      stackName: name,
      type,
      templateBody: JSON.stringify(template),
      parameters: stackParameters(
        model,
        secretArns,
        stack?.parameters[ParameterName.taskDefinitionArn] !== undefined && action.do === "update"
          ? { usePrevious: true }
          : { value: "" },
      ),
      model,
      description: `mlflow-dev promote: infrastructure of ${model.name} (${model.environment})`,
    },
    "infra",
    wait,
  );
  if (changeSet.empty && stack) {
    report.info("no changes");
    return { stack, changes: [] };
  }
  report.info(`${type === "CREATE" ? "creating" : "updating"} ${name}: ${summarizeChanges(changeSet.changes)}`);
  for (const line of formatChanges(changeSet.changes)) report.info(line);
  const done = await executeChangeSet(cfn, name, changeSet, report, wait);
  return { stack: done, changes: changeSet.changes };
}

/** The IMPORT change set that adopts the artifact bucket an earlier destroy kept: a stack of that bucket alone. */
export function keptBucketImport(model: AwsModel, template: Template): ChangeSetRequest {
  return {
    stackName: stackName(model),
    type: "IMPORT",
    templateBody: JSON.stringify({
      AWSTemplateFormatVersion: template.AWSTemplateFormatVersion,
      Description: template.Description,
      Resources: { [LogicalId.artifactBucket]: template.Resources[LogicalId.artifactBucket] },
    }),
    resourcesToImport: [
      {
        ResourceType: "AWS::S3::Bucket",
        LogicalResourceId: LogicalId.artifactBucket,
        ResourceIdentifier: { BucketName: model.artifacts.bucket },
      },
    ],
    parameters: [],
    model,
    description: `mlflow-dev promote: adopt the artifact bucket of ${model.name} (${model.environment})`,
  };
}

async function bucketExists(clients: AwsClients, bucket: string): Promise<boolean> {
  try {
    await clients.s3.headBucket({ Bucket: bucket });
    return true;
  } catch {
    return false;
  }
}
