import { PINS } from "@mlflow-dev/spec";

/**
 * The AWS twin: MiniStack with mlflow-dev's patches (images/ministack), run as one container on a
 * Docker network of its own, published on 127.0.0.1. The same settings as localstack/start.sh (a
 * unit test keeps the two in agreement): data and pure functions only.
 */

/** The container's default name; MiniStack labels what it starts with `ministack.instance=<name>:4566`. */
export const TWIN_CONTAINER = "mlflow-dev-ministack";
/** The port MiniStack listens on inside its container. */
export const TWIN_CONTAINER_PORT = 4566;
export const TWIN_HEALTH_PATH = "/_ministack/health";
/**
 * MiniStack's RDS derives its image name from the engine's major version (`postgres:<major>-alpine`)
 * and prepends MINISTACK_IMAGE_PREFIX + "/": the PostgreSQL image gets that name as an extra tag.
 */
export const TWIN_RDS_IMAGE_PREFIX = "mlflow-dev-local/ministack-images";
/** The label on the twin's container (and the network) that says mlflow-dev started it. */
export const TWIN_LABEL = "mlflow-dev.emulator";

export interface TwinSettings {
  /** The container's name (MLFLOW_DEV_AWS_CONTAINER, default mlflow-dev-ministack). */
  container: string;
  network: string;
  /** An IPv4 /24; the twin takes .2 (ECS's credentials address), the gateway .1. */
  subnet: string;
  port: number;
  region: string;
  waitSeconds: number;
  socket: string;
  logLevel: string;
}

/** The variables start.sh reads, with its defaults. */
export const TWIN_VARIABLES = {
  container: ["MLFLOW_DEV_AWS_CONTAINER", TWIN_CONTAINER],
  network: ["MLFLOW_DEV_AWS_NETWORK", "mlflow-dev-aws"],
  subnet: ["MLFLOW_DEV_AWS_SUBNET", "169.254.170.0/24"],
  port: ["MLFLOW_DEV_AWS_PORT", "4566"],
  region: ["MLFLOW_DEV_AWS_REGION", "us-east-1"],
  waitSeconds: ["MLFLOW_DEV_AWS_WAIT", "120"],
  socket: ["MLFLOW_DEV_DOCKER_SOCKET", "/var/run/docker.sock"],
  logLevel: ["MINISTACK_LOG_LEVEL", "INFO"],
} as const satisfies Record<keyof TwinSettings, readonly [string, string]>;

export class TwinSettingsError extends Error {}

export function twinSettings(env: NodeJS.ProcessEnv = process.env): TwinSettings {
  const get = (key: keyof TwinSettings) => {
    const [name, fallback] = TWIN_VARIABLES[key];
    return env[name]?.trim() || fallback;
  };
  const subnet = get("subnet");
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}\.0\/24$/.test(subnet))
    throw new TwinSettingsError(`MLFLOW_DEV_AWS_SUBNET=${subnet}: expected an IPv4 /24 such as 169.254.170.0/24`);
  const port = Number(get("port"));
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new TwinSettingsError(`MLFLOW_DEV_AWS_PORT=${get("port")}: expected a port number`);
  const waitSeconds = Number(get("waitSeconds"));
  if (!Number.isFinite(waitSeconds) || waitSeconds <= 0)
    throw new TwinSettingsError(`MLFLOW_DEV_AWS_WAIT=${get("waitSeconds")}: expected seconds`);
  const container = get("container");
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(container))
    throw new TwinSettingsError(`MLFLOW_DEV_AWS_CONTAINER=${container}: not a Docker container name`);
  return {
    container,
    network: get("network"),
    subnet,
    port,
    region: get("region"),
    waitSeconds,
    socket: get("socket"),
    logLevel: get("logLevel"),
  };
}

/** The twin's address on its network (.2: the AWS SDKs fetch task credentials over HTTP only from it) and the gateway's. */
export function twinAddresses(subnet: string): { emulator: string; gateway: string } {
  const base = subnet.split("/")[0]?.split(".").slice(0, 3).join(".") ?? "";
  return { emulator: `${base}.2`, gateway: `${base}.1` };
}

/** The twin's endpoint as the AWS SDKs and the CLI reach it. */
export function twinEndpoint(settings: Pick<TwinSettings, "port">): string {
  return `http://127.0.0.1:${settings.port}`;
}

/** The tag MiniStack's RDS asks for, for a PostgreSQL major version. */
export function rdsImageName(major: number, prefix = TWIN_RDS_IMAGE_PREFIX): string {
  return `${prefix}/postgres:${major}-alpine`;
}

/** `docker network create` arguments for the twin's network. */
export function networkCreateArgs(settings: TwinSettings): string[] {
  return [
    "network",
    "create",
    "--label",
    `${TWIN_LABEL}=true`,
    "--subnet",
    settings.subnet,
    "--gateway",
    twinAddresses(settings.subnet).gateway,
    settings.network,
  ];
}

/** `docker run` arguments that start the twin from `image` (as localstack/start.sh does). */
export function twinRunArgs(settings: TwinSettings, image: string): string[] {
  return [
    "run",
    "-d",
    "--name",
    settings.container,
    "--hostname",
    settings.container,
    "--label",
    `${TWIN_LABEL}=ministack`,
    "--network",
    settings.network,
    "--ip",
    twinAddresses(settings.subnet).emulator,
    "-p",
    `127.0.0.1:${settings.port}:${TWIN_CONTAINER_PORT}`,
    "-v",
    `${settings.socket}:/var/run/docker.sock`,
    "-e",
    `GATEWAY_PORT=${TWIN_CONTAINER_PORT}`,
    "-e",
    `MINISTACK_REGION=${settings.region}`,
    "-e",
    `DOCKER_NETWORK=${settings.network}`,
    "-e",
    `MINISTACK_IMAGE_PREFIX=${TWIN_RDS_IMAGE_PREFIX}`,
    "-e",
    `LOG_LEVEL=${settings.logLevel}`,
    image,
  ];
}

/** The label MiniStack puts on every container it starts (ECS tasks, RDS instances). */
export function twinInstanceLabel(settings: Pick<TwinSettings, "container">): string {
  return `ministack.instance=${settings.container}:${TWIN_CONTAINER_PORT}`;
}

/** The MiniStack release the twin runs. */
export const MINISTACK_VERSION: string = PINS.ministack;
