import { createHash } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { ensureDirectory, readOwnFile, writeFilesAtomically } from "../safe-write.ts";

/**
 * Which compose project (containers, network, volumes) belongs to a checkout of a spec.
 *
 * Docker Compose names a project after its directory's base name, so two copies of one project in
 * directories of the same name share containers and volumes. mlflow-dev names the local stack
 * after the spec's `name` and the checkout: `mlflow-dev-<name>-<8 hex digits of sha256 of the
 * spec directory's real path>`, recorded in `.mlflow-dev/project.json` by the first `up`, so:
 *
 * - a second checkout, worktree or copy of the project gets a stack of its own;
 * - a directory that was moved (the recorded one is gone) keeps its stack and data;
 * - a copy made with its `.mlflow-dev/` (the recorded directory still holds the same record) gets
 *   a stack of its own, not the original's;
 * - a stack started by an earlier mlflow-dev (project `mlflow-dev-<name>`, no record) stays this
 *   checkout's when its containers were started from here, or, with no containers left, when
 *   its data volume exists and this checkout has the `.env` it was made with.
 */

/** What `.mlflow-dev/project.json` holds. */
export interface ProjectRecord {
  /** The spec's name the project was made for: a renamed spec gets a new stack, as before. */
  name: string;
  project: string;
  /** The real path of the spec's directory when the record was written. */
  checkout: string;
}

export const PROJECT_RECORD = "project.json";

export type IdentitySource = "recorded" | "moved" | "copied" | "previous-version" | "new";

export interface ProjectIdentity {
  project: string;
  from: IdentitySource;
  /** The real path of the spec's directory. */
  checkout: string;
  /** The record `up` writes; undefined when the file already says this. */
  record?: ProjectRecord;
}

/** The project name an earlier mlflow-dev gave every checkout of a spec. */
export function previousProjectName(name: string): string {
  return `mlflow-dev-${name}`;
}

/** The project of a checkout: the spec's name and 8 hex digits of sha256 of the directory's real path. */
export function checkoutProjectName(name: string, checkout: string): string {
  return `mlflow-dev-${name}-${createHash("sha256").update(checkout).digest("hex").slice(0, 8)}`;
}

/** The project a new checkout in `specDir` gets (its real path's). */
export function checkoutProject(name: string, specDir: string): string {
  return checkoutProjectName(name, realPath(specDir));
}

/** What the decision needs to know, read at the edge (projectIdentity). */
export interface IdentityFacts {
  name: string;
  checkout: string;
  recorded: ProjectRecord | undefined;
  /** The recorded checkout (when it differs) still holds a record of the same project: a copy. */
  recordedCheckoutHoldsIt: boolean;
  /** This checkout has a `.env` (an earlier `up` ran here). */
  hasEnvFile: boolean;
  /** The state directories (compose's working_dir label) of the previous-version project's containers. */
  previousContainersFrom: readonly string[];
  /** The previous-version project's database volume exists. */
  previousVolume: boolean;
  /** This checkout's state directory, as compose's working_dir label would name it. */
  stateDir: string;
}

/** Pure: which project the checkout's stack is, and the record to write (see the module's comment). */
export function decideProjectIdentity(f: IdentityFacts): ProjectIdentity {
  const fresh = (from: IdentitySource, project = checkoutProjectName(f.name, f.checkout)): ProjectIdentity => ({
    project,
    from,
    checkout: f.checkout,
    record: { name: f.name, project, checkout: f.checkout },
  });
  const r = f.recorded;
  if (r && r.name === f.name) {
    if (r.checkout === f.checkout) return { project: r.project, from: "recorded", checkout: f.checkout };
    return f.recordedCheckoutHoldsIt ? fresh("copied") : fresh("moved", r.project);
  }
  if (!r && f.hasEnvFile) {
    const previous = previousProjectName(f.name);
    const fromHere = f.previousContainersFrom.length > 0 && f.previousContainersFrom.every((d) => d === f.stateDir);
    if (fromHere || (f.previousContainersFrom.length === 0 && f.previousVolume))
      return fresh("previous-version", previous);
  }
  return fresh("new");
}

/** The facts of the Docker engine the decision reads (a ContainerClient's slice). */
export interface IdentityEngine {
  volumeExists(name: string): Promise<boolean>;
  /** compose's `com.docker.compose.project.working_dir` label of each of the project's containers. */
  projectWorkingDirs(project: string): Promise<string[]>;
}

/** The checkout's project: reads `.mlflow-dev/project.json`, the directories and, only when needed, the engine. */
export async function projectIdentity(options: {
  name: string;
  specDir: string;
  stateDir: string;
  docker: IdentityEngine;
}): Promise<ProjectIdentity> {
  const checkout = realPath(options.specDir);
  const stateDir = join(checkout, ".mlflow-dev");
  const recorded = readRecord(join(options.stateDir, PROJECT_RECORD));
  const other =
    recorded && recorded.checkout !== checkout
      ? readRecord(join(recorded.checkout, ".mlflow-dev", PROJECT_RECORD))
      : undefined;
  const hasEnvFile = existsSync(join(options.stateDir, ".env"));
  const previous = previousProjectName(options.name);
  const asksEngine = !recorded && hasEnvFile;
  const previousContainersFrom = asksEngine
    ? (await options.docker.projectWorkingDirs(previous).catch(() => [])).map(realPath)
    : [];
  const previousVolume = asksEngine
    ? await options.docker.volumeExists(`${previous}_postgres-data`).catch(() => false)
    : false;
  return decideProjectIdentity({
    name: options.name,
    checkout,
    recorded,
    recordedCheckoutHoldsIt: other !== undefined && other.project === recorded?.project,
    hasEnvFile,
    previousContainersFrom,
    previousVolume,
    stateDir,
  });
}

/** Writes the identity's record into the state directory (when it has one to write). */
export function recordProjectIdentity(stateDir: string, identity: ProjectIdentity): void {
  if (!identity.record) return;
  ensureDirectory(stateDir);
  writeFilesAtomically([
    { path: join(stateDir, PROJECT_RECORD), text: `${JSON.stringify(identity.record, null, 2)}\n` },
  ]);
}

/** What `up` says about an identity that is not simply the recorded one. */
export function describeIdentity(identity: ProjectIdentity): string | undefined {
  switch (identity.from) {
    case "copied":
      return `this directory is a copy of another checkout of the project: it gets a stack of its own, ${identity.project}`;
    case "moved":
      return `this checkout moved to ${identity.checkout}: it keeps its stack ${identity.project}`;
    case "previous-version":
      return `keeping the stack ${identity.project} an earlier mlflow-dev started from this checkout`;
    default:
      return undefined;
  }
}

function readRecord(path: string): ProjectRecord | undefined {
  let text: string | undefined;
  try {
    text = readOwnFile(path);
  } catch {
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    const r = JSON.parse(text) as Partial<ProjectRecord>;
    if (typeof r.name === "string" && typeof r.project === "string" && typeof r.checkout === "string")
      return { name: r.name, project: r.project, checkout: r.checkout };
  } catch {}
  return undefined;
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
