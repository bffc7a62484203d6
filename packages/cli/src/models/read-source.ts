import {
  getExperiment,
  getLoggedModel,
  getMetricHistory,
  getModelVersion,
  getModelVersionByAlias,
  getRegisteredModel,
  getRunRecord,
  listArtifactFiles,
  type MlflowClient,
  serverVersion,
} from "@mlflow-dev/mlflow-client";
import { PlanError } from "./plan.ts";
import { parseModelSource, type SourceRecord } from "./source.ts";

/** The version a promotion starts from: by number or by alias. */
export type VersionRef = { version: string } | { alias: string };

/** Reads everything the copy plan needs from the source (SOURCE_READS, in that order). */
export async function readSource(
  client: MlflowClient,
  environment: string,
  name: string,
  ref: VersionRef,
): Promise<SourceRecord> {
  const version = (await serverVersion(client)).version;
  const registeredModel = await getRegisteredModel(client, name);
  if (!registeredModel)
    throw new PlanError(
      `the source (${environment}) has no registered model ${name}`,
      "Check the name (it is case-sensitive).",
    );
  const mv =
    "alias" in ref
      ? await getModelVersionByAlias(client, name, ref.alias)
      : await getModelVersion(client, name, ref.version);
  if (!mv)
    throw new PlanError(
      `the source (${environment}) has no ${"alias" in ref ? `alias ${ref.alias}` : `version ${ref.version}`} of ${name}`,
      `Its aliases: ${(registeredModel.aliases ?? []).map((a) => `${a.alias} (version ${a.version})`).join(", ") || "none"}.`,
    );
  if (!mv.run_id)
    throw new PlanError(
      `version ${mv.version} of ${name} has no run`,
      "Only versions registered from a run (or a logged model of a run) carry the lineage a promotion copies.",
    );
  const run = await getRunRecord(client, mv.run_id);
  if (!run)
    throw new PlanError(
      `the run ${mv.run_id} of version ${mv.version} is gone from the source`,
      "It may have been deleted.",
    );
  const metricHistory: SourceRecord["metricHistory"] = {};
  for (const key of [...new Set((run.data.metrics ?? []).map((m) => m.key))].sort())
    metricHistory[key] = await getMetricHistory(client, run.info.run_id, key);
  const experiment = await getExperiment(client, run.info.experiment_id);
  if (!experiment)
    throw new PlanError(`the experiment ${run.info.experiment_id} of run ${run.info.run_id} is gone`, "");
  const runArtifacts = run.info.artifact_uri ? await listArtifactFiles(client, run.info.artifact_uri) : [];
  const record: SourceRecord = {
    environment,
    serverVersion: version,
    registeredModel,
    version: mv,
    run,
    metricHistory,
    experiment,
    runArtifacts,
  };
  const source = parseModelSource(mv, run);
  if (source?.kind === "logged-model") {
    const loggedModel = await getLoggedModel(client, source.modelId);
    if (loggedModel) {
      record.loggedModel = loggedModel;
      record.modelArtifacts = await listArtifactFiles(client, loggedModel.info.artifact_uri);
    }
  }
  return record;
}
