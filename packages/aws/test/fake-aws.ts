import { readFileSync } from "node:fs";
import {
  CreateChangeSetCommand,
  type CreateChangeSetCommandInput,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeEventsCommand,
  DescribeStackEventsCommand,
  DescribeStackResourceCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  SetStackPolicyCommand,
  type StackEvent,
  UpdateTerminationProtectionCommand,
} from "@aws-sdk/client-cloudformation";
import { GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeAddressesCommand, DescribeRegionsCommand } from "@aws-sdk/client-ec2";
import {
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type Service,
  StopTaskCommand,
  type Task,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";
import { GetRoleCommand } from "@aws-sdk/client-iam";
import {
  AddTagsToResourceCommand,
  CreateDBSnapshotCommand,
  type DBSnapshot,
  DBSnapshotNotFoundFault,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
} from "@aws-sdk/client-rds";
import {
  DeleteObjectsCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
} from "@aws-sdk/client-s3";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
} from "@aws-sdk/client-secrets-manager";
import { GetServiceQuotaCommand } from "@aws-sdk/client-service-quotas";
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand } from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { type AwsClients, createAwsClients } from "../src/deploy/engine/clients.ts";
import { circuitBreakerThreshold } from "../src/deploy/engine/ecs-service.ts";
import { type AwsModel, TAG_KEYS, toTemplate } from "../src/index.ts";
import { clusterName, OutputName, ParameterName, serviceName, stackName, taskFamily } from "../src/render/names.ts";

/**
 * A small in-memory AWS behind real SDK clients (aws-sdk-client-mock stubs their send): one
 * stack with change sets and paged events, one ECS service whose deployments follow the stack's
 * TaskDefinitionArn parameter, task definitions, the migration task, secrets, the SSM lock, a
 * bucket. Enough for promote's branches; the emulator tier stays the truth for AWS itself.
 *
 * A change set that points the service at a revision of a broken image runs as on AWS: the stack
 * stays UPDATE_IN_PROGRESS while ECS launches the revision's tasks, one failed launch a look; at
 * the circuit breaker's threshold the service resource fails (UPDATE_FAILED), the stack rolls back
 * (UPDATE_ROLLBACK_IN_PROGRESS) to its previous parameters, so the service runs the previous
 * revision again, and ends in UPDATE_ROLLBACK_COMPLETE.
 */

/** Why a task of a broken image stops, as DescribeTasks gives it. */
export interface StopCause {
  stoppedReason: string;
  containerReason?: string;
  exitCode?: number;
}

export const EXITED: StopCause = { stoppedReason: "Essential container in task exited", exitCode: 3 };
export const OUT_OF_MEMORY: StopCause = {
  stoppedReason: "Essential container in task exited",
  containerReason: "OutOfMemoryError: Container killed due to memory usage",
  exitCode: 137,
};

interface FakeStack {
  id: string;
  status: string;
  statusReason?: string;
  parameters: Record<string, string>;
  /** describeStacks answers *_IN_PROGRESS this many more times before the final status. */
  pending: number;
  finalStatus: string;
}

/** One change of a fake change set; replacement and details as DescribeChangeSet gives them. */
export interface FakeChange {
  logicalId: string;
  type: string;
  action: string;
  replacement?: string;
  details?: Record<string, unknown>[];
}

interface FakeChangeSet {
  id: string;
  name: string;
  input: CreateChangeSetCommandInput;
  changes: FakeChange[];
}

export interface FakeAwsOptions {
  model: AwsModel;
  /** Stack events per page of DescribeStackEvents (CloudFormation: 100). */
  eventPageSize?: number;
}

/** A client stub of aws-sdk-client-mock, untyped: each fake below is typed by its command. */
interface Stub {
  restore(): void;
  onAnyCommand(): { rejects(e: Error): unknown };
}

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

const ACCOUNT = "123456789012";

export class FakeAws {
  readonly model: AwsModel;
  clients!: AwsClients;
  /** Every command sent, as "Service.Command" with its input. */
  readonly calls: { command: string; input: Record<string, unknown> }[] = [];

  stack: FakeStack | undefined;
  /** Newest last; DescribeStackEvents serves them newest first. */
  events: StackEvent[] = [];
  /** What the next infrastructure change set changes (an empty list: nothing). */
  infraChanges: FakeChange[] = [
    { logicalId: "Cluster", type: "AWS::ECS::Cluster", action: "Add" },
    { logicalId: "Database", type: "AWS::RDS::DBInstance", action: "Add" },
    { logicalId: "Service", type: "AWS::ECS::Service", action: "Add" },
  ];
  changeSets = new Map<string, FakeChangeSet>();
  bucketExists = false;
  /** The bucket's tags (GetBucketTagging); undefined: NoSuchTagSet. Default: what the stack gives it. */
  bucketTags: Record<string, string> | undefined;
  /** The keys in the bucket (one version each). */
  bucketObjects: string[] = ["mlflow/1/a"];
  /** The stack policy (SetStackPolicy), as JSON. */
  stackPolicy: string | undefined;
  terminationProtection = false;
  secrets = new Map<string, string>();
  lock: string | undefined;
  taskDefinitions = new Map<string, Record<string, unknown>>();
  revisions = new Map<string, number>();
  service: Service | undefined;
  /** Images whose tasks stop before the rollout completes, and why. */
  brokenImages = new Map<string, StopCause>();
  /**
   * CloudFormation finishes the service's update before its deployment is steady (MiniStack
   * without its patch, or a deployment a later UpdateService starts): a broken revision's first
   * failed task shows in the service after the stack is UPDATE_COMPLETE.
   */
  serviceUpdateReturnsAtOnce = false;
  /** Tasks that stopped (ListTasks desiredStatus STOPPED). */
  stoppedTasks: Task[] = [];
  /** A change set's update of the service that waits for a deployment of a broken revision. */
  private rollout: { arn: string; previous: Record<string, string>; failures: number } | undefined;
  migrationExitCode = 0;
  /** RDS snapshots taken. */
  snapshots: string[] = [];
  /** What DescribeDBSnapshots says of a snapshot beyond the defaults (tags, engine version...). */
  snapshotDetails = new Map<string, Partial<DBSnapshot>>();
  databaseProtected = false;
  /** Tags added to snapshots, by snapshot ARN. */
  snapshotTags = new Map<string, { Key?: string; Value?: string }[]>();
  /** Stack operations never end (for the timeouts). */
  stuck = false;
  /** The next infrastructure update fails and rolls back. */
  failInfraUpdate = false;
  private readonly pageSize: number;
  private eventSeq = 0;
  private changeSetSeq = 0;
  private stubs: Stub[] = [];

  constructor(options: FakeAwsOptions) {
    this.model = options.model;
    this.bucketTags = { [TAG_KEYS.environment]: this.model.environment, [TAG_KEYS.service]: this.model.name };
    this.pageSize = options.eventPageSize ?? 2;
  }

  static async start(options: FakeAwsOptions): Promise<FakeAws> {
    const aws = new FakeAws(options);
    aws.clients = await createAwsClients({
      region: options.model.target.region,
      credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
    });
    aws.install();
    return aws;
  }

  restore(): void {
    for (const s of this.stubs) s.restore();
  }

  /** The commands sent, by name ("CreateChangeSet", ...), with their inputs. */
  sent(command: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.command === command).map((c) => c.input);
  }

  /** The DB instance's physical id: a new one once the stack restored it from a snapshot. */
  get databaseInstance(): string {
    const snapshot = this.stack?.parameters[ParameterName.databaseSnapshot];
    return snapshot ? `tracking-staging-db-from-${snapshot}` : "tracking-staging-db";
  }

  get stackName(): string {
    return stackName(this.model);
  }

  private record<I extends object, O>(command: string, fn: (input: I) => O | Promise<O>) {
    return async (input: I) => {
      this.calls.push({ command, input: input as Record<string, unknown> });
      return fn(input);
    };
  }

  private stub(client: object) {
    const s = mockClient(client as never) as unknown as Stub;
    this.stubs.push(s);
    // Anything not faked below fails loudly.
    s.onAnyCommand().rejects(new Error("FakeAws: command not faked"));
    return s;
  }

  private install(): void {
    const c = this.clients;
    const stubs = new Map<object, Stub>();
    const stubOf = (client: object) => {
      let s = stubs.get(client);
      if (!s) {
        s = this.stub(client);
        stubs.set(client, s);
      }
      return s;
    };
    // biome-ignore lint/suspicious/noExplicitAny: the stubs are typed per client; these fakes are untyped on purpose
    const fake = (client: object, command: any, fn: (input: any) => unknown) =>
      // biome-ignore lint/suspicious/noExplicitAny: see above
      (stubOf(client) as any).on(command).callsFake(this.record(command.name.replace(/Command$/, ""), fn));

    fake(c.sts, GetCallerIdentityCommand, () => ({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/test` }));
    fake(c.ec2, DescribeRegionsCommand, () => ({
      Regions: [{ RegionName: this.model.target.region, OptInStatus: "opt-in-not-required" }],
    }));
    fake(c.s3, HeadBucketCommand, () => {
      if (!this.bucketExists) throw awsError("NotFound", "Not Found", 404);
      return {};
    });
    fake(c.logs, GetLogEventsCommand, () => ({ events: [] }));
    // The account preflight: the ECS service-linked role exists, the quotas are an established account's.
    fake(c.iam, GetRoleCommand, (i) => ({ Role: { RoleName: i.RoleName } }));
    fake(c.serviceQuotas, GetServiceQuotaCommand, (i) => ({
      Quota: { ServiceCode: i.ServiceCode, QuotaCode: i.QuotaCode, Value: i.ServiceCode === "fargate" ? 1000 : 5 },
    }));
    fake(c.ec2, DescribeAddressesCommand, () => ({ Addresses: [] }));

    fake(c.ssm, PutParameterCommand, (i) => {
      if (this.lock !== undefined) throw awsError("ParameterAlreadyExists", "The parameter already exists.");
      this.lock = i.Value;
      return { Version: 1 };
    });
    fake(c.ssm, GetParameterCommand, () => {
      if (this.lock === undefined) throw awsError("ParameterNotFound", "not found");
      return { Parameter: { Value: this.lock } };
    });
    fake(c.ssm, DeleteParameterCommand, () => {
      this.lock = undefined;
      return {};
    });

    fake(c.secretsManager, DescribeSecretCommand, (i) => {
      if (!this.secrets.has(i.SecretId)) throw awsError("ResourceNotFoundException", "Secrets Manager can't find it.");
      return { ARN: this.secretArn(i.SecretId), Name: i.SecretId };
    });
    fake(c.secretsManager, CreateSecretCommand, (i) => {
      this.secrets.set(i.Name, i.SecretString);
      return { ARN: this.secretArn(i.Name) };
    });
    fake(c.secretsManager, GetSecretValueCommand, () => ({ SecretString: "value" }));
    fake(c.secretsManager, DeleteSecretCommand, (i) => {
      this.secrets.delete(i.SecretId);
      return {};
    });

    fake(c.cloudformation, DescribeStacksCommand, (i) => this.describeStacks(i.StackName));
    fake(c.cloudformation, DescribeStackEventsCommand, (i) => this.describeStackEvents(i.StackName, i.NextToken));
    fake(c.cloudformation, GetTemplateCommand, () => ({ TemplateBody: JSON.stringify(toTemplate(this.model)) }));
    fake(c.cloudformation, DescribeStackResourceCommand, (i) => ({
      StackResourceDetail: { LogicalResourceId: i.LogicalResourceId, PhysicalResourceId: this.databaseInstance },
    }));
    fake(c.rds, DescribeDBInstancesCommand, (i) => ({
      DBInstances: [{ DBInstanceIdentifier: i.DBInstanceIdentifier, DeletionProtection: this.databaseProtected }],
    }));
    fake(c.rds, ModifyDBInstanceCommand, (i) => {
      if (i.DeletionProtection !== undefined) this.databaseProtected = i.DeletionProtection;
      return { DBInstance: { DBInstanceIdentifier: i.DBInstanceIdentifier } };
    });
    fake(c.rds, CreateDBSnapshotCommand, (i) => {
      this.snapshots.push(i.DBSnapshotIdentifier);
      if (i.Tags) this.snapshotDetails.set(i.DBSnapshotIdentifier, { TagList: i.Tags });
      return { DBSnapshot: { DBSnapshotIdentifier: i.DBSnapshotIdentifier, Status: "creating" } };
    });
    fake(c.rds, DescribeDBSnapshotsCommand, (i) => {
      const ids = this.snapshots.filter((id) => !i.DBSnapshotIdentifier || id === i.DBSnapshotIdentifier);
      if (i.DBSnapshotIdentifier && ids.length === 0)
        throw new DBSnapshotNotFoundFault({
          message: `DBSnapshot ${i.DBSnapshotIdentifier} not found.`,
          $metadata: {},
        });
      return {
        DBSnapshots: ids.map((id) => ({
          DBSnapshotIdentifier: id,
          DBSnapshotArn: `arn:aws:rds:eu-west-1:${ACCOUNT}:snapshot:${id}`,
          Status: "available",
          Engine: "postgres",
          EngineVersion: `${this.model.database.majorVersion}.4`,
          MasterUsername: this.model.database.user,
          ...this.snapshotDetails.get(id),
        })),
      };
    });
    fake(c.rds, AddTagsToResourceCommand, (i) => {
      this.snapshotTags.set(i.ResourceName ?? "", [
        ...(this.snapshotTags.get(i.ResourceName ?? "") ?? []),
        ...(i.Tags ?? []),
      ]);
      return {};
    });
    fake(c.s3, GetBucketVersioningCommand, () => ({ Status: "Enabled" }));
    fake(c.s3, ListObjectsV2Command, () => ({ Contents: [{ Key: "mlflow/1/a", Size: 5 }], KeyCount: 1 }));
    fake(c.cloudformation, DescribeEventsCommand, () => ({ OperationEvents: [] }));
    fake(c.cloudformation, CreateChangeSetCommand, (i) => this.createChangeSet(i));
    fake(c.cloudformation, DescribeChangeSetCommand, (i) => this.describeChangeSet(i.ChangeSetName));
    fake(c.cloudformation, DeleteChangeSetCommand, (i) => {
      this.changeSets.delete(i.ChangeSetName);
      return {};
    });
    fake(c.cloudformation, ExecuteChangeSetCommand, (i) => this.executeChangeSet(i.ChangeSetName));
    fake(c.cloudformation, DeleteStackCommand, () => {
      if (this.stack && this.terminationProtection)
        throw awsError(
          "ValidationError",
          `Stack [${this.stack.id}] cannot be deleted while TerminationProtection is enabled`,
        );
      if (this.stack) this.transition("DELETE_IN_PROGRESS", "DELETE_COMPLETE");
      return {};
    });
    fake(c.cloudformation, SetStackPolicyCommand, (i) => {
      if (!this.stack) throw awsError("ValidationError", `Stack [${i.StackName}] does not exist`);
      this.stackPolicy = i.StackPolicyBody;
      return {};
    });
    fake(c.cloudformation, UpdateTerminationProtectionCommand, (i) => {
      if (!this.stack) throw awsError("ValidationError", `Stack [${i.StackName}] does not exist`);
      this.terminationProtection = i.EnableTerminationProtection === true;
      return { StackId: this.stack.id };
    });
    fake(c.s3, GetBucketTaggingCommand, () => {
      if (!this.bucketTags) throw awsError("NoSuchTagSet", "The TagSet does not exist", 404);
      return { TagSet: Object.entries(this.bucketTags).map(([Key, Value]) => ({ Key, Value })) };
    });
    fake(c.s3, ListObjectVersionsCommand, (i) => {
      const keys = this.bucketObjects.filter((k) => !i.Prefix || k.startsWith(i.Prefix));
      const page = i.MaxKeys ? keys.slice(0, i.MaxKeys) : keys;
      return { Versions: page.map((Key) => ({ Key, VersionId: `v-${Key}` })), IsTruncated: false };
    });
    fake(c.s3, DeleteObjectsCommand, (i) => {
      const gone = new Set((i.Delete?.Objects ?? []).map((o: { Key: string }) => o.Key));
      this.bucketObjects = this.bucketObjects.filter((k) => !gone.has(k));
      return {};
    });

    fake(c.ecs, DescribeServicesCommand, () => ({ services: this.service ? [this.describeService()] : [] }));
    fake(c.ecs, DescribeTaskDefinitionCommand, (i) => {
      const td = this.taskDefinition(i.taskDefinition);
      if (!td) throw awsError("ClientException", "Unable to describe task definition.");
      const { tags, ...rest } = td;
      return { taskDefinition: rest, tags: tags ?? [] };
    });
    fake(c.ecs, RegisterTaskDefinitionCommand, (i) => {
      const family = String(i.family);
      const revision = (this.revisions.get(family) ?? 0) + 1;
      this.revisions.set(family, revision);
      const arn = `arn:aws:ecs:${this.model.target.region}:${ACCOUNT}:task-definition/${family}:${revision}`;
      const td = { ...i, taskDefinitionArn: arn, revision, status: "ACTIVE" };
      this.taskDefinitions.set(arn, td);
      return { taskDefinition: td };
    });
    fake(c.ecs, ListTaskDefinitionsCommand, (i) => ({
      taskDefinitionArns: [...this.taskDefinitions.entries()]
        .filter(([, td]) => td.status === "ACTIVE" && String(td.family).startsWith(i.familyPrefix ?? ""))
        .map(([arn]) => arn),
    }));
    fake(c.ecs, DeregisterTaskDefinitionCommand, (i) => {
      const td = this.taskDefinitions.get(i.taskDefinition);
      if (td) td.status = "INACTIVE";
      return { taskDefinition: td };
    });
    fake(c.ecs, RunTaskCommand, () => ({
      tasks: [
        { taskArn: `arn:aws:ecs:${this.model.target.region}:${ACCOUNT}:task/${clusterName(this.model)}/migrate` },
      ],
      failures: [],
    }));
    fake(c.ecs, StopTaskCommand, () => ({}));
    fake(c.ecs, UpdateServiceCommand, (i) => {
      const svc = this.service;
      if (svc && i.desiredCount !== undefined) {
        svc.desiredCount = i.desiredCount;
        svc.runningCount = i.desiredCount;
        for (const d of svc.deployments ?? []) {
          d.desiredCount = i.desiredCount;
          d.runningCount = i.desiredCount;
        }
      }
      return { service: svc };
    });
    fake(c.ecs, ListTasksCommand, (i) =>
      i.desiredStatus === "STOPPED"
        ? // A service the stack's rollback deleted no longer lists its tasks (assumed); its family does.
          { taskArns: i.serviceName && !this.service ? [] : this.stoppedTasks.map((t) => t.taskArn) }
        : i.desiredStatus === "RUNNING" && this.service
          ? { taskArns: [`arn:aws:ecs:${this.model.target.region}:${ACCOUNT}:task/${clusterName(this.model)}/server`] }
          : { taskArns: [] },
    );
    fake(c.ecs, DescribeTasksCommand, (i) => ({
      tasks: (i.tasks as string[]).map(
        (arn) =>
          this.stoppedTasks.find((t) => t.taskArn === arn) ??
          (arn.endsWith("/migrate")
            ? { taskArn: arn, lastStatus: "STOPPED", containers: [{ exitCode: this.migrationExitCode }] }
            : {
                taskArn: arn,
                taskDefinitionArn: this.service?.taskDefinition,
                lastStatus: "RUNNING",
                healthStatus: "HEALTHY",
              }),
      ),
    }));
  }

  secretArn(id: string): string {
    return `arn:aws:secretsmanager:${this.model.target.region}:${ACCOUNT}:secret:${id}-AbCdEf`;
  }

  /** A stack left by an earlier run, in this status. */
  givenStack(status: string, parameters: Record<string, string> = {}): void {
    this.stack = {
      id: `arn:aws:cloudformation:${this.model.target.region}:${ACCOUNT}:stack/${this.stackName}/1`,
      status,
      parameters,
      pending: 0,
      finalStatus: status,
    };
  }

  private addEvent(logicalId: string, type: string, status: string, reason?: string): void {
    this.eventSeq++;
    this.events.push({
      EventId: `e${this.eventSeq}`,
      StackId: this.stack?.id ?? this.stackName,
      StackName: this.stackName,
      LogicalResourceId: logicalId,
      ResourceType: type,
      ResourceStatus: status as StackEvent["ResourceStatus"],
      ...(reason ? { ResourceStatusReason: reason } : {}),
      Timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, this.eventSeq)),
    });
  }

  /** The stack goes through `inProgress` for two looks, then ends in `final`. */
  private transition(inProgress: string, final: string): void {
    if (!this.stack) return;
    this.stack.status = inProgress;
    this.stack.finalStatus = final;
    this.stack.pending = this.stuck ? Number.POSITIVE_INFINITY : 2;
    this.addEvent(this.stackName, "AWS::CloudFormation::Stack", inProgress);
  }

  private describeStacks(name: string) {
    const s = this.stack;
    if (!s || (name !== this.stackName && name !== s.id))
      throw awsError("ValidationError", `Stack with id ${name} does not exist`);
    if (this.rollout) this.launchFails();
    else if (s.pending > 0) s.pending--;
    else if (s.status !== s.finalStatus) {
      s.status = s.finalStatus;
      this.addEvent(this.stackName, "AWS::CloudFormation::Stack", s.status);
      if (s.status === "DELETE_COMPLETE") {
        this.stack = undefined;
        this.events = [];
        throw awsError("ValidationError", `Stack with id ${name} does not exist`);
      }
    }
    return {
      Stacks: [
        {
          StackName: this.stackName,
          StackId: s.id,
          StackStatus: s.status,
          EnableTerminationProtection: this.terminationProtection,
          Parameters: Object.entries(s.parameters).map(([k, v]) => ({ ParameterKey: k, ParameterValue: v })),
          Outputs: Object.entries(this.outputs()).map(([k, v]) => ({ OutputKey: k, OutputValue: v })),
        },
      ],
    };
  }

  private outputs(): Record<string, string> {
    return {
      [OutputName.serviceUrl]: "http://tracking.example.test",
      [OutputName.loadBalancerDns]: "tracking.example.test",
      [OutputName.executionRoleArn]: `arn:aws:iam::${ACCOUNT}:role/execution`,
      [OutputName.taskRoleArn]: `arn:aws:iam::${ACCOUNT}:role/task`,
      [OutputName.logGroupName]: "/mlflow-dev/tracking/staging",
      [OutputName.databaseEndpoint]: "db.example.test",
      [OutputName.taskSubnetIds]: "subnet-1,subnet-2",
      [OutputName.taskSecurityGroupId]: "sg-1",
    };
  }

  private describeStackEvents(name: string, token: string | undefined) {
    if (!this.stack || (name !== this.stackName && name !== this.stack.id))
      throw awsError("ValidationError", `Stack [${name}] does not exist`);
    const newestFirst = [...this.events].reverse();
    const start = token ? Number(token) : 0;
    const page = newestFirst.slice(start, start + this.pageSize);
    const next = start + this.pageSize < newestFirst.length ? String(start + this.pageSize) : undefined;
    return { StackEvents: page, ...(next ? { NextToken: next } : {}) };
  }

  private createChangeSet(input: CreateChangeSetCommandInput) {
    const type = input.ChangeSetType ?? "UPDATE";
    if (type !== "UPDATE" && this.stack && this.stack.status !== "REVIEW_IN_PROGRESS")
      throw awsError("AlreadyExistsException", `Stack [${this.stackName}] already exists`);
    if (type === "UPDATE" && !this.stack) throw awsError("ValidationError", `Stack [${this.stackName}] does not exist`);
    if (!this.stack) {
      this.givenStack("REVIEW_IN_PROGRESS");
      this.addEvent(this.stackName, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS");
    }
    this.changeSetSeq++;
    const name = input.ChangeSetName ?? "";
    const id = `arn:aws:cloudformation:${this.model.target.region}:${ACCOUNT}:changeSet/${name}/${this.changeSetSeq}`;
    let changes: FakeChangeSet["changes"];
    if (type === "IMPORT") changes = [{ logicalId: "ArtifactBucket", type: "AWS::S3::Bucket", action: "Import" }];
    else if (name.startsWith("mlflow-dev-rollout-")) {
      const wanted = input.Parameters?.find((p) => p.ParameterKey === ParameterName.taskDefinitionArn)?.ParameterValue;
      changes =
        wanted !== this.stack?.parameters[ParameterName.taskDefinitionArn]
          ? [{ logicalId: "Service", type: "AWS::ECS::Service", action: this.service ? "Modify" : "Add" }]
          : [];
    } else {
      changes = [...this.infraChanges];
      // A new DatabaseSnapshot replaces the DB instance, as DBSnapshotIdentifier does on AWS.
      const snapshot = input.Parameters?.find((p) => p.ParameterKey === ParameterName.databaseSnapshot);
      if (
        snapshot &&
        !snapshot.UsePreviousValue &&
        snapshot.ParameterValue !== (this.stack?.parameters[ParameterName.databaseSnapshot] ?? "")
      )
        changes.push({
          logicalId: "Database",
          type: "AWS::RDS::DBInstance",
          action: "Modify",
          replacement: "True",
          details: [
            {
              Target: { Attribute: "Properties", Name: "DBSnapshotIdentifier", RequiresRecreation: "Always" },
              Evaluation: "Static",
              ChangeSource: "ParameterReference",
              CausingEntity: ParameterName.databaseSnapshot,
            },
          ],
        });
    }
    this.changeSets.set(id, { id, name, input, changes });
    return { Id: id, StackId: this.stack?.id };
  }

  private describeChangeSet(id: string) {
    const cs = this.changeSets.get(id);
    if (!cs) throw awsError("ChangeSetNotFound", `ChangeSet [${id}] does not exist`);
    if (cs.changes.length === 0)
      return {
        Status: "FAILED",
        StatusReason:
          "The submitted information didn't contain changes. Submit different information to create a change set.",
      };
    return {
      Status: "CREATE_COMPLETE",
      StackId: this.stack?.id,
      Changes: cs.changes.map((c) => ({
        Type: "Resource",
        ResourceChange: {
          Action: c.action,
          LogicalResourceId: c.logicalId,
          ResourceType: c.type,
          ...(c.replacement ? { Replacement: c.replacement } : {}),
          Details: c.details ?? [],
        },
      })),
    };
  }

  private executeChangeSet(id: string) {
    const cs = this.changeSets.get(id);
    const stack = this.stack;
    if (!cs || !stack) throw awsError("ChangeSetNotFound", `ChangeSet [${id}] does not exist`);
    this.changeSets.delete(id);
    const type = cs.input.ChangeSetType ?? "UPDATE";
    const denied = type === "UPDATE" ? cs.changes.find((c) => this.deniedByPolicy(c)) : undefined;
    if (denied) {
      // CloudFormation checks the stack policy per resource during the update: it fails and rolls back.
      this.transition("UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE");
      this.addEvent(denied.logicalId, denied.type, "UPDATE_FAILED");
      return {};
    }
    if (this.failInfraUpdate && type === "UPDATE" && cs.name.startsWith("mlflow-dev-infra-")) {
      // A resource fails: the update rolls back, the stack keeps its parameters and resources.
      this.transition("UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE");
      for (const c of cs.changes) this.addEvent(c.logicalId, c.type, "UPDATE_FAILED");
      return {};
    }
    const previous = { ...stack.parameters };
    for (const p of cs.input.Parameters ?? [])
      if (p.ParameterKey && !p.UsePreviousValue) stack.parameters[p.ParameterKey] = p.ParameterValue ?? "";
    const wanted = stack.parameters[ParameterName.taskDefinitionArn];
    const changed = wanted !== previous[ParameterName.taskDefinitionArn];
    if (type === "UPDATE" && changed && wanted && this.stopCauseOf(wanted) && !this.serviceUpdateReturnsAtOnce) {
      // CloudFormation waits for the deployment: one failed launch per look until the breaker trips.
      this.transition("UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE");
      this.addEvent("Service", "AWS::ECS::Service", "UPDATE_IN_PROGRESS");
      this.rollout = { arn: wanted, previous, failures: 0 };
      this.deploy(wanted);
      return {};
    }
    const verb = type === "CREATE" ? "CREATE" : type === "IMPORT" ? "IMPORT" : "UPDATE";
    this.transition(`${verb}_IN_PROGRESS`, `${verb}_COMPLETE`);
    for (const c of cs.changes) {
      this.addEvent(c.logicalId, c.type, `${verb}_IN_PROGRESS`);
      this.addEvent(c.logicalId, c.type, `${verb}_COMPLETE`);
    }
    if (cs.name.startsWith("mlflow-dev-infra-")) this.infraChanges = [];
    const arn = stack.parameters[ParameterName.taskDefinitionArn];
    if (arn && arn !== this.service?.taskDefinition) this.deploy(arn);
    return {};
  }

  /** The stack policy's Deny statements against a replacement or removal of the resource. */
  private deniedByPolicy(c: FakeChange): boolean {
    const action =
      c.action === "Remove"
        ? "Update:Delete"
        : c.action === "Modify" && (c.replacement === "True" || c.replacement === "Conditional")
          ? "Update:Replace"
          : undefined;
    if (!action || !this.stackPolicy) return false;
    const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
    const policy = JSON.parse(this.stackPolicy) as {
      Statement: { Effect: string; Action: string | string[]; Resource: string | string[] }[];
    };
    return policy.Statement.some(
      (st) =>
        st.Effect === "Deny" &&
        list(st.Action).some((a) => a === action || a === "Update:*") &&
        list(st.Resource).some((r) => r === "*" || r === `LogicalResourceId/${c.logicalId}`),
    );
  }

  /** Why a task of the revision stops (its image is broken), or undefined. */
  private stopCauseOf(arn: string): StopCause | undefined {
    const image = ((this.taskDefinitions.get(arn)?.containerDefinitions as { image?: string }[] | undefined) ?? [])[0]
      ?.image;
    return image === undefined ? undefined : this.brokenImages.get(image);
  }

  /** A task of the revision stopped, as ECS records it. */
  private stopTask(arn: string, cause: StopCause): void {
    const n = this.stoppedTasks.length + 1;
    this.stoppedTasks.push({
      taskArn: `arn:aws:ecs:${this.model.target.region}:${ACCOUNT}:task/${clusterName(this.model)}/stopped-${n}`,
      taskDefinitionArn: arn,
      lastStatus: "STOPPED",
      stoppedReason: cause.stoppedReason,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 1, n)),
      containers: [
        { ...(cause.containerReason ? { reason: cause.containerReason } : {}), exitCode: cause.exitCode ?? 0 },
      ],
    });
  }

  /**
   * One look at the stack while CloudFormation waits for a broken revision: another task launch
   * fails; at the circuit breaker's threshold the service fails and the stack rolls back.
   */
  private launchFails(): void {
    const r = this.rollout;
    const stack = this.stack;
    const dep = this.service?.deployments?.[0];
    if (!r || !stack || !dep) return;
    r.failures++;
    dep.failedTasks = r.failures;
    this.stopTask(r.arn, this.stopCauseOf(r.arn) ?? EXITED);
    if (this.stuck || r.failures < circuitBreakerThreshold(this.service?.desiredCount ?? 0)) return;
    dep.rolloutState = "FAILED";
    dep.rolloutStateReason = `ECS deployment circuit breaker was triggered after ${r.failures} consecutive task failures.`;
    this.addEvent(
      "Service",
      "AWS::ECS::Service",
      "UPDATE_FAILED",
      "Resource handler returned message: \"Error occurred during operation 'ECS Deployment Circuit Breaker was triggered'.\" (HandlerErrorCode: GeneralServiceException)",
    );
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS";
    this.addEvent(this.stackName, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_IN_PROGRESS");
    // The previous parameters again: the service goes back to the previous revision (or away).
    stack.parameters = r.previous;
    const previous = r.previous[ParameterName.taskDefinitionArn];
    const failed = { ...dep, status: "ACTIVE", runningCount: 0, desiredCount: 0 };
    if (previous) {
      this.deploy(previous);
      this.service?.deployments?.push(failed);
    } else this.service = undefined;
    this.addEvent("Service", "AWS::ECS::Service", "UPDATE_IN_PROGRESS");
    this.addEvent("Service", "AWS::ECS::Service", "UPDATE_COMPLETE");
    stack.pending = 1;
    this.rollout = undefined;
  }

  /** The service starts a deployment of the revision; one of a broken image fails its task. */
  private deploy(arn: string): void {
    const cause = this.stopCauseOf(arn);
    const broken = cause !== undefined;
    if (cause && this.serviceUpdateReturnsAtOnce) this.stopTask(arn, cause);
    const desired = this.service?.desiredCount ?? this.model.target.desiredCount;
    this.service = {
      serviceName: serviceName(this.model),
      status: "ACTIVE",
      taskDefinition: arn,
      desiredCount: desired,
      runningCount: broken ? 0 : desired,
      events: [{ id: `svc-${arn}`, message: `(service ${serviceName(this.model)}) has started a deployment` }],
      deployments: [
        {
          status: "PRIMARY",
          taskDefinition: arn,
          desiredCount: desired,
          runningCount: broken ? 0 : desired,
          pendingCount: 0,
          failedTasks: broken && this.serviceUpdateReturnsAtOnce ? 1 : 0,
          rolloutState: broken ? "IN_PROGRESS" : "COMPLETED",
        },
      ],
    };
  }

  private describeService(): Service {
    return this.service as Service;
  }

  private taskDefinition(ref: string): Record<string, unknown> | undefined {
    if (ref.startsWith("arn:")) return this.taskDefinitions.get(ref);
    const revision = this.revisions.get(ref);
    return revision
      ? this.taskDefinitions.get(
          `arn:aws:ecs:${this.model.target.region}:${ACCOUNT}:task-definition/${ref}:${revision}`,
        )
      : undefined;
  }

  /** The revision of the server's family the service runs. */
  serviceRevision(): string | undefined {
    return this.service?.taskDefinition?.split("/").pop();
  }

  serverFamily(): string {
    return taskFamily(this.model);
  }
}

/** The changes of a change set in test/recorded, as the fake's next infrastructure change set. */
export function recordedChanges(name: string): FakeChange[] {
  const body = JSON.parse(readFileSync(new URL(`./recorded/change-set-${name}.json`, import.meta.url), "utf8")) as {
    Changes: {
      ResourceChange: {
        Action: string;
        LogicalResourceId: string;
        ResourceType: string;
        Replacement?: string;
        Details: Record<string, unknown>[];
      };
    }[];
  };
  return body.Changes.map(({ ResourceChange: rc }) => ({
    logicalId: rc.LogicalResourceId,
    type: rc.ResourceType,
    action: rc.Action,
    ...(rc.Replacement ? { replacement: rc.Replacement } : {}),
    details: rc.Details,
  }));
}
