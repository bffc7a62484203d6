import type { Reporter } from "@mlflow-dev/kernel/progress";
import { type Clock, realClock } from "@mlflow-dev/kernel/wait";
import type { AwsModel } from "../../render/aws-model.ts";
import { stackPolicy } from "../../render/cloudformation/stack-policy.ts";
import type { DeployContext } from "../../render/context.ts";
import type { MigrationPlacement } from "../../render/task-definition.ts";
import { awsErrorName } from "../errors.ts";
import { type RunnerOptions, waitOf } from "../options.ts";
import {
  type ChangeSetRequest,
  createChangeSet,
  deleteChangeSet,
  executeChangeSet,
  type PreparedChangeSet,
} from "./change-set.ts";
import type { AwsClients } from "./clients.ts";
import { waitForSteadyState } from "./ecs-service.ts";
import { type MigrationResult, runMigration } from "./migration-task.ts";
import { StackEventStream } from "./stack-events.ts";
import { getStack, type StackInfo } from "./stack-info.ts";
import { deleteStack } from "./stack-wait.ts";

/**
 * The deploy engine: the domain verbs promote, plan and destroy use, in front of the AWS SDK.
 * Each verb does one AWS job to its end (a change set computed, a stack settled, a deployment
 * steady, a task exited), waits on the injected clock and streams its progress to the reporter.
 * What to do with a stack in a given status is not the engine's business (stack-status.ts).
 */
export interface DeployEngine {
  readonly report: Reporter;
  readonly clock: Clock;
  /** The stack as it stands (status, outputs, parameters); undefined when there is none. */
  describeStack(name: string): Promise<StackInfo | undefined>;
  /** A change set, as CloudFormation computed it; an empty one is deleted again (`empty`). */
  prepareChangeSet(request: ChangeSetRequest, purpose: string): Promise<PreparedChangeSet>;
  /** Executes a prepared change set and waits until the stack settles, streaming its events. */
  executeChangeSet(stack: string, changeSet: PreparedChangeSet): Promise<StackInfo>;
  /** Deletes a change set that was computed only to be shown. */
  discardChangeSet(stack: string, changeSet: PreparedChangeSet): Promise<void>;
  /** Deletes the stack and waits until it is gone, streaming its events. */
  deleteStack(name: string): Promise<void>;
  /** The bucket exists and this account may use it (one a destroy kept, for the stack to import). */
  bucketExists(bucket: string): Promise<boolean>;
  /** The bucket's tags (empty when it has none); undefined when they cannot be read. */
  bucketTags(bucket: string): Promise<Record<string, string> | undefined>;
  /** Sets the stack policy (stack-policy.ts), leaving the resources in `allowed` unprotected. */
  setStackPolicy(stack: string, allowed?: readonly string[]): Promise<void>;
  /** Turns termination protection on or off. */
  setTerminationProtection(stack: string, on: boolean): Promise<void>;
  /** The stack's events from now on, oldest first, every page read. */
  streamEvents(stack: string): Promise<StackEventStream>;
  /** Waits until the service runs the revision steadily and healthy; throws with the stopped tasks' causes. */
  waitForDeployment(model: AwsModel, ctx: DeployContext, taskDefinitionArn: string): Promise<void>;
  /** Runs the database migration as a one-off task and waits for it to exit 0. */
  runMigrationTask(
    model: AwsModel,
    ctx: DeployContext,
    placement: Omit<MigrationPlacement, "taskDefinitionArn">,
  ): Promise<MigrationResult>;
}

/** The engine on the SDK clients, with the runner's waits, clock and reporter. */
export function awsDeployEngine(clients: AwsClients, options: RunnerOptions): DeployEngine {
  const cfn = clients.cloudformation;
  const { report } = options;
  const stackWait = waitOf(options, "stackTimeoutMs");
  return {
    report,
    clock: options.clock ?? realClock,
    describeStack: (name) => getStack(cfn, name),
    prepareChangeSet: (request, purpose) => createChangeSet(cfn, request, purpose, stackWait),
    executeChangeSet: (stack, changeSet) => executeChangeSet(cfn, stack, changeSet, report, stackWait),
    discardChangeSet: (stack, changeSet) => deleteChangeSet(cfn, changeSet.id, stack),
    deleteStack: (name) => deleteStack(cfn, name, report, stackWait),
    bucketExists: async (bucket) => {
      try {
        await clients.s3.headBucket({ Bucket: bucket });
        return true;
      } catch {
        return false;
      }
    },
    bucketTags: async (bucket) => {
      try {
        const r = await clients.s3.getBucketTagging({ Bucket: bucket });
        return Object.fromEntries((r.TagSet ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
      } catch (e) {
        return awsErrorName(e) === "NoSuchTagSet" ? {} : undefined;
      }
    },
    setStackPolicy: async (stack, allowed = []) => {
      await cfn.setStackPolicy({ StackName: stack, StackPolicyBody: JSON.stringify(stackPolicy(allowed)) });
    },
    setTerminationProtection: async (stack, on) => {
      await cfn.updateTerminationProtection({ StackName: stack, EnableTerminationProtection: on });
    },
    streamEvents: (stack) => StackEventStream.from(cfn, stack),
    waitForDeployment: (model, ctx, arn) =>
      waitForSteadyState(clients, model, ctx, arn, report, waitOf(options, "serviceTimeoutMs")),
    runMigrationTask: (model, ctx, placement) =>
      runMigration(clients, model, ctx, placement, report, waitOf(options, "taskTimeoutMs")),
  };
}
