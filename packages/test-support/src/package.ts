import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { NODE_22 } from "@mlflow-dev/cli/manifest";
import { MLFLOW_DEV_VERSION } from "@mlflow-dev/spec";
import { ROOT } from "./root.ts";

/**
 * The published package as a user gets it: `pnpm pack:cli` writes the tarball, plain npm installs it
 * into a fresh project outside the repository, and `npx mlflow-dev` runs from that project's
 * directory on a chosen Node.
 */

/** The environment variable naming a tarball already packed for this run (scripts/test.sh packs once). */
export const TARBALL_ENV = "MLFLOW_DEV_TEST_TARBALL";

let packed: string | undefined;

/**
 * The tarball of `pnpm pack:cli`: the one $MLFLOW_DEV_TEST_TARBALL names when a run packed it
 * already (scripts/test.sh, once for the package and integration tiers), else packed here, once per
 * test file.
 */
export function packCli(): string {
  const given = process.env[TARBALL_ENV];
  if (given) {
    if (!existsSync(given)) throw new Error(`${TARBALL_ENV}=${given}: no such file; unset it to pack here`);
    return given;
  }
  packed ??= pack();
  return packed;
}

/** Runs `pnpm pack:cli` and returns the tarball it wrote. */
function pack(): string {
  const r = spawnSync("pnpm", ["-s", "pack:cli"], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`pnpm pack:cli failed:\n${r.stdout}${r.stderr}`);
  const tarball = join(ROOT, "dist", `mlflow-dev-${MLFLOW_DEV_VERSION}.tgz`);
  if (!existsSync(tarball)) throw new Error(`pnpm pack:cli wrote no ${tarball}:\n${r.stdout}`);
  return tarball;
}

/** A Node to run the package on: its binary and version. */
export interface NodeRuntime {
  bin: string;
  version: string;
}

/**
 * The Nodes the package is tested on, one per supported line: the repository's pinned Node (the
 * `node` devDependency) and NODE_22, installed from the npm registry as the `node` package into a
 * directory of the system's temporary directory (kept for the next run), each once.
 */
export function nodeRuntimes(): NodeRuntime[] {
  const candidates = [join(ROOT, "node_modules/node/bin/node"), node22()];
  const seen = new Map<string, NodeRuntime>();
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    const bin = realpathSync(c);
    const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim();
    if (version && !seen.has(version)) seen.set(version, { bin, version });
  }
  return [...seen.values()];
}

/**
 * NODE_22's binary, installed with npm once. The install goes to a directory of its own, renamed
 * into place when complete, so two test processes (the package tier and installed-package run in
 * different lanes) never share a half-installed one.
 */
function node22(): string {
  const dir = join(tmpdir(), `mlflow-dev-node-${NODE_22}`);
  const bin = join(dir, "node_modules/.bin/node");
  if (existsSync(bin)) return bin;
  const staging = mkdtempSync(`${dir}-installing-`);
  writeFileSync(join(staging, "package.json"), `${JSON.stringify({ name: "node-22", private: true })}\n`);
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", `node@${NODE_22}`], {
    cwd: staging,
    encoding: "utf8",
    timeout: 600_000,
  });
  if (r.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`npm install node@${NODE_22} failed:\n${r.stdout}${r.stderr}`);
  }
  try {
    renameSync(staging, dir);
  } catch {
    if (existsSync(bin)) {
      rmSync(staging, { recursive: true, force: true }); // another process put its install in place first
      return bin;
    }
    rmSync(dir, { recursive: true, force: true }); // what an interrupted install left there
    renameSync(staging, dir);
  }
  return bin;
}

/** PATH for a user's shell on `node`: its directory first, and nothing from this repository's node_modules. */
function userPath(node: NodeRuntime): string {
  const rest = (process.env.PATH ?? "").split(delimiter).filter((d) => d && !d.includes("node_modules"));
  return [dirname(node.bin), ...rest].join(delimiter);
}

export function userEnv(node: NodeRuntime, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: userPath(node), NO_COLOR: "1", ...extra };
  // Nothing of the repository's pnpm/vitest run leaks into the user's project; the machine's own
  // npm settings (registry, cache, proxy) stay.
  const npmSetting = /^npm_config_(registry|cache|userconfig|cafile|strict_ssl|(https_)?proxy|noproxy)$/i;
  for (const k of Object.keys(env))
    if ((/^npm_/i.test(k) && !npmSetting.test(k)) || /^pnpm_/i.test(k) || k === "NODE_PATH" || k.startsWith("VITEST"))
      delete env[k];
  return env;
}

/** A fresh project in the system's temporary directory with the tarball installed by plain npm. */
export function installedProject(tarball: string, node: NodeRuntime, name = "ml-project"): string {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name, private: true }, null, 2)}\n`);
  const r = spawnSync("npm", ["install", "--save-dev", "--no-audit", "--no-fund", tarball], {
    cwd: dir,
    encoding: "utf8",
    env: userEnv(node),
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`npm install ${tarball} failed on Node ${node.version}:\n${r.stdout}${r.stderr}`);
  return dir;
}

/** `npx mlflow-dev <args>` in `cwd`, as a user would type it there. */
export function npx(
  node: NodeRuntime,
  args: string[],
  cwd: string,
  options: { env?: Record<string, string>; timeout?: number } = {},
) {
  const r = spawnSync("npx", ["--no-install", "mlflow-dev", ...args], {
    cwd,
    encoding: "utf8",
    env: userEnv(node, options.env),
    timeout: options.timeout ?? 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
