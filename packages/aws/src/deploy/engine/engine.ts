import type { FilteredLogEvent, LogStream } from "@aws-sdk/client-cloudwatch-logs";
import type { RunTaskCommandInput, RunTaskCommandOutput, Service, Task } from "@aws-sdk/client-ecs";
import type { DBSnapshot, Tag } from "@aws-sdk/client-rds";
import type { Reporter } from "@mlflow-dev/kernel/progress";
import { type Clock, realClock } from "@mlflow-dev/kernel/wait";
import type { AwsModel } from "../../render/aws-model.ts";
import { stackPolicy } from "../../render/cloudformation/stack-policy.ts";
import type { Template } from "../../render/cloudformation/template.ts";
import type { DeployContext } from "../../render/context.ts";
import type { MigrationPlacement, TaskDefinition } from "../../render/task-definition.ts";
import { type DeployWaits, type RunnerOptions, waitOf } from "../options.ts";
import { bucketExists, bucketTags, emptyPrefix, holdsObjects } from "./bucket.ts";
import {
  type ChangeSetRequest,
  createChangeSet,
  deleteChangeSet,
  executeChangeSet,
  type PreparedChangeSet,
} from "./change-set.ts";
import type { AwsClients } from "./clients.ts";
import {
  databaseInstanceId,
  deletionProtected,
  describeSnapshot,
  newestSnapshot,
  removeDeletionProtection,
  type SnapshotKind,
  type SnapshotResult,
  snapshotTagsNow,
  takeSnapshot,
} from "./db-snapshots.ts";
import {
  deregisterTaskDefinitionFamily,
  describeService,
  describeTaskDefinition,
  type Registration,
  registerIfChanged,
  runningTasks,
  setDesiredCount,
  stoppedTaskDetails,
  waitForSteadyState,
} from "./ecs-service.ts";
import { type DockerOptions, type ImageChoice, resolveImage } from "./image.ts";
import { forceUnlock, type LockHolder, withLock } from "./lock.ts";
import { type MigrationResult, runMigration } from "./migration-task.ts";
import { type Identity, type PreflightOptions, preflight } from "./preflight.ts";
import { accountPreflight, type PreflightVerdict } from "./preflight-account.ts";
import {
  deleteSecrets,
  describeSecrets,
  type EnsuredSecrets,
  ensureSecrets,
  readSecretValue,
  type SecretStatus,
} from "./secrets.ts";
import { deployedTemplate, getStack, type StackInfo, stackResourceId } from "./stack-info.ts";
import { deleteStack } from "./stack-wait.ts";
import { filterLogEvents, listLogStreams, taskStreamReader } from "./task-logs.ts";

/**
 * The AWS engine: the verbs the operations (deploy/: promote, plan, destroy, backup, restore,
 * status, logs, exec) use, in front of the AWS SDK. The operations take an engine as a parameter
 * and never hold an SDK client; createAwsEngine is the one implementation on the SDK, built at
 * the CLI's edge; unit tests give the operations one over an in-memory AWS. Each verb does one AWS
 * job to its end (a change set computed, a stack settled, a deployment steady, a task exited),
 * waits on the engine's clock and streams its progress to its reporter. What to do with a stack
 * in a given status is not the engine's business (stack-status.ts).
 */
export interface AwsEngine {
  readonly report: Reporter;
  readonly clock: Clock;
  readonly waits: DeployWaits;
  /** The region the engine works in. */
  readonly region: string;
  /** Set when the engine talks to an emulator (AWS_ENDPOINT_URL / --endpoint-url). */
  readonly endpointUrl: string | undefined;
  /** The same engine waiting on another clock (promote meters its waits on one). */
  withClock(clock: Clock): AwsEngine;

  // The checks and the lock.
  /** Credentials, region, account, the existing network, bucket and certificate (engine/preflight.ts). */
  preflight(model: AwsModel, options?: PreflightOptions): Promise<Identity>;
  /** The account's checks, each reported; refuses (exit 2) when one fails (engine/preflight-account.ts). */
  accountPreflight(model: AwsModel, purpose: "plan" | "promote"): Promise<PreflightVerdict[]>;
  /** Runs fn holding the environment's deploy lock (engine/lock.ts). */
  withLock<T>(model: AwsModel, command: string, fn: () => Promise<T>): Promise<T>;
  /** Releases the lock whoever holds it; the holder it had, if any. */
  forceUnlock(model: AwsModel): Promise<LockHolder | undefined>;

  // The stack.
  /** The stack as it stands (status, outputs, parameters); undefined when there is none. */
  describeStack(name: string): Promise<StackInfo | undefined>;
  /** The physical id of one of the stack's resources; undefined when it cannot be read. */
  stackResourceId(stack: string, logicalId: string): Promise<string | undefined>;
  /** The template the stack was deployed with. */
  deployedTemplate(stack: string): Promise<Template>;
  /** A change set, as CloudFormation computed it; an empty one is deleted again (`empty`). */
  prepareChangeSet(request: ChangeSetRequest, purpose: string): Promise<PreparedChangeSet>;
  /** Executes a prepared change set and waits until the stack settles, streaming its events. */
  executeChangeSet(stack: string, changeSet: PreparedChangeSet): Promise<StackInfo>;
  /** Deletes a change set that was computed only to be shown. */
  discardChangeSet(stack: string, changeSet: PreparedChangeSet): Promise<void>;
  /** Deletes the stack and waits until it is gone, streaming its events. */
  deleteStack(name: string): Promise<void>;
  /** Sets the stack policy (stack-policy.ts), leaving the resources in `allowed` unprotected. */
  setStackPolicy(stack: string, allowed?: readonly string[]): Promise<void>;
  /** Turns termination protection on or off. */
  setTerminationProtection(stack: string, on: boolean): Promise<void>;

  // The secrets.
  /** Each of the Model's secrets: exists, missing or scheduled for deletion. */
  describeSecrets(model: AwsModel): Promise<SecretStatus[]>;
  /** Creates the missing secrets, restores the ones scheduled for deletion; their ARNs. */
  ensureSecrets(model: AwsModel): Promise<EnsuredSecrets>;
  /** A secret's value (never printed). */
  readSecret(arn: string): Promise<string>;
  /** Deletes the Model's secrets (with a recovery window unless `force`); the ones deleted. */
  deleteSecrets(model: AwsModel, options: { force: boolean }): Promise<string[]>;

  // The image.
  /** The image the service runs: the spec's reference, or built and pushed to the stack's ECR repository. */
  resolveImage(
    model: AwsModel,
    outputs: Record<string, string>,
    specDir: string,
    docker?: DockerOptions,
  ): Promise<ImageChoice>;

  // The ECS service and its tasks.
  /** The environment's service; undefined when there is none. */
  describeService(model: AwsModel): Promise<Service | undefined>;
  /** A registered task definition (by ARN or family); undefined when there is none. */
  describeTaskDefinition(ref: string): Promise<Record<string, unknown> | undefined>;
  /** Registers the task definition unless the family's newest revision matches it. */
  registerTaskDefinition(desired: TaskDefinition): Promise<Registration>;
  /** Every ACTIVE revision of a family, deregistered; their ARNs. */
  deregisterTaskDefinitionFamily(family: string): Promise<string[]>;
  /** Sets the service's desired count; with `wait`, waits until ECS runs exactly that many tasks. */
  setDesiredCount(model: AwsModel, count: number, options?: { wait: boolean }): Promise<void>;
  /** The service's running tasks (at most 100). */
  runningTasks(model: AwsModel): Promise<Task[]>;
  /** Why tasks of the revision stopped, with the newest one's last log lines ("" when none did). */
  stoppedTaskDetails(model: AwsModel, ctx: Pick<DeployContext, "logGroupName">, arn: string): Promise<string>;
  /** Waits until the service runs the revision steadily and healthy; throws with the stopped tasks' causes. */
  waitForDeployment(model: AwsModel, ctx: DeployContext, taskDefinitionArn: string): Promise<void>;
  /** Runs the database migration as a one-off task and waits for it to exit 0. */
  runMigrationTask(
    model: AwsModel,
    ctx: DeployContext,
    placement: Omit<MigrationPlacement, "taskDefinitionArn">,
  ): Promise<MigrationResult>;
  /** Starts a task (RunTask) and gives ECS's answer. */
  runTask(input: RunTaskCommandInput): Promise<RunTaskCommandOutput>;
  /** One task as ECS describes it now. */
  describeTask(cluster: string | undefined, taskArn: string): Promise<Task | undefined>;
  /** Stops a task. */
  stopTask(cluster: string | undefined, taskArn: string, reason: string): Promise<void>;

  // The database.
  /** The stack's database instance identifier (throws when it has none). */
  databaseInstanceId(model: AwsModel): Promise<string>;
  /** A tagged manual snapshot of the stack's database, available when this returns. */
  takeSnapshot(
    model: AwsModel,
    kind: SnapshotKind,
    name?: (instance: string, now: Date) => string,
  ): Promise<SnapshotResult>;
  /** The snapshot with this identifier; undefined when there is none. */
  describeSnapshot(id: string): Promise<DBSnapshot | undefined>;
  /** The newest snapshot of an instance; undefined when there is none or it cannot be read. */
  newestSnapshot(databaseId: string): Promise<DBSnapshot | undefined>;
  /** The tags a snapshot taken now carries (the MLflow version served, the artifact point). */
  snapshotTagsNow(model: AwsModel, kind: SnapshotKind): Promise<Tag[]>;
  /** Adds tags to a snapshot. */
  tagSnapshot(snapshotArn: string, tags: Tag[]): Promise<void>;
  /** The instance's DeletionProtection as RDS reports it. */
  deletionProtected(databaseId: string): Promise<boolean>;
  /** Turns the instance's deletion protection off. */
  removeDeletionProtection(databaseId: string): Promise<void>;

  // The artifact bucket.
  /** The bucket exists and this account may use it (one a destroy kept, for the stack to import). */
  bucketExists(bucket: string): Promise<boolean>;
  /** The bucket's tags (empty when it has none); undefined when they cannot be read. */
  bucketTags(bucket: string): Promise<Record<string, string> | undefined>;
  /** Anything (an object version or a delete marker) is left in the bucket. */
  bucketHoldsObjects(bucket: string): Promise<boolean>;
  /** Deletes every object version under the prefix; how many (undefined when there is no bucket). */
  emptyPrefix(bucket: string, prefix: string): Promise<number | undefined>;

  // CloudWatch Logs.
  /** The streams of a log group whose names start with the prefix; none when the group does not exist. */
  listLogStreams(group: string, prefix: string): Promise<LogStream[]>;
  /** The events of the named streams from startTime on, every page. */
  filterLogEvents(input: { group: string; streams: string[]; startTime?: number }): Promise<FilteredLogEvent[]>;
  /** One stream read forward from its start: each read gives the new lines. */
  streamReader(group: string, stream: string): { read(): Promise<string[]> };
}

/** The engine on the SDK clients, with the runner's waits, clock and reporter. */
export function createAwsEngine(clients: AwsClients, options: RunnerOptions): AwsEngine {
  const cfn = clients.cloudformation;
  const { report, waits } = options;
  const stackWait = waitOf(options, "stackTimeoutMs");
  return {
    report,
    clock: options.clock ?? realClock,
    waits,
    region: clients.region,
    endpointUrl: clients.endpointUrl,
    withClock: (clock) => createAwsEngine(clients, { ...options, clock }),

    preflight: (model, checks) => preflight(model, clients, report, checks),
    accountPreflight: (model, purpose) => accountPreflight(model, clients, report, purpose),
    withLock: (model, command, fn) => withLock(clients.ssm, model, command, fn),
    forceUnlock: (model) => forceUnlock(clients.ssm, model),

    describeStack: (name) => getStack(cfn, name),
    stackResourceId: (stack, logicalId) => stackResourceId(cfn, stack, logicalId),
    deployedTemplate: (stack) => deployedTemplate(cfn, stack),
    prepareChangeSet: (request, purpose) => createChangeSet(cfn, request, purpose, stackWait),
    executeChangeSet: (stack, changeSet) => executeChangeSet(cfn, stack, changeSet, report, stackWait),
    discardChangeSet: (stack, changeSet) => deleteChangeSet(cfn, changeSet.id, stack),
    deleteStack: (name) => deleteStack(cfn, name, report, stackWait),
    setStackPolicy: async (stack, allowed = []) => {
      await cfn.setStackPolicy({ StackName: stack, StackPolicyBody: JSON.stringify(stackPolicy(allowed)) });
    },
    setTerminationProtection: async (stack, on) => {
      await cfn.updateTerminationProtection({ StackName: stack, EnableTerminationProtection: on });
    },

    describeSecrets: (model) => describeSecrets(clients.secretsManager, model),
    ensureSecrets: (model) => ensureSecrets(clients.secretsManager, model, report),
    readSecret: (arn) => readSecretValue(clients.secretsManager, arn),
    deleteSecrets: (model, { force }) => deleteSecrets(clients.secretsManager, model, { force }, report),

    resolveImage: (model, outputs, specDir, docker = {}) =>
      resolveImage(model, clients, outputs, specDir, report, docker),

    describeService: (model) => describeService(clients.ecs, model),
    describeTaskDefinition: (ref) => describeTaskDefinition(clients.ecs, ref),
    registerTaskDefinition: (desired) => registerIfChanged(clients.ecs, desired),
    deregisterTaskDefinitionFamily: (family) => deregisterTaskDefinitionFamily(clients, family),
    setDesiredCount: (model, count, wait) => setDesiredCount(clients, model, count, wait?.wait ? waits : undefined),
    runningTasks: (model) => runningTasks(clients.ecs, model),
    stoppedTaskDetails: (model, ctx, arn) => stoppedTaskDetails(clients, model, ctx, arn),
    waitForDeployment: (model, ctx, arn) =>
      waitForSteadyState(clients, model, ctx, arn, report, waitOf(options, "serviceTimeoutMs")),
    runMigrationTask: (model, ctx, placement) =>
      runMigration(clients, model, ctx, placement, report, waitOf(options, "taskTimeoutMs")),
    runTask: (input) => clients.ecs.runTask(input),
    describeTask: async (cluster, taskArn) =>
      (await clients.ecs.describeTasks({ cluster, tasks: [taskArn] })).tasks?.[0],
    stopTask: async (cluster, task, reason) => {
      await clients.ecs.stopTask({ cluster, task, reason });
    },

    databaseInstanceId: (model) => databaseInstanceId(clients, model),
    takeSnapshot: (model, kind, name) => takeSnapshot(clients, model, kind, waits, name),
    describeSnapshot: (id) => describeSnapshot(clients, id),
    newestSnapshot: (databaseId) => newestSnapshot(clients, databaseId),
    snapshotTagsNow: (model, kind) => snapshotTagsNow(clients, model, kind),
    tagSnapshot: async (arn, tags) => {
      await clients.rds.addTagsToResource({ ResourceName: arn, Tags: tags });
    },
    deletionProtected: (databaseId) => deletionProtected(clients, databaseId),
    removeDeletionProtection: (databaseId) => removeDeletionProtection(clients, databaseId),

    bucketExists: (bucket) => bucketExists(clients, bucket),
    bucketTags: (bucket) => bucketTags(clients, bucket),
    bucketHoldsObjects: (bucket) => holdsObjects(clients, bucket),
    emptyPrefix: (bucket, prefix) => emptyPrefix(clients, bucket, prefix),

    listLogStreams: (group, prefix) => listLogStreams(clients.logs, group, prefix),
    filterLogEvents: (input) => filterLogEvents(clients.logs, input),
    streamReader: (group, stream) => taskStreamReader(clients.logs, group, stream),
  };
}
