import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "@mlflow-dev/kernel/wait";
import { EXIT, UserError } from "../errors.ts";
import { shippedImageSource } from "../shipped-image.ts";
import { type Docker, docker as realDocker } from "./docker.ts";
import { chooseTwinImage, SHIPPED_TWIN_FILES, twinBuildCommand, twinOverrides, twinPostgresImage } from "./image.ts";
import {
  networkCreateArgs,
  rdsImageName,
  TWIN_HEALTH_PATH,
  TWIN_RDS_IMAGE_PREFIX,
  type TwinSettings,
  TwinSettingsError,
  twinAddresses,
  twinEndpoint,
  twinInstanceLabel,
  twinRunArgs,
  twinSettings,
} from "./settings.ts";

/**
 * The edge of the AWS twin: build its image from the shipped context (or reuse it), start it on its
 * Docker network, wait until it answers, reuse a running healthy one; stop only what was started.
 */

export interface Twin {
  endpoint: string;
  settings: TwinSettings;
  image: string;
  /** Whether this call started it (then `stopTwin` may stop it), or it was running already. */
  started: boolean;
  /** What was done, one line each (built, reused, started). */
  notes: string[];
}

export interface TwinOptions {
  env?: NodeJS.ProcessEnv;
  /** Progress lines (stderr). */
  log?: (line: string) => void;
  /** PostgreSQL majors the twin's RDS must run (the rehearsed environment's). */
  postgresMajors?: number[];
  docker?: Docker;
}

/** The shipped images/ministack: next to the bundle (dist/images/ministack), or at the repository root. */
export function shippedTwinSource(from?: string): string {
  return shippedImageSource("ministack", "the AWS twin's build context", from);
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const r = await fetch(`${endpoint}${TWIN_HEALTH_PATH}`, { signal: AbortSignal.timeout(3000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

export async function ensureTwin(options: TwinOptions = {}): Promise<Twin> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`[twin] ${line}\n`));
  const docker = options.docker ?? realDocker;
  let settings: TwinSettings;
  try {
    settings = twinSettings(env);
  } catch (e) {
    if (e instanceof TwinSettingsError) throw new UserError(e.message, { exitCode: EXIT.invalidInput });
    throw e;
  }
  const endpoint = twinEndpoint(settings);
  const { emulator } = twinAddresses(settings.subnet);
  const fail = (message: string, hint?: string) => new UserError(`AWS twin: ${message}`, hint ? { hint } : {});
  const overrides = twinOverrides(env.MLFLOW_DEV_IMAGES);
  const info = await docker(["info", "--format", "{{.ServerVersion}}"]);
  if (info.code !== 0)
    throw fail(
      `the Docker engine does not answer ('docker info' failed: ${info.stderr.trim().split("\n").pop() ?? ""})`,
      "Start Docker, then run the command again.",
    );
  const notes: string[] = [];
  const inspect = async (format: string, name: string) => {
    const r = await docker(["inspect", "-f", format, name]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  };

  const running = (await inspect("{{.State.Running}}", settings.container)) === "true";
  // A twin that is still starting gets the time to answer; one running elsewhere is never removed.
  const deadline0 = Date.now() + (running ? settings.waitSeconds * 1000 : 0);
  while (running && !(await healthy(endpoint)) && Date.now() < deadline0) await sleep(1000);
  if (running && !(await healthy(endpoint)))
    throw fail(
      `the container ${settings.container} is running but does not answer ${endpoint}${TWIN_HEALTH_PATH}`,
      "It may publish another port: set MLFLOW_DEV_AWS_PORT to it, or MLFLOW_DEV_AWS_CONTAINER to start another twin.",
    );
  if (running) {
    const ip = await inspect(
      `{{with index .NetworkSettings.Networks "${settings.network}"}}{{.IPAddress}}{{end}}`,
      settings.container,
    );
    if (ip !== emulator)
      throw fail(
        `${settings.container} is running but not at ${emulator} on network ${settings.network} (found "${ip || "none"}")`,
        `Stop it (docker rm -f -v ${settings.container}; its emulated state is lost), then run the command again.`,
      );
    const image = (await inspect("{{.Config.Image}}", settings.container)) ?? "";
    const prefix = (await inspect("{{range .Config.Env}}{{println .}}{{end}}", settings.container))
      ?.split("\n")
      .find((l) => l.startsWith("MINISTACK_IMAGE_PREFIX="))
      ?.slice("MINISTACK_IMAGE_PREFIX=".length);
    if (prefix) await tagRdsImages(docker, overrides, options.postgresMajors, prefix, log);
    notes.push(`reused the running twin ${settings.container} (${image}) at ${endpoint}`);
    log(notes[0] ?? "");
    return { endpoint, settings, image, started: false, notes };
  }
  if ((await inspect("{{.State.Running}}", "mlflow-dev-localstack")) === "true")
    throw fail(
      "container mlflow-dev-localstack is running on the emulator port",
      "Stop it first (localstack/stop.sh).",
    );
  if (await healthy(endpoint))
    throw fail(
      `something else answers ${endpoint}${TWIN_HEALTH_PATH} (not the container ${settings.container})`,
      "Stop it, or give the twin another port with MLFLOW_DEV_AWS_PORT.",
    );

  const t0 = Date.now();
  const choice = chooseTwinImage(overrides, await contextFiles(overrides.ministack === undefined));
  const present = (await docker(["image", "inspect", choice.image])).code === 0;
  if (choice.kind === "given" && !present)
    throw fail(
      `image ${choice.image} (${choice.origin}) not found`,
      "Build it, or drop ministack= from MLFLOW_DEV_IMAGES to build the shipped one.",
    );
  if (choice.kind === "build" && !present) {
    log(`building ${choice.image} (${choice.origin}); about a minute, once`);
    const args = twinBuildCommand(choice, shippedTwinSource());
    // A Docker client without buildx refuses BuildKit builds; the Dockerfile builds with the classic builder too.
    const buildx = (await docker(["buildx", "version"])).code === 0;
    const built = await docker(args, {
      stream: true,
      ...(buildx ? {} : { env: { ...process.env, DOCKER_BUILDKIT: "0" } }),
    });
    if (built.code !== 0)
      throw fail(
        `building ${choice.image} failed (exit ${built.code})`,
        `It needs the base image ${choice.buildArgs?.BASE_IMAGE} and the Python package index. Offline, name a local Python base with MLFLOW_DEV_IMAGES="ministack-base=REF", or a built twin with MLFLOW_DEV_IMAGES="ministack=REF".`,
      );
    notes.push(`built ${choice.image} (${choice.origin}) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } else notes.push(`image ${choice.image} (${choice.origin}${choice.kind === "build" ? ", built earlier" : ""})`);
  await tagRdsImages(docker, overrides, options.postgresMajors, TWIN_RDS_IMAGE_PREFIX, log);

  await ensureNetwork(docker, settings, fail, log);
  if ((await inspect("{{.Id}}", settings.container)) !== undefined) {
    await docker(["rm", "-f", settings.container]);
    log(`removed the stale container ${settings.container}`);
  }
  const t1 = Date.now();
  const run = await docker(twinRunArgs(settings, choice.image));
  if (run.code !== 0) throw fail(`docker run failed: ${run.stderr.trim()}`);
  const deadline = Date.now() + settings.waitSeconds * 1000;
  while (!(await healthy(endpoint))) {
    const up = (await inspect("{{.State.Running}}", settings.container)) === "true";
    if (!up || Date.now() > deadline) {
      const logs = await docker(["logs", "--tail", "40", settings.container]);
      process.stderr.write(`${logs.stdout}${logs.stderr}`);
      await docker(["rm", "-f", "-v", settings.container]);
      throw fail(
        up
          ? `it did not answer ${endpoint}${TWIN_HEALTH_PATH} within ${settings.waitSeconds} s (last log lines above)`
          : "its container exited during start (last log lines above)",
      );
    }
    await sleep(500);
  }
  notes.push(
    `started ${settings.container} at ${endpoint} (${emulator} on network ${settings.network}) in ${((Date.now() - t1) / 1000).toFixed(1)} s`,
  );
  for (const n of notes) log(n);
  return { endpoint, settings, image: choice.image, started: true, notes };
}

/** The shipped context's files, read when the image is built from it. */
async function contextFiles(needed: boolean): Promise<Record<string, Buffer>> {
  if (!needed) return {};
  const dir = shippedTwinSource();
  return Object.fromEntries(SHIPPED_TWIN_FILES.map((f) => [f, readFileSync(join(dir, f))]));
}

/** Gives each PostgreSQL major's image the name MiniStack's RDS asks for (pulling the pinned image when it is missing). */
async function tagRdsImages(
  docker: Docker,
  overrides: ReturnType<typeof twinOverrides>,
  majors: number[] | undefined,
  prefix: string,
  log: (line: string) => void,
): Promise<void> {
  for (const major of new Set(majors ?? [])) {
    const image = twinPostgresImage(overrides, major);
    if ((await docker(["image", "inspect", image])).code !== 0) {
      log(`pulling ${image} (the twin's RDS runs PostgreSQL ${major} on it)`);
      const pulled = await docker(["pull", image], { stream: true });
      if (pulled.code !== 0)
        throw new UserError(`AWS twin: cannot get ${image} for its RDS (PostgreSQL ${major})`, {
          hint: `Name a local PostgreSQL ${major} image with MLFLOW_DEV_IMAGES="postgres=REF".`,
        });
    }
    const tag = await docker(["tag", image, rdsImageName(major, prefix)]);
    if (tag.code !== 0) throw new UserError(`AWS twin: docker tag ${image} failed: ${tag.stderr.trim()}`);
  }
}

async function ensureNetwork(
  docker: Docker,
  settings: TwinSettings,
  fail: (message: string, hint?: string) => UserError,
  log: (line: string) => void,
): Promise<void> {
  const current = await docker([
    "network",
    "inspect",
    "-f",
    "{{range .IPAM.Config}}{{.Subnet}}{{end}}|{{len .Containers}}",
    settings.network,
  ]);
  if (current.code === 0) {
    const [subnet, attached] = current.stdout.trim().split("|");
    if (subnet === settings.subnet) return;
    if (attached !== "0")
      throw fail(
        `Docker network ${settings.network} has subnet ${subnet}, not ${settings.subnet}, and ${attached} container(s) attached`,
        "Stop what is attached to it, or set MLFLOW_DEV_AWS_NETWORK to another name.",
      );
    await docker(["network", "rm", settings.network]);
    log(`removed Docker network ${settings.network} (subnet ${subnet})`);
  }
  const created = await docker(networkCreateArgs(settings));
  if (created.code !== 0)
    throw fail(
      `could not create Docker network ${settings.network} with subnet ${settings.subnet}: ${created.stderr.trim()}`,
      "Another network may use that subnet: set MLFLOW_DEV_AWS_SUBNET.",
    );
  log(`created Docker network ${settings.network} (${settings.subnet})`);
}

/**
 * Stops a twin this process started, with the ECS and RDS containers it ran (and their anonymous
 * volumes), and its network when nothing else is attached. A twin that was running before is left alone.
 */
export async function stopTwin(
  twin: Twin,
  options: { docker?: Docker; log?: (line: string) => void } = {},
): Promise<void> {
  if (!twin.started) return;
  const docker = options.docker ?? realDocker;
  const log = options.log ?? ((line: string) => process.stderr.write(`[twin] ${line}\n`));
  await docker(["rm", "-f", "-v", twin.settings.container]);
  const ids = (await docker(["ps", "-aq", "--filter", `label=${twinInstanceLabel(twin.settings)}`])).stdout
    .split("\n")
    .filter(Boolean);
  if (ids.length > 0) await docker(["rm", "-f", "-v", ...ids]);
  const attached = await docker(["network", "inspect", "-f", "{{len .Containers}}", twin.settings.network]);
  if (attached.code === 0 && attached.stdout.trim() === "0") await docker(["network", "rm", twin.settings.network]);
  log(`stopped the twin ${twin.settings.container}${ids.length ? ` and ${ids.length} container(s) it ran` : ""}`);
}
