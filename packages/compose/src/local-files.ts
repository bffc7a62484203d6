import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Model } from "@mlflow-dev/spec";
import { completeEnvFile } from "./env-file.ts";
import { type ComposeRenderOptions, toComposeYaml } from "./render.ts";

export interface WrittenFiles {
  composePath: string;
  envPath: string;
  /** True when compose.yaml's bytes changed. */
  composeChanged: boolean;
  /** Variables generated into .env by this call (names only). */
  secretsAdded: string[];
}

/**
 * Writes compose.yaml and makes sure .env holds every secret the model needs.
 * Existing .env values are never overwritten; the file is kept at mode 0600.
 */
export function writeLocalFiles(dir: string, model: Model, options: ComposeRenderOptions = {}): WrittenFiles {
  mkdirSync(dir, { recursive: true });
  const composePath = join(dir, "compose.yaml");
  const envPath = join(dir, ".env");
  const compose = toComposeYaml(model, options);
  const before = existsSync(composePath) ? readFileSync(composePath, "utf8") : undefined;
  if (before !== compose) writeFileSync(composePath, compose);

  const existing = existsSync(envPath) ? readFileSync(envPath, "utf8") : undefined;
  const { text, added } = completeEnvFile(existing, model, (n) => randomBytes(n));
  if (added.length > 0 || existing === undefined) writeFileSync(envPath, text, { mode: 0o600 });
  chmodSync(envPath, 0o600);
  return { composePath, envPath, composeChanged: before !== compose, secretsAdded: added };
}
