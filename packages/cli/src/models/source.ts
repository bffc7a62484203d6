import type {
  ArtifactFile,
  Experiment,
  LoggedModel,
  MetricPoint,
  ModelVersion,
  RegisteredModel,
  Run,
} from "@mlflow-dev/mlflow-client";

/**
 * What a model promotion reads from the source, as the source's REST API answered it: the
 * recorded source the copy plan is made from (and the unit tests' fixture).
 */
export interface SourceRecord {
  /** The spec environment read from ("local", "staging", ...). */
  environment: string;
  /** MLflow version of the source server (GET /version). */
  serverVersion: string;
  registeredModel: RegisteredModel;
  version: ModelVersion;
  run: Run;
  /** Every metric's full history, by key. */
  metricHistory: Record<string, MetricPoint[]>;
  experiment: Experiment;
  /** The run's own artifacts (relative to its artifact root), with sizes. */
  runArtifacts: ArtifactFile[];
  /** MLflow 3: the logged model (`models:/m-...`) the version points at, and its files. */
  loggedModel?: LoggedModel;
  modelArtifacts?: ArtifactFile[];
}

/** Where the version's files are: a logged model (MLflow 3) or a path in its run's artifacts (MLflow 2). */
export type ModelSource = { kind: "logged-model"; modelId: string } | { kind: "run"; runId: string; path: string };

/**
 * Reads a version's `source` in the forms MLflow writes: `models:/m-<id>` (MLflow 3),
 * `runs:/<run id>/<path>`, or the run's own artifact URI plus a path (`mlflow-artifacts:/...`,
 * which MLflow 2 stores after resolving `runs:/`). Undefined for anything else (a source outside
 * the run, such as a bare S3 path, is not something a promotion can carry).
 */
export function parseModelSource(version: ModelVersion, run: Run | undefined): ModelSource | undefined {
  const logged = /^models:\/(m-[0-9a-f]+)\/?$/.exec(version.source);
  if (logged?.[1]) return { kind: "logged-model", modelId: logged[1] };
  const runs = /^runs:\/([0-9a-f]+)\/(.*)$/.exec(version.source);
  if (runs?.[1] !== undefined) return { kind: "run", runId: runs[1], path: (runs[2] ?? "").replace(/\/+$/, "") };
  const root = run?.info.artifact_uri?.replace(/\/+$/, "");
  if (root && version.source.startsWith(`${root}/`))
    return {
      kind: "run",
      runId: run?.info.run_id ?? "",
      path: version.source.slice(root.length + 1).replace(/\/+$/, ""),
    };
  if (version.model_id && /^m-/.test(version.model_id)) return { kind: "logged-model", modelId: version.model_id };
  return undefined;
}
