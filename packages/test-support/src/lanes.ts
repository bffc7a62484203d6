import { basename } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The integration tier's lanes and each integration file's host ports: one table for both.
 *
 * `pnpm test:integration` (scripts/integration-lanes.ts) runs the three lanes side by side, the
 * files of a lane one after another, and the lanes of about the same length (the last full run's
 * file times: CONTRIBUTING.md's "Times"):
 * - `local`: the files that use only local Docker stacks (and containers of their own), then three
 *   emulator files to even the lanes out, then the package tier;
 * - `aws-1`, `aws-2`: the other files that drive the AWS emulator, also when they start a local
 *   stack as well. Every lane may use the one emulator at once: every file's AWS resources are its
 *   own (its account, its spec names and so its stack, bucket, repository and database names), as
 *   two teams' stacks in one AWS region are.
 *
 * The lanes share the Docker engine and the host's ports, so every file owns a block of 100 host
 * ports from its `portBase`: stack n (0-8) publishes base + 10n (MLflow), +1 (MinIO), +2 (the MinIO
 * console) and +3 (PostgreSQL); base + 90 ... base + 99 are spare ports for other servers. The
 * blocks lie between MiniStack's database ports (15432, 15433, ... on every interface) and the
 * kernel's ephemeral range (32768 and up), so no outgoing connection takes one by chance. Spec
 * names (`it...`), and with them compose project names and AWS stack names, are each file's own
 * too. lanes.test.ts checks all of this.
 */
export type Lane = "local" | "aws-1" | "aws-2";

export interface IntegrationFile {
  lane: Lane;
  portBase: number;
}

export const INTEGRATION_FILES: Readonly<Record<string, IntegrationFile>> = {
  // local (about 930 s in the last full run, the package tier included)
  "local-stack.test.ts": { lane: "local", portBase: 21000 },
  "backup-restore.test.ts": { lane: "local", portBase: 21100 },
  "auth-cache.test.ts": { lane: "local", portBase: 21200 },
  "direct-artifacts.test.ts": { lane: "local", portBase: 21300 },
  "docker-context.test.ts": { lane: "local", portBase: 21400 },
  "models-promote.test.ts": { lane: "local", portBase: 21500 },
  "operate-local.test.ts": { lane: "local", portBase: 21600 },
  "promote-own-resources.test.ts": { lane: "local", portBase: 25600 },
  "basic-auth.test.ts": { lane: "local", portBase: 22300 },
  "first-rollout.test.ts": { lane: "local", portBase: 25300 },
  // aws-1 (about 960 s)
  "promote.test.ts": { lane: "aws-1", portBase: 22400 },
  "upgrade.test.ts": { lane: "aws-1", portBase: 22100 },
  "github-workflow.test.ts": { lane: "aws-1", portBase: 27700 },
  "installed-package.test.ts": { lane: "aws-1", portBase: 22200 },
  "connection-budget.test.ts": { lane: "aws-1", portBase: 25500 },
  "stateful-guard.test.ts": { lane: "aws-1", portBase: 22600 },
  "aws-options.test.ts": { lane: "aws-1", portBase: 22700 },
  "emulator-limits.test.ts": { lane: "aws-1", portBase: 24600 },
  // aws-2 (about 950 s)
  "parity.test.ts": { lane: "aws-2", portBase: 22000 },
  "models-promote-aws.test.ts": { lane: "aws-2", portBase: 23100 },
  "operate.test.ts": { lane: "aws-2", portBase: 22900 },
  "rehearse.test.ts": { lane: "aws-2", portBase: 23000 },
  "aws-backup-restore.test.ts": { lane: "aws-2", portBase: 22500 },
  "rehearse-interrupt.test.ts": { lane: "aws-2", portBase: 25400 },
  "emulator.test.ts": { lane: "aws-2", portBase: 22800 },
};

export const LANES: readonly Lane[] = ["local", "aws-1", "aws-2"];

/** The files of a lane (names under test/integration), in the table's order. */
export function laneFiles(lane: Lane): string[] {
  return Object.entries(INTEGRATION_FILES)
    .filter(([, f]) => f.lane === lane)
    .map(([name]) => name);
}

/** The host ports of one local stack, in the order of `environments.local.ports`. */
export interface StackPorts {
  mlflow: number;
  minio: number;
  minioConsole: number;
  postgres: number;
}

function entry(fileUrl: string): IntegrationFile {
  const name = basename(fileUrl.startsWith("file:") ? fileURLToPath(fileUrl) : fileUrl);
  const file = INTEGRATION_FILES[name];
  if (!file)
    throw new Error(
      `${name} has no lane and no ports: add it to INTEGRATION_FILES in packages/test-support/src/lanes.ts (its lane and a free block of 100 ports)`,
    );
  return file;
}

/** Stack `n` (0-8) of the integration file at `fileUrl` (its import.meta.url): its host ports. */
export function stackPorts(fileUrl: string, n = 0): StackPorts {
  if (!Number.isInteger(n) || n < 0 || n > 8) throw new Error(`stack ${n}: a file has stacks 0 to 8`);
  const base = entry(fileUrl).portBase + 10 * n;
  return { mlflow: base, minio: base + 1, minioConsole: base + 2, postgres: base + 3 };
}

/** Spare host port `k` (0-9) of the integration file at `fileUrl`, for a server that is not a stack's. */
export function sparePort(fileUrl: string, k: number): number {
  if (!Number.isInteger(k) || k < 0 || k > 9) throw new Error(`spare port ${k}: a file has spare ports 0 to 9`);
  return entry(fileUrl).portBase + 90 + k;
}
