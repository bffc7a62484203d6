import type { CloudFormation, Parameter } from "@aws-sdk/client-cloudformation";
import type { SecretName } from "@mlflow-dev/spec";
import type { AwsModel } from "../aws-model.ts";
import { ParameterName, secretParameterName } from "../names.ts";
import { awsErrorMessage } from "./errors.ts";

/** A stack as the runners read it: its status, outputs and parameters; and the parameters it takes. */

export interface StackInfo {
  name: string;
  id: string;
  status: string;
  statusReason?: string;
  outputs: Record<string, string>;
  parameters: Record<string, string>;
}

export async function getStack(cfn: CloudFormation, name: string): Promise<StackInfo | undefined> {
  try {
    const r = await cfn.describeStacks({ StackName: name });
    const s = r.Stacks?.[0];
    if (!s) return undefined;
    return {
      name: s.StackName ?? name,
      id: s.StackId ?? name,
      status: s.StackStatus ?? "",
      ...(s.StackStatusReason ? { statusReason: s.StackStatusReason } : {}),
      outputs: Object.fromEntries((s.Outputs ?? []).map((o) => [o.OutputKey ?? "", o.OutputValue ?? ""])),
      parameters: Object.fromEntries((s.Parameters ?? []).map((p) => [p.ParameterKey ?? "", p.ParameterValue ?? ""])),
    };
  } catch (e) {
    if (/does not exist/.test(awsErrorMessage(e))) return undefined;
    throw e;
  }
}

/** The stack parameters: every secret's ARN and the task definition (a value, or the previous one). */
export function stackParameters(
  model: AwsModel,
  secretArns: Partial<Record<SecretName, string>>,
  taskDefinition: { value: string } | { usePrevious: true },
): Parameter[] {
  const params: Parameter[] = [
    "usePrevious" in taskDefinition
      ? { ParameterKey: ParameterName.taskDefinitionArn, UsePreviousValue: true }
      : { ParameterKey: ParameterName.taskDefinitionArn, ParameterValue: taskDefinition.value },
  ];
  for (const ref of model.mlflow.secrets) {
    const arn = secretArns[ref.name];
    params.push(
      arn
        ? { ParameterKey: secretParameterName(ref.name), ParameterValue: arn }
        : { ParameterKey: secretParameterName(ref.name), UsePreviousValue: true },
    );
  }
  return params;
}
