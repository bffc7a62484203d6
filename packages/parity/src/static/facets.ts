import { CONTAINER_DEFINITION_KEYS, type ContainerDefinition, type TaskDefinition } from "@mlflow-dev/aws";
import {
  type FlagValue,
  type ServerCommand,
  type ServerFlag,
  serverCommand,
  serverExecLine,
  serverPreamble,
} from "@mlflow-dev/spec";

/**
 * One comparable setting of a rendering. `value` is what is compared; `shown` is what a reader
 * sees (a secret compares by its presence only, so both sides' `value` is "(secret)").
 */
export interface Facet {
  value: string;
  shown: string;
}

export type Facets = Map<string, Facet>;

const plain = (value: string): Facet => ({ value, shown: value });

/** The keys of the compose `mlflow` service that static parity knows how to compare. */
export const KNOWN_COMPOSE_KEYS = new Set([
  "image",
  "build",
  "entrypoint",
  "command",
  "environment",
  "depends_on",
  "healthcheck",
  "ports",
  "restart",
  "cpus",
  "mem_limit",
  "memswap_limit",
  "logging",
  "platform",
  "user",
  "read_only",
  "cap_drop",
  "init",
  "volumes",
]);

/** The keys of the ECS container definition that static parity knows how to compare. */
export const KNOWN_CONTAINER_KEYS: ReadonlySet<string> = new Set(CONTAINER_DEFINITION_KEYS);

/** `${VAR:?message}`: a value Compose takes from .env (a generated secret). */
const INTERPOLATION = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[?-][^}]*)?\}$/;

/** Compose doubles literal dollars; undo it so both sides compare as the shell sees them. */
function unescapeDollars(s: string): string {
  return s.replaceAll("$$", "$");
}

/** A flag's value as the shell passes it: literal text, or `$NAME` for a variable of the server's environment. */
function flagText(value: FlagValue): string {
  return typeof value === "string" ? value : `$${value.env}`;
}

/** Each flag with its values, in order (a flag given twice keeps both values). */
export function flagValues(flags: readonly ServerFlag[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of flags) {
    const list = out.get(f.flag) ?? [];
    if (f.value !== undefined) list.push(flagText(f.value));
    out.set(f.flag, list);
  }
  return out;
}

/**
 * entrypoint and command, then one arg.<flag> per `mlflow server` flag and one auth.<key> per
 * setting of the basic-auth config the script writes. The flags and the config are the Model's
 * (data, not the script read back), compared when the rendered command is exactly the one the
 * Model's server command renders to; any other command is compared as it is.
 */
function commandFacets(entrypoint: unknown, command: unknown, server: ServerCommand | undefined, out: Facets): void {
  out.set("entrypoint", plain(JSON.stringify(entrypoint ?? null)));
  const parts = Array.isArray(command) ? command.map(String) : [];
  if (server === undefined || JSON.stringify(parts) !== JSON.stringify(serverCommand(server))) {
    out.set("command", plain(JSON.stringify(parts)));
    return;
  }
  const config = server.authConfig;
  const placeholders = config && Object.fromEntries(Object.keys(config).map((k) => [k, `<compared as auth.${k}>`]));
  const shape = [...serverPreamble(server, placeholders), serverExecLine("<flags compared as arg.*>")].join("\n");
  const count = (parts[0] ?? "").split("\n").length;
  out.set("command", { value: shape, shown: `${count}-line script ending in exec mlflow server` });
  for (const [flag, values] of flagValues(server.flags)) out.set(`arg.${flag}`, plain(values.join(" ") || "(set)"));
  for (const [key, value] of Object.entries(config ?? {})) out.set(`auth.${key}`, plain(value));
}

function healthFacets(
  hc: { command: unknown; interval: number; timeout: number; retries: number; startPeriod: number } | undefined,
  out: Facets,
): void {
  if (!hc) return;
  out.set("healthcheck.command", plain(JSON.stringify(hc.command)));
  out.set("healthcheck.interval", plain(`${hc.interval}s`));
  out.set("healthcheck.timeout", plain(`${hc.timeout}s`));
  out.set("healthcheck.retries", plain(String(hc.retries)));
  out.set("healthcheck.startPeriod", plain(`${hc.startPeriod}s`));
}

/** The container's hardening (SERVER_HARDENING) in one wording for both sides. */
function hardeningFacets(
  h: { user?: string; readOnly: boolean; dropped: readonly string[]; init: boolean; mounts: readonly string[] },
  out: Facets,
): void {
  out.set("hardening.user", plain(h.user ?? "the image's user"));
  out.set("hardening.rootFilesystem", plain(h.readOnly ? "read-only" : "writable"));
  out.set(
    "hardening.capabilities",
    plain(h.dropped.length ? `drop ${[...h.dropped].sort().join(", ")}` : "Docker's defaults"),
  );
  out.set("hardening.init", plain(h.init ? "init process as PID 1" : "the server is PID 1"));
  out.set("hardening.writable", plain(h.mounts.length ? [...h.mounts].sort().join(", ") : "(no volume)"));
}

/** One wording for a size on both sides, so equal limits compare equal. */
function describeResources(cpuUnits: number, memoryMiB: number, swap: boolean): string {
  return `cpu ${cpuUnits} units (${cpuUnits / 1024} vCPU), memory ${memoryMiB} MiB, ${swap ? "with swap" : "no swap"}`;
}

/** A Compose byte value ("1024m", "1g", "1073741824") in MiB. */
function mebibytes(v: unknown): number {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)$/i.exec(String(v ?? "").trim());
  if (!m) return Number.NaN;
  const scale: Record<string, number> = { "": 1 / 2 ** 20, b: 1 / 2 ** 20, k: 1 / 1024, m: 1, g: 1024 };
  return Number(m[1]) * (scale[(m[2] ?? "").toLowerCase()] ?? Number.NaN);
}

function composeResources(service: Record<string, unknown>): string {
  if (service.cpus === undefined && service.mem_limit === undefined) return "no limits (shares the Docker host)";
  const cpu = Math.round(Number(service.cpus) * 1024);
  const memory = mebibytes(service.mem_limit);
  const swap = mebibytes(service.memswap_limit ?? 0) !== memory;
  return describeResources(cpu, memory, swap);
}

const seconds = (v: unknown): number => {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(String(v));
  return m ? Number(m[1]) : Number.NaN;
};

/** The compose `mlflow` service as facets; `server` is the local Model's server command. */
export function composeFacets(service: Record<string, unknown>, server?: ServerCommand): Facets {
  const out: Facets = new Map();
  const build = service.build as { context?: string; args?: Record<string, string> } | undefined;
  const image = String(service.image ?? "");
  out.set(
    "image",
    build
      ? {
          value: `build:${build.context}:${build.args?.BASE_IMAGE ?? ""}`,
          shown: `${image} (built from ${build.context}${build.args?.BASE_IMAGE ? ` on ${build.args.BASE_IMAGE}` : ""})`,
        }
      : plain(image),
  );
  commandFacets(service.entrypoint, (service.command as string[] | undefined)?.map(unescapeDollars), server, out);

  for (const [name, raw] of Object.entries((service.environment ?? {}) as Record<string, string>)) {
    const m = INTERPOLATION.exec(raw);
    if (m) out.set(`secret.${name}`, { value: "(secret)", shown: `from .env (${m[1]})` });
    else out.set(`env.${name}`, plain(unescapeDollars(raw)));
  }

  const ports = ((service.ports ?? []) as string[]).map((p) => {
    const parts = p.split(":");
    const container = (parts.pop() ?? "").replace(/\/tcp$/, "");
    return { container, published: parts.join(":") };
  });
  out.set("port", plain(ports.map((p) => `${p.container}/tcp`).join(", ") || "(none)"));
  out.set(
    "port.published",
    plain(ports.map((p) => `${p.published || "(random)"} -> ${p.container}`).join(", ") || "(not published)"),
  );

  const hc = service.healthcheck as
    | { test: string[]; interval: string; timeout: string; retries: number; start_period: string }
    | undefined;
  if (hc)
    healthFacets(
      {
        command: hc.test.map(unescapeDollars),
        interval: seconds(hc.interval),
        timeout: seconds(hc.timeout),
        retries: hc.retries,
        startPeriod: seconds(hc.start_period),
      },
      out,
    );

  hardeningFacets(
    {
      user: service.user === undefined ? undefined : String(service.user),
      readOnly: service.read_only === true,
      dropped: (service.cap_drop ?? []) as string[],
      init: service.init === true,
      mounts: ((service.volumes ?? []) as string[]).map((v) => String(v).split(":")[1] ?? String(v)),
    },
    out,
  );
  out.set("resources", plain(composeResources(service)));
  out.set("restart", plain(String(service.restart ?? "no")));
  out.set(
    "logging",
    plain(
      service.logging ? JSON.stringify(service.logging) : "the Docker engine's default log driver (mlflow-dev logs)",
    ),
  );
  const deps = Object.entries((service.depends_on ?? {}) as Record<string, { condition?: string }>);
  out.set(
    "startup",
    plain(
      deps.length
        ? `after ${deps.map(([n, d]) => `${n} (${(d.condition ?? "started").replace(/^service_/, "")})`).join(", ")}`
        : "no ordering",
    ),
  );
  out.set("platform", plain(service.platform ? String(service.platform) : "the Docker host's"));

  for (const key of Object.keys(service))
    if (!KNOWN_COMPOSE_KEYS.has(key)) out.set(`field.${key}`, plain(JSON.stringify(service[key])));
  return out;
}

/** The ECS container definition (and the task's size and platform) as facets; `server` is the AWS Model's server command. */
export function taskFacets(
  task: TaskDefinition,
  options: { builtFrom?: { context: string; baseImage?: string }; desiredCount: number; server?: ServerCommand },
): Facets {
  const out: Facets = new Map();
  const c: ContainerDefinition = task.containerDefinitions[0];
  const b = options.builtFrom;
  out.set(
    "image",
    b
      ? {
          value: `build:${b.context}:${b.baseImage ?? ""}`,
          shown: `${c.image} (built from ${b.context}${b.baseImage ? ` on ${b.baseImage}` : ""}, pushed to ECR)`,
        }
      : plain(c.image),
  );
  commandFacets(c.entryPoint, c.command, options.server, out);
  for (const { name, value } of c.environment) out.set(`env.${name}`, plain(value));
  for (const { name, valueFrom } of c.secrets)
    out.set(`secret.${name}`, { value: "(secret)", shown: `from Secrets Manager (${valueFrom.split(":").pop()})` });

  const mappings = c.portMappings ?? [];
  out.set("port", plain(mappings.map((p) => `${p.containerPort}/${p.protocol}`).join(", ") || "(none)"));
  out.set(
    "port.published",
    plain(
      mappings.map((p) => `load balancer -> ${p.containerPort} (awsvpc, no host port)`).join(", ") || "(not published)",
    ),
  );
  healthFacets(c.healthCheck, out);
  hardeningFacets(
    {
      user: c.user,
      readOnly: c.readonlyRootFilesystem === true,
      dropped: c.linuxParameters?.capabilities?.drop ?? [],
      init: c.linuxParameters?.initProcessEnabled === true,
      mounts: (c.mountPoints ?? []).map((m) => m.containerPath),
    },
    out,
  );
  // Fargate tasks have no swap.
  out.set("resources", plain(describeResources(Number(task.cpu), Number(task.memory), false)));
  out.set("restart", plain(`ECS service keeps ${options.desiredCount} task(s) running, replaces unhealthy ones`));
  const log = c.logConfiguration;
  out.set(
    "logging",
    plain(`${log.logDriver} to ${log.options["awslogs-group"]} (prefix ${log.options["awslogs-stream-prefix"]})`),
  );
  out.set("startup", plain("after the migration task (mlflow-dev promote runs it before the rollout)"));
  out.set("platform", plain(`${task.runtimePlatform.operatingSystemFamily}/${task.runtimePlatform.cpuArchitecture}`));

  for (const key of Object.keys(c))
    if (!KNOWN_CONTAINER_KEYS.has(key))
      out.set(`field.${key}`, plain(JSON.stringify((c as unknown as Record<string, unknown>)[key])));
  return out;
}
