import type { LocalObjectStore } from "@mlflow-dev/spec";
import type { ServiceState } from "./docker-engine.ts";
import { jobServices } from "./local-stack.ts";

/**
 * A service of the local stack as `status` reports it (pure). A one-off job (the migration, the
 * object store's setup) is done when it has exited: `completed` with exit code 0, `failed` with
 * any other; its image's health check says nothing about it (Docker leaves a finished job
 * "unhealthy"), so a job's health is `none`. A long-running service's status is its container's
 * state.
 */
export interface ServiceReport extends ServiceState {
  kind: "job" | "service";
  /** running, completed, failed (a job), exited, restarting, created, ... */
  status: string;
}

export function reportServices(services: readonly ServiceState[], store: LocalObjectStore): ServiceReport[] {
  const jobs = jobServices(store);
  return services.map((s) => {
    if (!jobs.includes(s.service)) return { ...s, kind: "service", status: s.state };
    const finished = s.state === "exited" && s.exitCode !== undefined;
    return {
      ...s,
      kind: "job",
      status: finished ? (s.exitCode === 0 ? "completed" : "failed") : s.state,
      health: "none",
    };
  });
}
