import { describeImageOrigin, type SecretName, type VersionChange } from "@mlflow-dev/spec";
import { type CostEstimate, estimateMonthlyCost, formatCost } from "../pricing/cost.ts";
import type { AwsModel } from "../render/aws-model.ts";
import { toTemplate } from "../render/cloudformation/template.ts";
import { deployContextFromStack } from "../render/context.ts";
import { describeFailureDetection, type FailureDetection, failureDetectionBound } from "../render/failure-detection.ts";
import { OutputName, stackName } from "../render/names.ts";
import { describeRolloutStep, type RolloutStep, toRolloutPlan } from "../render/rollout-steps.ts";
import { toTaskDefinition } from "../render/task-definition.ts";
import {
  type FieldChange,
  formatChanges,
  formatFieldChange,
  type ResourceChange,
  summarizeChanges,
  taskDefinitionChanges,
} from "./diff.ts";
import { revisionOf } from "./engine/ecs-service.ts";
import type { AwsEngine } from "./engine/engine.ts";
import { plannedImage } from "./engine/image.ts";
import { formatVerdicts, type PreflightVerdict } from "./engine/preflight-account.ts";
import { databaseSnapshotParameter, stackParameters } from "./engine/stack-info.ts";
import type { RunnerOptions } from "./options.ts";
import { planStackAction } from "./stack-status.ts";
import {
  checkAllowReplace,
  classifyStatefulChanges,
  formatStatefulChange,
  refusedStatefulChanges,
  type StatefulChange,
} from "./stateful.ts";
import { serviceVersionChange } from "./upgrade.ts";

export interface PlanOptions extends RunnerOptions {
  specDir: string;
  /** Stateful resources (logical ids) promote would be allowed to replace or remove (`--allow-replace`). */
  allowReplace?: readonly string[];
}

export interface PlanResult {
  environment: string;
  stack: string;
  region: string;
  account: string;
  /** create: the stack does not exist; update: a change set was computed; blocked: the stack is busy or broken. */
  stackAction: "create" | "update" | "blocked";
  stackStatus?: string;
  secrets: { name: string; action: "create" | "keep" | "restore" }[];
  infrastructure: ResourceChange[];
  /** Changes that replace or remove a resource holding data (the database, the bucket, what they stand on). */
  stateful: StatefulChange[];
  /** The stateful changes not allowed by --allow-replace: promote refuses them (and plan exits 2). */
  refused: StatefulChange[];
  image: string;
  /** Where the image reference came from: the spec, the default, a build, or an override variable. */
  imageOrigin: string;
  service: {
    action: "create" | "update" | "unchanged";
    currentTaskDefinition?: string;
    changes: FieldChange[];
  };
  /** The MLflow version the service runs against the spec's (an upgrade is done with downtime). */
  mlflowVersion: VersionChange;
  /** The steps promote runs, in order (the plan it executes). */
  rollout: RolloutStep[];
  /** How long AWS takes to detect and roll back a broken revision of this service (render/failure-detection.ts). */
  failureDetection: FailureDetection;
  /** Nothing would change. */
  upToDate: boolean;
  /** What the environment costs a month, from the price table (no AWS call). */
  cost: CostEstimate;
  /** The account checks' verdicts (a failed one stops plan before this result). */
  preflight: PreflightVerdict[];
}

/**
 * What promote would do, with nothing applied: the secrets it would create, the CloudFormation
 * change set (computed by CloudFormation, then deleted), and the task-definition fields that change.
 */
export async function plan(model: AwsModel, engine: AwsEngine, options: PlanOptions): Promise<PlanResult> {
  const { report } = options;
  const target = model.target;
  checkAllowReplace(options.allowReplace ?? []);
  report.step("checks");
  const identity = await engine.preflight(model);
  const verdicts = await engine.accountPreflight(model, "plan");
  const name = stackName(model);

  report.step("secrets");
  const secretStatus = await engine.describeSecrets(model);
  const secrets = secretStatus.map((s) => ({
    name: s.id,
    action: (s.state === "exists" ? "keep" : s.state === "missing" ? "create" : "restore") as
      | "create"
      | "keep"
      | "restore",
  }));

  report.step(`infrastructure: stack ${name}`);
  const stack = await engine.describeStack(name);
  const stackAction = planStackAction(stack);
  const template = toTemplate(model);
  let infrastructure: ResourceChange[] = [];
  if (stackAction === "create") {
    infrastructure = Object.entries(template.Resources).map(([logicalId, r]) => ({
      action: "Add",
      logicalId,
      type: r.Type,
      details: r.Condition ? ["on the first rollout"] : [],
    }));
  } else if (stackAction === "update") {
    const secretArns: Partial<Record<SecretName, string>> = {};
    for (const s of secretStatus) if (s.arn) secretArns[s.name] = s.arn;
    const changeSet = await engine.prepareChangeSet(
      {
        stackName: name,
        type: "UPDATE",
        templateBody: JSON.stringify(template),
        parameters: stackParameters(model, secretArns, { usePrevious: true }, databaseSnapshotParameter(stack)),
        model,
        description: "mlflow-dev plan: computed to show the changes, then deleted",
      },
      "plan",
    );
    if (!changeSet.empty) await engine.discardChangeSet(name, changeSet);
    infrastructure = changeSet.changes;
  }

  report.step("service");
  const outputs = stack?.outputs ?? {};
  const image = plannedImage(model, outputs, options.specDir);
  const service: PlanResult["service"] = { action: "create", changes: [] };
  let mlflowVersion: VersionChange = { kind: "first", to: model.mlflow.version };
  if (stackAction === "update" && outputs[OutputName.executionRoleArn]) {
    const existing = await engine.describeService(model);
    const secretArns: Partial<Record<SecretName, string>> = {};
    for (const s of secretStatus) if (s.arn) secretArns[s.name] = s.arn;
    const desired = toTaskDefinition(model, deployContextFromStack({ outputs, imageUri: image, secretArns }));
    if (existing?.taskDefinition) {
      const current = await engine.describeTaskDefinition(existing.taskDefinition);
      mlflowVersion = serviceVersionChange(current, model);
      service.currentTaskDefinition = existing.taskDefinition;
      service.changes = taskDefinitionChanges(current, desired);
      service.action = service.changes.length ? "update" : "unchanged";
    }
  }
  const stateful = classifyStatefulChanges(infrastructure, model.environment);
  const result: PlanResult = {
    environment: model.environment,
    stack: name,
    region: target.region,
    account: identity.account,
    stackAction,
    ...(stack ? { stackStatus: stack.status } : {}),
    secrets,
    infrastructure,
    stateful,
    refused: refusedStatefulChanges(stateful, options.allowReplace ?? []),
    image,
    imageOrigin: describeImageOrigin(model.mlflow.image, model.mlflow.version),
    service,
    mlflowVersion,
    rollout: toRolloutPlan(model, { imageUri: image }),
    failureDetection: failureDetectionBound(model),
    upToDate:
      stackAction === "update" &&
      infrastructure.length === 0 &&
      service.action === "unchanged" &&
      secrets.every((s) => s.action === "keep"),
    cost: estimateMonthlyCost(model),
    preflight: verdicts,
  };
  return result;
}

/** The plan for humans: one section per part, + ~ - per change, and a summary line. */
export function formatPlan(p: PlanResult): string {
  const out: string[] = [];
  out.push(`plan for ${p.environment}: stack ${p.stack} in ${p.region}, account ${p.account}`);
  if (p.preflight?.length)
    out.push("", "preflight (the account, before anything is created):", ...formatVerdicts(p.preflight));
  out.push("", "secrets:");
  for (const s of p.secrets)
    out.push(
      s.action === "create"
        ? `  + ${s.name}  (generated on promote, never shown)`
        : s.action === "restore"
          ? `  < ${s.name}  (scheduled for deletion: restored with its value)`
          : `    ${s.name}  (exists, kept)`,
    );
  out.push(
    "",
    `infrastructure (${p.stackAction === "create" ? "new stack" : p.stackAction === "update" ? "CloudFormation change set" : `stack is ${p.stackStatus}: no change set`}):`,
  );
  if (p.infrastructure.length === 0) out.push("  no changes");
  else out.push(...formatChanges(p.infrastructure).map((l) => `  ${l}`));
  for (const s of p.stateful)
    out.push(
      `  ! ${formatStatefulChange(s)} ${p.refused.some((r) => r.logicalId === s.logicalId) ? `promote refuses it without --allow-replace ${s.logicalId}` : "Allowed by --allow-replace."}`,
    );
  out.push("", "service:");
  out.push(`  image ${p.image} (${p.imageOrigin})`);
  const v = p.mlflowVersion;
  if (v.kind === "upgrade")
    out.push(
      `  ! MLflow upgrade ${v.from} -> ${v.to}: promote takes an RDS snapshot, scales the service to zero (no server answers until the new revision is healthy), runs the migration, then rolls out`,
    );
  if (v.kind === "downgrade")
    out.push(`  ! MLflow downgrade ${v.from} -> ${v.to}: promote refuses it (MLflow cannot run on a newer schema)`);
  if (p.service.action === "create") out.push("  + task definition and service created on the first rollout");
  else if (p.service.action === "unchanged")
    out.push(`    runs ${revisionOf(p.service.currentTaskDefinition)}: no changes`);
  else {
    out.push(
      `  ~ new revision replacing ${revisionOf(p.service.currentTaskDefinition)}; the migration task runs first:`,
    );
    out.push(...p.service.changes.map((c) => `      ${formatFieldChange(c)}`));
  }
  if (p.rollout?.length) {
    out.push("", "rollout (the steps promote runs, in this order):");
    out.push(...p.rollout.map((s, i) => `  ${i + 1}. ${describeRolloutStep(s)}`));
  }
  if (p.cost) out.push("", ...formatCost(p.cost));
  if (p.failureDetection) {
    out.push("", "failure detection (on AWS, from the health checks and the circuit breaker):");
    out.push(...describeFailureDetection(p.failureDetection).map((l) => `  ${l}`));
  }
  out.push(
    "",
    p.upToDate
      ? "no changes: promote would change nothing"
      : `summary: ${p.secrets.filter((s) => s.action !== "keep").length} secret(s) to create or restore; infrastructure ${summarizeChanges(p.infrastructure)}; service ${p.service.action === "unchanged" ? "unchanged" : p.service.action === "create" ? "created on the first rollout" : "new revision"}`,
  );
  return `${out.join("\n")}\n`;
}
