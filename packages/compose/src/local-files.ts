import { randomBytes } from "node:crypto";
import { chmodSync } from "node:fs";
import { join } from "node:path";
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
  const { text, added } = completeEnvFile(existing, model, (n) => randomBytes(n));
  const files: FileToWrite[] = [];
  if (before !== compose) files.push({ path: composePath, text: compose });
  if (added.length > 0 || existing === undefined) files.push({ path: envPath, text, mode: 0o600 });
  writeFilesAtomically(files);
  chmodSync(envPath, 0o600);
  return { composePath, envPath, composeChanged: before !== compose, secretsAdded: added };
}
