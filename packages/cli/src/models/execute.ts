import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { poll } from "@mlflow-dev/kernel/wait";
import {
  artifactPath,
  createLoggedModel,
  createModelVersion,
  createRegisteredModel,
  deleteRun,
  finalizeLoggedModel,
  getExperimentRecordByName,
  getLoggedModel,
  getMetricHistory,
  getModelVersion,
  getRegisteredModel,
  getRunRecord,
  listArtifactFiles,
  logBatch,
  logInputs,
  logOutputs,
  type MlflowClient,
  MlflowRestError,
  type ModelVersion,
  type Run,
  type StreamedFile,
  searchModelVersions,
  searchRuns,
  serverVersion,
  setRegisteredModelAlias,
  setRunTag,
  TransportError,
} from "@mlflow-dev/mlflow-client";
import { parse as parseYaml } from "yaml";
import {
  copyPlan,
  type DestinationState,
  describeStep as describe,
  digestInput,
  LINEAGE,
  PlanError,
  type PromotePlan,
  SOURCE_MODEL,
  type Step,
} from "./plan.ts";
import { readSource, type VersionRef } from "./read-source.ts";
import type { SourceRecord } from "./source.ts";

/**
 * The executor of `models promote`: reads the source, checks the destination, makes the copy
 * plan and performs it, verifying the copy before it registers a version. Every write goes
 * through `write()`, which counts it (the report's `writes`).
 */

export interface PromoteReport {
  outcome: "promoted" | "already-promoted" | "dry-run" | "verification-failed";
  from: string;
  to: string;
  model: string;
  sourceVersion: string;
  digest: string;
  /** The destination's version (the new one, or the one found by its digest). */
  version?: string;
  runId?: string;
  modelId?: string;
  alias?: string;
  writes: number;
  steps: string[];
  copied?: { params: number; tags: number; metricPoints: number; datasets: number; files: number; bytes: number };
  notPreserved: string[];
  problems: string[];
}

export interface PromoteOptions {
  from: { environment: string; client: MlflowClient };
  to: { environment: string; client: MlflowClient };
  name: string;
  ref: VersionRef;
  setAlias?: string;
  dryRun?: boolean;
  progress?: (line: string) => void;
}

/** The destination can not be used (unreachable, refused credentials): nothing was written. */
export class DestinationError extends Error {
  readonly hint: string;
  readonly invalidInput: boolean;
  constructor(message: string, hint: string, invalidInput: boolean) {
    super(message);
    this.name = "DestinationError";
    this.hint = hint;
    this.invalidInput = invalidInput;
  }
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

async function checkDestination(client: MlflowClient, environment: string): Promise<string> {
  let health: number;
  try {
    health = (await client.request("GET", "/health")).status;
  } catch (e) {
    throw new DestinationError(
      `cannot reach ${environment} at ${client.baseUrl}: ${e instanceof TransportError ? (e.code ?? e.message) : String(e)}`,
      `Check that it runs (mlflow-dev status${environment === "local" ? "" : ` --env ${environment}`}).`,
      false,
    );
  }
  if (health !== 200)
    throw new DestinationError(
      `${environment} answers /health with HTTP ${health}`,
      "Wait until it is healthy.",
      false,
    );
  const v = await serverVersion(client);
  if (v.status === 401 || v.status === 403)
    throw new DestinationError(
      `${environment} refused the credentials mlflow-dev holds for it (HTTP ${v.status})`,
      "The admin password was changed outside mlflow-dev, or the server's auth differs from the spec.",
      true,
    );
  if (v.status !== 200) throw new DestinationError(`${environment} answers /version with HTTP ${v.status}`, "", false);
  return v.version;
}

async function readDestination(
  client: MlflowClient,
  source: SourceRecord,
  version: string,
  digest: string,
): Promise<DestinationState> {
  const experiment = await getExperimentRecordByName(client, source.experiment.name);
  const registeredModel = await getRegisteredModel(client, source.version.name);
  const quoted = (s: string) => `'${s.replaceAll("'", "\\'")}'`;
  const promoted = registeredModel
    ? (
        await searchModelVersions(
          client,
          `name=${quoted(source.version.name)} and tags.\`${LINEAGE.digest}\`=${quoted(digest)}`,
        )
      ).sort((a, b) => Number(a.version) - Number(b.version))[0]
    : undefined;
  const partial =
    experiment && !promoted
      ? await searchRuns(client, [experiment.experiment_id], `tags.\`${LINEAGE.digest}\` = ${quoted(digest)}`)
      : [];
  return {
    serverVersion: version,
    ...(experiment
      ? {
          experiment: {
            experimentId: experiment.experiment_id,
            ...(experiment.lifecycle_stage ? { lifecycleStage: experiment.lifecycle_stage } : {}),
          },
        }
      : {}),
    ...(registeredModel ? { registeredModel } : {}),
    ...(promoted ? { promoted } : {}),
    partialRuns: partial.map((r) => ({
      runId: r.info.run_id,
      ...tagOf(r, LINEAGE.stage),
    })),
  };
}

const tagOf = (r: Run, key: string) => {
  const value = r.data.tags?.find((t) => t.key === key)?.value;
  return value === undefined ? {} : { stage: value };
};

interface CopyState {
  experimentId?: string;
  runId?: string;
  runArtifactUri?: string;
  modelId?: string;
  modelArtifactUri?: string;
  /** sha256 and size of each source file copied in this process, by "run:" or "model:" plus path. */
  hashes: Map<string, StreamedFile>;
  /** The version registered in this process. */
  version?: string;
  bytes: number;
  files: number;
}

export async function promoteModel(options: PromoteOptions): Promise<PromoteReport> {
  const { from, to, name } = options;
  const say = options.progress ?? (() => {});
  say(
    `reading ${name} ${"alias" in options.ref ? `@${options.ref.alias}` : `version ${options.ref.version}`} from ${from.environment}`,
  );
  const source = await readSource(from.client, from.environment, name, options.ref);
  say(`checking ${to.environment} (${to.client.baseUrl})`);
  const destVersion = await checkDestination(to.client, to.environment);
  const digest = sha256(digestInput(source));
  const state = await readDestination(to.client, source, destVersion, digest);
  const plan = copyPlan(source, state, { digest, ...(options.setAlias ? { setAlias: options.setAlias } : {}) });
  const report = baseReport(options, source, plan);
  if (plan.outcome === "already-promoted") report.version = plan.version.version;
  if (options.dryRun) return { ...report, outcome: "dry-run" };
  let writes = 0;
  const write = async <T>(p: Promise<T>): Promise<T> => {
    writes++;
    return p;
  };
  if (plan.outcome === "already-promoted") {
    for (const step of plan.steps)
      if (step.do === "set-alias")
        await write(setRegisteredModelAlias(to.client, name, step.alias, plan.version.version));
    return { ...report, writes, ...(options.setAlias ? { alias: options.setAlias } : {}) };
  }
  const work = mkdtempSync(join(tmpdir(), "mlflow-dev-promote-"));
  const copy: CopyState = { hashes: new Map(), bytes: 0, files: 0 };
  if (state.experiment) copy.experimentId = state.experiment.experimentId;
  if (plan.resumeRun) {
    const run = await getRunRecord(to.client, plan.resumeRun);
    copy.runId = plan.resumeRun;
    copy.runArtifactUri = run?.info.artifact_uri ?? "";
    const modelOut = run?.outputs?.model_outputs?.[0]?.model_id;
    const models = source.loggedModel && modelOut ? await getLoggedModel(to.client, modelOut) : undefined;
    if (models) {
      copy.modelId = models.info.model_id;
      copy.modelArtifactUri = models.info.artifact_uri;
    }
    say(`resuming the copy in run ${plan.resumeRun}`);
  }
  try {
    for (const step of plan.steps) {
      say(describe(step));
      const failed = await perform(step, { source, to: to.client, from: from.client, copy, work, write, say });
      if (failed) {
        if (copy.runId)
          await write(setRunTag(to.client, copy.runId, { key: LINEAGE.stage, value: "failed-verification" }));
        return {
          ...report,
          outcome: "verification-failed",
          writes,
          problems: failed,
          ...(copy.runId ? { runId: copy.runId } : {}),
        };
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return {
    ...report,
    outcome: "promoted",
    writes,
    ...(copy.version ? { version: copy.version } : {}),
    ...(copy.runId ? { runId: copy.runId } : {}),
    ...(copy.modelId ? { modelId: copy.modelId } : {}),
    ...(options.setAlias ? { alias: options.setAlias } : {}),
    copied: {
      params: source.run.data.params?.length ?? 0,
      tags: plan.steps.reduce((n, s) => n + (s.do === "log-batch" ? s.tags.length : 0), 0),
      metricPoints: Object.values(source.metricHistory).reduce((n, h) => n + h.length, 0),
      datasets: source.run.inputs?.dataset_inputs?.length ?? 0,
      files: copy.files,
      bytes: copy.bytes,
    },
  };
}

function baseReport(options: PromoteOptions, source: SourceRecord, plan: PromotePlan): PromoteReport {
  return {
    outcome: plan.outcome === "already-promoted" ? "already-promoted" : "promoted",
    from: options.from.environment,
    to: options.to.environment,
    model: options.name,
    sourceVersion: source.version.version,
    digest: plan.digest,
    writes: 0,
    steps: plan.steps.map(describe),
    notPreserved: plan.outcome === "copy" ? plan.notPreserved : [],
    problems: [],
  };
}

interface StepContext {
  source: SourceRecord;
  from: MlflowClient;
  to: MlflowClient;
  copy: CopyState;
  work: string;
  write: <T>(p: Promise<T>) => Promise<T>;
  say: (line: string) => void;
}

/** Performs one step; returns the problems when a verification fails. */
async function perform(step: Step, ctx: StepContext): Promise<string[] | undefined> {
  const { to, copy, write, source } = ctx;
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined || v === "") throw new Error(`models promote: ${what} is not known before step ${step.do}`);
    return v;
  };
  switch (step.do) {
    case "create-experiment":
      copy.experimentId = await write(to.createExperiment(step.name));
      return;
    case "restore-experiment":
      await write(to.restoreExperiment(need(copy.experimentId, "the experiment")));
      return;
    case "abandon-run":
      await write(deleteRun(to, step.runId));
      return;
    case "create-run": {
      const r = await write(
        to.call<{ run: Run }>("POST", "runs/create", {
          experiment_id: need(copy.experimentId, "the experiment"),
          run_name: step.runName,
          start_time: step.startTime,
          tags: step.tags,
        }),
      );
      copy.runId = r.run.info.run_id;
      copy.runArtifactUri = r.run.info.artifact_uri ?? "";
      return;
    }
    case "create-logged-model": {
      const m = await write(
        createLoggedModel(to, {
          experiment_id: need(copy.experimentId, "the experiment"),
          name: step.name,
          ...(step.modelType ? { model_type: step.modelType } : {}),
          source_run_id: need(copy.runId, "the run"),
          params: step.params,
          tags: step.tags,
        }),
      );
      copy.modelId = m.info.model_id;
      copy.modelArtifactUri = m.info.artifact_uri;
      return;
    }
    case "log-batch":
      await write(
        logBatch(to, need(copy.runId, "the run"), {
          params: step.params,
          tags: step.tags,
          metrics: step.metrics.map((m) =>
            m.model_id === SOURCE_MODEL ? { ...m, model_id: need(copy.modelId, "the logged model") } : m,
          ),
        }),
      );
      return;
    case "log-inputs":
      await write(logInputs(to, need(copy.runId, "the run"), step.datasets));
      return;
    case "copy-artifacts": {
      const fromRoot =
        step.scope === "run" ? (source.run.info.artifact_uri ?? "") : (source.loggedModel?.info.artifact_uri ?? "");
      const toRoot =
        step.scope === "run"
          ? need(copy.runArtifactUri, "the run's artifact URI")
          : need(copy.modelArtifactUri, "the logged model's artifact URI");
      for (const f of step.files) {
        const file = join(ctx.work, "artifact");
        const got = await ctx.from.downloadArtifactToFile(artifactPath(fromRoot, f.path), file);
        if (got.bytes !== Number(f.file_size ?? got.bytes))
          throw new Error(`source artifact ${f.path} is ${got.bytes} bytes, its listing said ${f.file_size}`);
        const sent = await write(to.uploadArtifactFromFile(artifactPath(toRoot, f.path), file));
        if (sent.sha256 !== got.sha256) throw new Error(`artifact ${f.path} changed on disk while it was copied`);
        copy.hashes.set(`${step.scope}:${f.path}`, got);
        copy.bytes += got.bytes;
        copy.files++;
        rmSync(file, { force: true });
      }
      return;
    }
    case "finalize-logged-model":
      await write(finalizeLoggedModel(to, need(copy.modelId, "the logged model")));
      return;
    case "log-outputs":
      await write(
        logOutputs(to, need(copy.runId, "the run"), [
          { model_id: need(copy.modelId, "the logged model"), step: step.step },
        ]),
      );
      return;
    case "end-run":
      await write(to.updateRun(need(copy.runId, "the run"), step.status as "FINISHED", step.endTime));
      return;
    case "mark-run":
      await write(setRunTag(to, need(copy.runId, "the run"), step.tag));
      return;
    case "verify": {
      const problems = await verify(ctx);
      return problems.length ? problems : undefined;
    }
    case "create-registered-model":
      try {
        await write(
          createRegisteredModel(to, step.name, {
            ...(step.description ? { description: step.description } : {}),
            tags: step.tags,
          }),
        );
      } catch (e) {
        // Created since the destination was read (another promotion of the same model): use it.
        if (!(e instanceof MlflowRestError && e.errorCode === "RESOURCE_ALREADY_EXISTS")) throw e;
      }
      return;
    case "create-model-version": {
      const sourceUri =
        step.source.kind === "logged-model"
          ? `models:/${need(copy.modelId, "the logged model")}`
          : `runs:/${need(copy.runId, "the run")}/${step.source.path}`;
      const mv = await write(
        createModelVersion(to, {
          name: step.name,
          source: sourceUri,
          run_id: need(copy.runId, "the run"),
          ...(step.source.kind === "logged-model" ? { model_id: need(copy.modelId, "the logged model") } : {}),
          ...(step.description ? { description: step.description } : {}),
          tags: step.tags,
        }),
      );
      await waitReady(to, mv);
      copy.version = mv.version;
      return;
    }
    case "set-alias": {
      await write(setRegisteredModelAlias(to, step.name, step.alias, need(copy.version, "the new version")));
      return;
    }
  }
}

async function waitReady(client: MlflowClient, mv: ModelVersion): Promise<void> {
  let looked = false;
  await poll({
    intervalMs: 500,
    // The count decides (as many looks as before); the time is a bound on slow answers.
    timeoutMs: 300_000,
    maxAttempts: 121,
    check: async () => {
      if (looked) {
        const again = await getModelVersion(client, mv.name, mv.version);
        if (again?.status) mv.status = again.status;
      }
      looked = true;
      return mv.status === "PENDING_REGISTRATION" ? undefined : true;
    },
  });
  if (mv.status !== "READY") throw new Error(`version ${mv.version} of ${mv.name} is ${mv.status} on the destination`);
}

/** The copy against the source: files (paths, sizes, sha256), params, metric point counts, MLmodel. */
async function verify(ctx: StepContext): Promise<string[]> {
  const { source, to, copy } = ctx;
  const problems: string[] = [];
  const runId = copy.runId ?? "";
  const run = await getRunRecord(to, runId);
  if (!run) return [`the destination's run ${runId} is gone`];
  const params = (r: { data: { params?: { key: string; value: string }[] } }) =>
    JSON.stringify([...(r.data.params ?? [])].map((p) => [p.key, p.value]).sort());
  if (params(run) !== params(source.run)) problems.push("params differ");
  for (const [key, history] of Object.entries(source.metricHistory)) {
    const got = (await getMetricHistory(to, runId, key)).length;
    if (got !== history.length) problems.push(`metric ${key}: ${got} points, the source has ${history.length}`);
  }
  const scopes: Array<["run" | "model", string, string, SourceRecord["runArtifacts"]]> = [
    ["run", source.run.info.artifact_uri ?? "", run.info.artifact_uri ?? "", source.runArtifacts],
  ];
  if (source.loggedModel)
    scopes.push([
      "model",
      source.loggedModel.info.artifact_uri,
      copy.modelArtifactUri ?? "",
      source.modelArtifacts ?? [],
    ]);
  for (const [scope, fromRoot, toRoot, files] of scopes) {
    if (!toRoot) {
      problems.push(`the destination's ${scope} has no artifact location`);
      continue;
    }
    const listed = await listArtifactFiles(to, toRoot);
    const want = files.map((f) => `${f.path}:${f.file_size ?? 0}`).join("\n");
    const got = listed.map((f) => `${f.path}:${f.file_size ?? 0}`).join("\n");
    if (want !== got) {
      problems.push(`${scope} artifacts: the list of files and sizes differs from the source's`);
      continue;
    }
    for (const f of files) {
      const file = join(ctx.work, "verify");
      const expected =
        copy.hashes.get(`${scope}:${f.path}`) ??
        (await ctx.from.downloadArtifactToFile(artifactPath(fromRoot, f.path), file));
      const actual = await to.downloadArtifactToFile(artifactPath(toRoot, f.path), file);
      if (actual.sha256 !== expected.sha256 || actual.bytes !== expected.bytes)
        problems.push(
          `${scope} artifact ${f.path}: sha256 ${actual.sha256.slice(0, 12)}..., the source's ${expected.sha256.slice(0, 12)}...`,
        );
      else if (f.path === "MLmodel" || f.path.endsWith("/MLmodel")) {
        const doc = parseYaml(readFileSync(file, "utf8")) as { flavors?: unknown } | null;
        if (!doc || typeof doc !== "object" || !doc.flavors)
          problems.push(`${scope} artifact ${f.path} has no flavors`);
      }
      rmSync(file, { force: true });
    }
  }
  if (problems.length === 0)
    ctx.say(`verified: ${scopes.reduce((n, s) => n + s[3].length, 0)} files (sha256), params, metric histories`);
  return problems;
}

export { MlflowRestError, PlanError };
