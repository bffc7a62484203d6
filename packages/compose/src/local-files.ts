import { chmodSync } from "node:fs";
import { join } from "node:path";
import { systemRandom } from "@mlflow-dev/kernel/random";
import type { LocalModel } from "@mlflow-dev/spec";
import { completeEnvFile } from "./env-file.ts";
import { type ComposeRenderOptions, toComposeYaml } from "./render.ts";
import { ensureDirectory, type FileToWrite, readOwnFile, writeFilesAtomically } from "./safe-write.ts";

export interface WrittenFiles {
  composePath: string;
  envPath: string;
  /** True when compose.yaml's bytes changed. */
  composeChanged: boolean;
  /** Variables generated into .env by this call (names only). */
  secretsAdded: string[];
}

/**
 * Writes compose.yaml and makes sure .env holds every secret the model needs, both or neither,
 * never through a link. Existing .env values are never overwritten; the file is kept at mode 0600.
 */
export function writeLocalFiles(dir: string, model: LocalModel, options: ComposeRenderOptions = {}): WrittenFiles {
  ensureDirectory(dir);
  const composePath = join(dir, "compose.yaml");
  const envPath = join(dir, ".env");
  const compose = toComposeYaml(model, options);
  const before = readOwnFile(composePath);
  const existing = readOwnFile(envPath);
  const { text, added } = completeEnvFile(existing, model, systemRandom);
  const files: FileToWrite[] = [];
  if (before !== compose) files.push({ path: composePath, text: compose });
  if (added.length > 0 || existing === undefined) files.push({ path: envPath, text, mode: 0o600 });
  writeFilesAtomically(files);
  chmodSync(envPath, 0o600);
  return { composePath, envPath, composeChanged: before !== compose, secretsAdded: added };
}

/** What `.mlflow-dev/.gitignore` holds: everything there stays out of git. */
export const STATE_DIR_GITIGNORE =
  "# Written by mlflow-dev. This directory holds generated passwords (.env), the rendered\n# compose file and database backups: none of it belongs in git.\n*\n";

/**
 * Creates the local stack's state directory (.mlflow-dev beside the spec) with a .gitignore of
 * `*` in it before anything else is written there, so one `git add -A` never commits the .env of
 * passwords or a backup. An existing .gitignore is left as the user made it.
 */
export function ensureStateDir(dir: string): void {
  ensureDirectory(dir);
  const path = join(dir, ".gitignore");
  if (readOwnFile(path) === undefined) writeFilesAtomically([{ path, text: STATE_DIR_GITIGNORE }]);
}
