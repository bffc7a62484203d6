import type { CloudFormation, Parameter } from "@aws-sdk/client-cloudformation";
import type { SecretName } from "@mlflow-dev/spec";
import { parse } from "yaml";
import type { AwsModel } from "../../render/aws-model.ts";
import type { Template } from "../../render/cloudformation/template.ts";
import { ParameterName, secretParameterName } from "../../render/names.ts";
import { awsErrorMessage } from "../errors.ts";

/** A stack as the runners read it: its status, outputs and parameters; and the parameters it takes. */

export interface StackInfo {
  name: string;
  id: string;
  status: string;
  statusReason?: string;
  outputs: Record<string, string>;
  parameters: Record<string, string>;
  /** Termination protection is on (DeleteStack is refused until it is turned off). */
  terminationProtection?: boolean;
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
      ...(s.EnableTerminationProtection ? { terminationProtection: true } : {}),
    };
  } catch (e) {
    if (/does not exist/.test(awsErrorMessage(e))) return undefined;
    throw e;
  }
}

/**
 * The DatabaseSnapshot parameter of a change set: the snapshot a restore names, else the stack's
 * own value kept. Never dropped once set: CloudFormation would fall back to the empty default, and
 * RDS replaces an instance whose DBSnapshotIdentifier is removed with an empty one. Left out for a
 * stack (or a deployed template) from before the parameter, where the default (empty) applies.
 */
export function databaseSnapshotParameter(stack: StackInfo | undefined, restoreFrom?: string): Parameter | undefined {
  if (restoreFrom !== undefined) return { ParameterKey: ParameterName.databaseSnapshot, ParameterValue: restoreFrom };
  if (stack?.parameters[ParameterName.databaseSnapshot] !== undefined)
    return { ParameterKey: ParameterName.databaseSnapshot, UsePreviousValue: true };
  return undefined;
}

/**
 * The stack parameters: every secret's ARN, the task definition (a value, or the previous one) and
 * the database snapshot (databaseSnapshotParameter).
 */
export function stackParameters(
  model: AwsModel,
  secretArns: Partial<Record<SecretName, string>>,
  taskDefinition: { value: string } | { usePrevious: true },
  databaseSnapshot: Parameter | undefined,
): Parameter[] {
  const params: Parameter[] = [
    "usePrevious" in taskDefinition
      ? { ParameterKey: ParameterName.taskDefinitionArn, UsePreviousValue: true }
      : { ParameterKey: ParameterName.taskDefinitionArn, ParameterValue: taskDefinition.value },
    ...(databaseSnapshot ? [databaseSnapshot] : []),
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

/** The physical id of one of the stack's resources; undefined when it cannot be read. */
export async function stackResourceId(
  cfn: CloudFormation,
  stack: string,
  logicalId: string,
): Promise<string | undefined> {
  try {
    const r = await cfn.describeStackResource({ StackName: stack, LogicalResourceId: logicalId });
    return r.StackResourceDetail?.PhysicalResourceId;
  } catch {
    return undefined;
  }
}

/** The template the stack was deployed with (JSON, or YAML for a stack made by hand). */
export async function deployedTemplate(cfn: CloudFormation, stack: string): Promise<Template> {
  const r = await cfn.getTemplate({ StackName: stack, TemplateStage: "Original" });
  const body = r.TemplateBody ?? "";
  try {
    return JSON.parse(body) as Template;
  } catch {
    return parse(body) as Template;
  }
}
