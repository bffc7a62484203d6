import { basename, dirname } from "node:path";
import type { PublishedPort } from "./docker-engine.ts";

/** A host port of the spec that something else holds. */
export interface TakenPort {
  address: string;
  port: number;
  /** The spec's key: environments.local.ports.<key>. */
  key: string;
}

/**
 * Pure: the error text for ports the stack cannot publish, naming who holds each one when Docker
 * knows (another mlflow-dev checkout's stack, another compose project, a container), and how to
 * fix it. `holders` are the running containers' published ports.
 */
export function portClash(
  taken: readonly TakenPort[],
  holders: readonly PublishedPort[],
): { message: string; hint: string } {
  const lines: string[] = [];
  const checkouts = new Set<string>();
  let others = false;
  for (const t of taken) {
    const h = holders.find((p) => p.port === t.port);
    const where = `${t.address}:${t.port} (environments.local.ports.${t.key})`;
    if (h?.project?.startsWith("mlflow-dev-") && h.workingDir && basename(h.workingDir) === ".mlflow-dev") {
      const checkout = dirname(h.workingDir);
      checkouts.add(checkout);
      // The stack's network holder publishes its ports: which service says nothing to the user.
      lines.push(`${where}: held by the local stack ${h.project} of the checkout ${checkout}`);
    } else if (h) {
      others = true;
      lines.push(
        `${where}: held by the container ${h.container}${h.project ? ` (compose project ${h.project}, service ${h.service})` : ""}`,
      );
    } else {
      others = true;
      lines.push(`${where}: in use by a program outside Docker`);
    }
  }
  const where = [...checkouts].join(", ");
  const hint =
    checkouts.size > 0
      ? `Each checkout of a project runs a stack of its own: stop the other one (\`mlflow-dev down\` in ${where}), or, to run both at once, give this checkout free ports under environments.local.ports in its spec.${others ? " Stop whatever else listens there." : ""} Nothing was started.`
      : "Stop whatever listens there, or choose free ports under environments.local.ports in the spec. Nothing was started.";
  return {
    message: `port${taken.length > 1 ? "s" : ""} already in use:\n  ${lines.join("\n  ")}`,
    hint,
  };
}
