import { type AwsModel, placeholderContext, toTaskDefinition } from "@mlflow-dev/aws";
import { toComposeFile } from "@mlflow-dev/compose";
import type { LocalModel, ParityDeclaration } from "@mlflow-dev/spec";
import { BUILTIN_DECLARATIONS } from "./builtin.ts";
import { composeFacets, type Facets, taskFacets } from "./facets.ts";

/** One compared setting that differs between the two renderings. */
export interface Difference {
  /** The setting as `parity.declared` names it: env.NAME, secret.NAME, arg.--flag, image, ... */
  setting: string;
  /** The local rendering's value; null when the setting is absent there. */
  local: string | null;
  /** The AWS rendering's value; null when absent. */
  remote: string | null;
  /** Why the difference is intended (declared differences only). */
  reason?: string;
  /** Who declared it: mlflow-dev itself or the spec's parity.declared. */
  declaredBy?: "built-in" | "spec";
}

export interface StaticParityReport {
  /** The AWS environment compared with `local`. */
  environment: string;
  /** Every setting compared. */
  compared: number;
  /** Settings identical on both sides. */
  same: string[];
  declared: Difference[];
  drift: Difference[];
  /** Entries of parity.declared that matched no difference (stale declarations). */
  unusedDeclarations: ParityDeclaration[];
}

/**
 * Static parity: the rendered compose `mlflow` service (from the local Model) against the ECS
 * container definition (from the AWS environment's Model, with placeholder deploy facts). Pure.
 * Every difference is declared (built in, or in the spec's parity.declared) or drift.
 */
export function staticParity(local: LocalModel, remote: AwsModel): StaticParityReport {
  const file = toComposeFile(local);
  const composeService = withSharedNetwork(file.services.mlflow ?? {}, file.services, local.mlflow.port);
  const task = toTaskDefinition(remote, placeholderContext(remote));
  const image = remote.mlflow.image;
  const a: Facets = composeFacets(composeService, local.mlflow.server);
  const b: Facets = taskFacets(task, {
    desiredCount: remote.target.desiredCount,
    server: remote.mlflow.server,
    ...(image.kind === "build"
      ? { builtFrom: { context: image.context, ...(image.baseImage ? { baseImage: image.baseImage } : {}) } }
      : {}),
  });

  const userDeclared = new Map(remote.parity.declared.map((d) => [d.setting, d]));
  const used = new Set<string>();
  const settings = [...new Set([...a.keys(), ...b.keys()])].sort(compareSettings);
  const report: StaticParityReport = {
    environment: remote.environment,
    compared: settings.length,
    same: [],
    declared: [],
    drift: [],
    unusedDeclarations: [],
  };
  for (const setting of settings) {
    const l = a.get(setting);
    const r = b.get(setting);
    if (l !== undefined && r !== undefined && l.value === r.value) {
      report.same.push(setting);
      continue;
    }
    const diff: Difference = { setting, local: l?.shown ?? null, remote: r?.shown ?? null };
    const mine = userDeclared.get(setting);
    const builtin = BUILTIN_DECLARATIONS.find(
      (d) => d.setting === setting && d.applies(l?.value, r?.value, { local, remote }),
    );
    if (mine) {
      used.add(setting);
      report.declared.push({ ...diff, reason: mine.reason, declaredBy: "spec" });
    } else if (builtin) report.declared.push({ ...diff, reason: builtin.reason, declaredBy: "built-in" });
    else report.drift.push(diff);
  }
  report.unusedDeclarations = remote.parity.declared.filter((d) => !used.has(d.setting));
  return report;
}

/** Settings in reading order: image, command, flags, the auth config, env, secrets, then the rest. */
const ORDER = [
  "image",
  "entrypoint",
  "command",
  "arg.",
  "auth.",
  "env.",
  "secret.",
  "port",
  "healthcheck.",
  "resources",
];
function rank(setting: string): number {
  for (const [i, p] of ORDER.entries()) if (p.endsWith(".") ? setting.startsWith(p) : setting === p) return i;
  return ORDER.length;
}
function compareSettings(x: string, y: string): number {
  return rank(x) - rank(y) || (x < y ? -1 : x > y ? 1 : 0);
}

/**
 * The server's service as it runs: one that joins another service's network namespace
 * (`network_mode: service:<name>`) is published through that service's ports, the ones that
 * reach the server's own port.
 */
function withSharedNetwork(
  service: Record<string, unknown>,
  services: Record<string, Record<string, unknown>>,
  containerPort: number,
): Record<string, unknown> {
  const m = /^service:(.+)$/.exec(String(service.network_mode ?? ""));
  if (!m) return service;
  const { network_mode: _joined, ...rest } = service;
  const holder = services[m[1] ?? ""] ?? {};
  const ports = ((holder.ports ?? []) as string[]).filter((p) => p.endsWith(`:${containerPort}`));
  return { ...rest, ports };
}
