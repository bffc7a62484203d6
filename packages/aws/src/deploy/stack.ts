import type { CloudFormation, Parameter, StackEvent } from "@aws-sdk/client-cloudformation";
import type { SecretName } from "@mlflow-dev/spec";
import type { AwsModel } from "../aws-model.ts";
import { toTags } from "../cloudformation/tags.ts";
import { ParameterName, secretParameterName } from "../names.ts";
import { type ChangeAction, changedAttributes, type ResourceChange } from "./diff.ts";
import { awsErrorMessage, DeployError } from "./errors.ts";
import { type Reporter, sleep } from "./report.ts";
import { failedStackHint, isSuccess, isTerminal } from "./stack-status.ts";

/** CloudFormation: stacks, change sets, waiting with progress, and the events of a failure. */

export interface StackInfo {
  name: string;
  id: string;
  status: string;
  statusReason?: string;
  outputs: Record<string, string>;
  parameters: Record<string, string>;
}

export interface WaitOptions {
  pollMs: number;
  timeoutMs: number;
}

/** CloudFormation accepts a template body of at most 51,200 bytes. */
export const MAX_TEMPLATE_BODY = 51_200;

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

export interface ChangeSetRequest {
  stackName: string;
  type: "CREATE" | "UPDATE" | "IMPORT";
  /** For IMPORT: the existing resources the stack adopts. */
  resourcesToImport?: { ResourceType: string; LogicalResourceId: string; ResourceIdentifier: Record<string, string> }[];
  /** The template (JSON); omit to keep the stack's current template. */
  templateBody?: string;
  parameters: Parameter[];
  model: AwsModel;
  /** What the change set is for, shown in the console. */
  description: string;
}

export interface PreparedChangeSet {
  id: string;
  stackId: string;
  changes: ResourceChange[];
  /** CloudFormation found nothing to change (the change set was deleted again). */
  empty: boolean;
}

function changeSetName(purpose: string): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:TZ.]/g, "")
    .slice(0, 14);
  return `mlflow-dev-${purpose}-${stamp}`;
}

const NO_CHANGES = /didn't contain changes|No updates are to be performed|no changes/i;

/** Creates a change set and waits until CloudFormation has computed it; an empty one is deleted. */
export async function createChangeSet(
  cfn: CloudFormation,
  req: ChangeSetRequest,
  purpose: string,
  wait: WaitOptions,
): Promise<PreparedChangeSet> {
  if (req.templateBody && Buffer.byteLength(req.templateBody) > MAX_TEMPLATE_BODY)
    throw new DeployError(
      `the template is ${Buffer.byteLength(req.templateBody)} bytes; CloudFormation takes at most ${MAX_TEMPLATE_BODY} in a request`,
      { kind: "input" },
    );
  let created: { Id?: string; StackId?: string };
  try {
    created = await cfn.createChangeSet({
      StackName: req.stackName,
      ChangeSetName: changeSetName(purpose),
      ChangeSetType: req.type,
      Description: req.description.slice(0, 1024),
      ...(req.templateBody ? { TemplateBody: req.templateBody } : { UsePreviousTemplate: true }),
      Parameters: req.parameters,
      Capabilities: ["CAPABILITY_IAM"],
      // An import may not change tags; the next update adds them.
      ...(req.type === "IMPORT" ? {} : { Tags: toTags(req.model) }),
      ...(req.resourcesToImport ? { ResourcesToImport: req.resourcesToImport } : {}),
    });
  } catch (e) {
    throw new DeployError(`CloudFormation refused the change set for ${req.stackName}: ${awsErrorMessage(e)}`, {
      cause: e,
    });
  }
  const id = created.Id ?? "";
  const deadline = Date.now() + wait.timeoutMs;
  for (;;) {
    const d = await cfn.describeChangeSet({ ChangeSetName: id, StackName: req.stackName });
    const status = d.Status ?? "";
    if (status === "CREATE_COMPLETE") {
      const changes = await listChanges(cfn, id, req.stackName);
      return { id, stackId: created.StackId ?? d.StackId ?? "", changes, empty: changes.length === 0 };
    }
    if (status === "FAILED") {
      const reason = d.StatusReason ?? "";
      if (NO_CHANGES.test(reason)) {
        await deleteChangeSet(cfn, id, req.stackName);
        return { id, stackId: created.StackId ?? "", changes: [], empty: true };
      }
      await deleteChangeSet(cfn, id, req.stackName);
      throw new DeployError(`the change set for ${req.stackName} failed: ${reason}`, {
        hint: "Nothing was changed. Fix the cause, then run the command again.",
      });
    }
    if (Date.now() > deadline)
      throw new DeployError(`the change set for ${req.stackName} is still ${status} after ${wait.timeoutMs / 1000}s`);
    await sleep(wait.pollMs);
  }
}

async function listChanges(cfn: CloudFormation, id: string, stackName: string): Promise<ResourceChange[]> {
  const out: ResourceChange[] = [];
  let token: string | undefined;
  do {
    const d = await cfn.describeChangeSet({
      ChangeSetName: id,
      StackName: stackName,
      ...(token ? { NextToken: token } : {}),
    });
    for (const c of d.Changes ?? []) {
      const rc = c.ResourceChange;
      if (!rc) continue;
      out.push({
        action: (rc.Action ?? "Dynamic") as ChangeAction,
        logicalId: rc.LogicalResourceId ?? "",
        type: rc.ResourceType ?? "",
        ...(rc.PhysicalResourceId ? { physicalId: rc.PhysicalResourceId } : {}),
        ...(rc.Replacement ? { replacement: rc.Replacement } : {}),
        details: changedAttributes(rc.Details as never),
      });
    }
    token = d.NextToken;
  } while (token);
  return out;
}

export async function deleteChangeSet(cfn: CloudFormation, id: string, stackName: string): Promise<void> {
  try {
    await cfn.deleteChangeSet({ ChangeSetName: id, StackName: stackName });
  } catch {
    // Already gone (executed or deleted): nothing to clean up.
  }
}

/** Executes a prepared change set and waits for the stack, printing its events as they come. */
export async function executeChangeSet(
  cfn: CloudFormation,
  stackName: string,
  changeSet: PreparedChangeSet,
  report: Reporter,
  wait: WaitOptions,
): Promise<StackInfo> {
  const seen = await currentEventIds(cfn, stackName);
  try {
    await cfn.executeChangeSet({ ChangeSetName: changeSet.id, StackName: stackName });
  } catch (e) {
    throw new DeployError(`CloudFormation could not execute the change set for ${stackName}: ${awsErrorMessage(e)}`, {
      cause: e,
    });
  }
  return waitForStack(cfn, stackName, seen, report, wait);
}

async function currentEventIds(cfn: CloudFormation, stackName: string): Promise<Set<string>> {
  try {
    const r = await cfn.describeStackEvents({ StackName: stackName });
    return new Set((r.StackEvents ?? []).map((e) => e.EventId ?? ""));
  } catch {
    return new Set();
  }
}

/**
 * Polls until the stack leaves *_IN_PROGRESS. Success returns the stack; failure throws with the
 * events of the resources that failed (the stack has rolled back by then).
 */
export async function waitForStack(
  cfn: CloudFormation,
  stackName: string,
  seen: Set<string>,
  report: Reporter,
  wait: WaitOptions,
): Promise<StackInfo> {
  const deadline = Date.now() + wait.timeoutMs;
  const failures: StackEvent[] = [];
  for (;;) {
    const events = await newEvents(cfn, stackName, seen);
    for (const e of events) {
      report.info(formatEvent(e));
      if (e.ResourceStatus?.endsWith("_FAILED")) failures.push(e);
    }
    const stack = await getStack(cfn, stackName);
    if (!stack) throw new DeployError(`the stack ${stackName} disappeared while waiting for it`);
    if (isTerminal(stack.status)) {
      const more = await newEvents(cfn, stackName, seen);
      for (const e of more) {
        report.info(formatEvent(e));
        if (e.ResourceStatus?.endsWith("_FAILED")) failures.push(e);
      }
      if (isSuccess(stack.status)) return stack;
      const validation = await validationFailures(cfn, stackName);
      throw new DeployError(stackFailureMessage(stackName, stack, [...failures, ...validation]), {
        hint: failedStackHint(stack.status),
      });
    }
    if (Date.now() > deadline)
      throw new DeployError(
        `the stack ${stackName} is still ${stack.status} after ${Math.round(wait.timeoutMs / 60000)} minutes`,
        {
          hint: "It keeps going in CloudFormation: follow it in the console or with `aws cloudformation describe-stack-events`, then run the command again.",
        },
      );
    await sleep(wait.pollMs);
  }
}

async function newEvents(cfn: CloudFormation, stackName: string, seen: Set<string>): Promise<StackEvent[]> {
  let events: StackEvent[] = [];
  try {
    const r = await cfn.describeStackEvents({ StackName: stackName });
    events = r.StackEvents ?? [];
  } catch {
    return [];
  }
  const fresh = events.filter((e) => !seen.has(e.EventId ?? ""));
  for (const e of fresh) seen.add(e.EventId ?? "");
  return fresh.reverse();
}

/**
 * Failures CloudFormation reports as operation events rather than stack events: pre-deployment
 * validation ("Validation failed ... Call DescribeEvents"), shaped like stack events.
 */
async function validationFailures(cfn: CloudFormation, stackName: string): Promise<StackEvent[]> {
  try {
    const r = await cfn.describeEvents({ StackName: stackName, Filters: { FailedEvents: true } });
    return (r.OperationEvents ?? [])
      .filter((e) => e.LogicalResourceId && e.LogicalResourceId !== stackName)
      .map((e) => ({
        EventId: e.EventId,
        StackName: stackName,
        Timestamp: e.Timestamp,
        LogicalResourceId: e.LogicalResourceId,
        ResourceType: e.ResourceType,
        ResourceStatus: "CREATE_FAILED",
        ResourceStatusReason: [
          e.ValidationName,
          e.ValidationStatusReason ?? e.ResourceStatusReason,
          e.ValidationPath ? `at ${e.ValidationPath}` : "",
        ]
          .filter(Boolean)
          .join(": "),
      })) as StackEvent[];
  } catch {
    return [];
  }
}

export function formatEvent(
  e: Pick<StackEvent, "ResourceStatus" | "LogicalResourceId" | "ResourceType" | "ResourceStatusReason">,
): string {
  const reason = e.ResourceStatusReason ? `: ${e.ResourceStatusReason}` : "";
  return `${(e.ResourceStatus ?? "").padEnd(20)} ${e.LogicalResourceId ?? ""} (${e.ResourceType ?? ""})${reason}`;
}

/** The failed resources, the first (root) cause first; cancellations caused by it come after. */
export function stackFailureMessage(
  stackName: string,
  stack: Pick<StackInfo, "status" | "statusReason">,
  failures: Pick<StackEvent, "LogicalResourceId" | "ResourceType" | "ResourceStatusReason" | "ResourceStatus">[],
): string {
  const resources = failures.filter((f) => f.LogicalResourceId !== stackName);
  // With no failed resource, the stack's own failure event carries the reason.
  const own = resources.length ? resources : failures.filter((f) => f.ResourceStatusReason);
  const cancelled = (f: (typeof own)[number]) => /cancel/i.test(f.ResourceStatusReason ?? "");
  const ordered = [...own.filter((f) => !cancelled(f)), ...own.filter(cancelled)];
  const lines = ordered.map(
    (f) =>
      `  ${f.LogicalResourceId} (${f.ResourceType}) ${f.ResourceStatus}: ${f.ResourceStatusReason ?? "no reason given"}`,
  );
  return [
    `the stack ${stackName} ended in ${stack.status}${stack.statusReason ? ` (${stack.statusReason})` : ""}${lines.length ? "; failed resources:" : ""}`,
    ...lines,
  ].join("\n");
}

/** Deletes a stack and waits until it is gone, printing its events. */
export async function deleteStack(
  cfn: CloudFormation,
  stackName: string,
  report: Reporter,
  wait: WaitOptions,
): Promise<void> {
  const stack = await getStack(cfn, stackName);
  if (!stack) return;
  const seen = await currentEventIds(cfn, stack.id);
  await cfn.deleteStack({ StackName: stack.id });
  const deadline = Date.now() + wait.timeoutMs;
  for (;;) {
    for (const e of await newEvents(cfn, stack.id, seen)) report.info(formatEvent(e));
    const now = await getStack(cfn, stack.id);
    if (!now || now.status === "DELETE_COMPLETE") return;
    if (now.status === "DELETE_FAILED") {
      const r = await cfn.describeStackEvents({ StackName: stack.id });
      const failed = (r.StackEvents ?? []).filter((e) => e.ResourceStatus === "DELETE_FAILED");
      throw new DeployError(stackFailureMessage(stackName, now, failed), {
        hint: "Fix the resources named above (or delete them by hand), then run destroy again.",
      });
    }
    if (Date.now() > deadline)
      throw new DeployError(
        `the stack ${stackName} is still ${now.status} after ${Math.round(wait.timeoutMs / 60000)} minutes`,
      );
    await sleep(wait.pollMs);
  }
}
