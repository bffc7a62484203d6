import { type CloudFormation, type Parameter, paginateDescribeChangeSet } from "@aws-sdk/client-cloudformation";
import type { Reporter } from "@mlflow-dev/kernel/progress";
import { poll, type WaitOptions } from "@mlflow-dev/kernel/wait";
import type { AwsModel } from "../../render/aws-model.ts";
import { toTags } from "../../render/cloudformation/tags.ts";
import { type ResourceChange, resourceChangeOf, type SdkResourceChange } from "../diff.ts";
import { awsErrorMessage, DeployError } from "../errors.ts";
import { StackEventStream } from "./stack-events.ts";
import type { StackInfo } from "./stack-info.ts";
import { waitForStack } from "./stack-wait.ts";

/** CloudFormation change sets: create one and wait until it is computed, list its changes, execute it. */

/** CloudFormation accepts a template body of at most 51,200 bytes. */
export const MAX_TEMPLATE_BODY = 51_200;

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

function changeSetName(purpose: string, now: number): string {
  const stamp = new Date(now)
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
      ChangeSetName: changeSetName(purpose, wait.clock.now()),
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
  let status = "";
  return poll<PreparedChangeSet>({
    clock: wait.clock,
    intervalMs: wait.pollMs,
    timeoutMs: wait.timeoutMs,
    check: async () => {
      const d = await cfn.describeChangeSet({ ChangeSetName: id, StackName: req.stackName });
      status = d.Status ?? "";
      if (status === "CREATE_COMPLETE") {
        const changes = await listChanges(cfn, id, req.stackName);
        return { id, stackId: created.StackId ?? d.StackId ?? "", changes, empty: changes.length === 0 };
      }
      if (status !== "FAILED") return undefined;
      const reason = d.StatusReason ?? "";
      await deleteChangeSet(cfn, id, req.stackName);
      if (NO_CHANGES.test(reason)) return { id, stackId: created.StackId ?? "", changes: [], empty: true };
      throw new DeployError(`the change set for ${req.stackName} failed: ${reason}`, {
        hint: "Nothing was changed. Fix the cause, then run the command again.",
      });
    },
    onTimeout: () =>
      new DeployError(`the change set for ${req.stackName} is still ${status} after ${wait.timeoutMs / 1000}s`),
  });
}

async function listChanges(cfn: CloudFormation, id: string, stackName: string): Promise<ResourceChange[]> {
  const out: ResourceChange[] = [];
  for await (const d of paginateDescribeChangeSet({ client: cfn }, { ChangeSetName: id, StackName: stackName }))
    for (const c of d.Changes ?? []) {
      if (c.ResourceChange) out.push(resourceChangeOf(c.ResourceChange as SdkResourceChange));
    }
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
  const events = await StackEventStream.from(cfn, stackName);
  try {
    await cfn.executeChangeSet({ ChangeSetName: changeSet.id, StackName: stackName });
  } catch (e) {
    throw new DeployError(`CloudFormation could not execute the change set for ${stackName}: ${awsErrorMessage(e)}`, {
      cause: e,
    });
  }
  return waitForStack(cfn, stackName, events, report, wait);
}
