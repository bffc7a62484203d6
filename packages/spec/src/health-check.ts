/**
 * The MLflow server's container health check, the same on both runtimes (Docker's healthcheck
 * locally, the task definition's healthCheck on ECS), and the measured start time its start period
 * comes from. The one place for these facts: the resolver, the schema and the AWS failure-detection
 * bound read them.
 */
import type { HealthCheck } from "./model.ts";
import type { RuleProblem } from "./parse.ts";
import { MLFLOW_CONTAINER_PORT } from "./pins.ts";
import type { Spec } from "./schema.ts";
import type { ServerProcesses } from "./server-footprint.ts";
import { environmentTaskSize, serverProcesses } from "./task-size.ts";

/**
 * Docker runs the first check one interval after the start (engine 20.10 has no start_interval), so
 * the interval is how late a started server is seen healthy: the shortest ECS and the ALB allow.
 */
export const HEALTH_CHECK_INTERVAL_SECONDS = 5;
/**
 * The server's health probe: one GET of /health on `port` over bash's /dev/tcp, passing on a 200
 * status line within 3 s. It runs every interval for the life of the server, on the task's own
 * CPU: 2.6 ms of CPU against 75 ms for the Python one-liner it replaced (urllib's import), `pnpm
 * bench --health-probe` on 2026-12-07: every 5 s, 0.05 % of a core instead of 1.5 % (6 % of a
 * 256-unit task). bash is in the server image (Debian's python:3.13-slim) and every image built on
 * it.
 */
export function healthProbeScript(port: number): string {
  return `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET /health HTTP/1.0\\r\\nHost: 127.0.0.1:${port}\\r\\n\\r\\n' >&3 && IFS= read -r -t 3 status <&3 && [[ $status == "HTTP/1."?" 200 "* ]]`;
}
/** The probe of the server's own port, on both runtimes. */
export const HEALTH_PROBE_SCRIPT = healthProbeScript(MLFLOW_CONTAINER_PORT);
/** Below the interval, as the ALB requires. */
export const HEALTH_CHECK_TIMEOUT_SECONDS = 4;
/** 10 failed checks 5 s apart (50 s) before a started server is replaced: ECS's maximum. */
export const DEFAULT_HEALTH_CHECK_RETRIES = 10;
/** What ECS accepts (RegisterTaskDefinition), so a spec valid here renders on both runtimes. */
export const HEALTH_CHECK_RETRY_LIMITS = [1, 10] as const;
export const START_PERIOD_LIMITS = [0, 300] as const;

/**
 * Seconds from the server container's start to its first GET /health 200, measured with
 * `pnpm bench --start-time` (bench/start-time.ts): examples/basic as a local stack, its PostgreSQL
 * and MinIO up, the server container under the size's CPU quota and memory limit with the workers
 * given, stopped and started 3 times, /health polled every 100 ms; the median and the slowest.
 * Measured on a 2-core machine shared with other builds (load average about 18), so the figures are
 * pessimistic: on an idle machine the same server started in 15.1 s at 512 CPU units with 2
 * workers (`pnpm bench --startup`, 2026-12-01). The image's files were in the page cache (a task
 * on a fresh Fargate host reads them from disk): the margin covers that. Re-measure when the
 * MLflow pin moves.
 *
 * The estimate is an upper envelope of the slowest starts (a unit test holds it at or above each):
 * a fixed part plus a part per importing process (every worker, and with job execution the job
 * runner and its seven consumers). On this host a larger CPU quota did not make the start faster
 * (1024 and 2048 CPU units were bound by the busy host, not by their quota), so from 512 CPU units
 * up the estimate does not shrink with the size; below 512 it grows in proportion (not measured).
 */
export const SERVER_START_TIMES = {
  mlflowVersion: "3.17.2",
  measuredOn: "2026-12-07",
  rows: [
    { cpu: 512, workers: 1, medianSeconds: 32.2, maxSeconds: 35.0 },
    { cpu: 512, workers: 2, medianSeconds: 51.2, maxSeconds: 52.2 },
    { cpu: 1024, workers: 2, medianSeconds: 42.5, maxSeconds: 44.1 },
    { cpu: 2048, workers: 4, medianSeconds: 65.8, maxSeconds: 81.1 },
  ],
  /** Seconds that do not depend on the processes (the launcher, the store's first connection). */
  fixedSeconds: 26,
  /**
   * Seconds per importing process (MLflow's FastAPI and Flask apps), measured when each worker
   * imported them; since 0.7.0 one process imports them for all the workers, and since 0.8.0 that
   * is the process that also ran MLflow's CLI (SERVER_PROGRAM), so the estimate errs long (a later
   * failure verdict, never a healthy server replaced).
   */
  perProcessSeconds: 14,
  /** The CPU units the figures hold for; a smaller task is slower in proportion. */
  baseCpu: 512,
  /** The processes job execution adds beside the workers: the job runner and its seven consumers (not measured). */
  jobProcesses: 8,
} as const;

/**
 * How the default start period is derived from the estimate: 1.5 times it (a cold page cache, a
 * slower vCPU), plus 10 s, rounded up to 5 s. A healthy server has the start period and then every
 * retry (50 s by default) to answer.
 */
export const START_PERIOD_MARGIN = { factor: 1.5, plusSeconds: 10, roundTo: 5 } as const;

/** The server's estimated start time (seconds, to its first /health 200) at this CPU size with these processes. */
export function estimatedStartSeconds(p: ServerProcesses & { cpu: number }): number {
  const m = SERVER_START_TIMES;
  const processes = p.workers + (p.jobs ? m.jobProcesses : 0);
  return (m.fixedSeconds + processes * m.perProcessSeconds) * Math.max(1, m.baseCpu / p.cpu);
}

/** The default start period: the estimate with START_PERIOD_MARGIN, within what ECS accepts. */
export function defaultStartPeriodSeconds(p: ServerProcesses & { cpu: number }): number {
  const { factor, plusSeconds, roundTo } = START_PERIOD_MARGIN;
  const seconds = Math.ceil((estimatedStartSeconds(p) * factor + plusSeconds) / roundTo) * roundTo;
  return Math.min(START_PERIOD_LIMITS[1], seconds);
}

/** The server's health check in an environment: the spec's mlflow.healthCheck, else the defaults for its size. */
export function resolveHealthCheck(spec: Spec, cpu: number, processes: ServerProcesses): HealthCheck {
  const own = spec.mlflow.healthCheck;
  return {
    command: ["bash", "-c", HEALTH_PROBE_SCRIPT],
    intervalSeconds: HEALTH_CHECK_INTERVAL_SECONDS,
    timeoutSeconds: HEALTH_CHECK_TIMEOUT_SECONDS,
    retries: own?.retries ?? DEFAULT_HEALTH_CHECK_RETRIES,
    startPeriodSeconds: own?.startPeriodSeconds ?? defaultStartPeriodSeconds({ ...processes, cpu }),
  };
}

/**
 * A spec's own start period and retries that would replace a healthy server before it answers: at
 * an environment's size the server's estimated start comes after the start period and every retry.
 * A warning, not an error: the estimate is a model, and a test may want exactly that.
 */
export function healthCheckWarnings(spec: Spec): RuleProblem[] {
  const own = spec.mlflow.healthCheck;
  if (own?.startPeriodSeconds === undefined && own?.retries === undefined) return [];
  const problems: RuleProblem[] = [];
  for (const environment of Object.keys(spec.environments)) {
    if (spec.environments[environment] === undefined) continue;
    const size = environmentTaskSize(spec, environment);
    const processes = serverProcesses(spec, size.cpu);
    const hc = resolveHealthCheck(spec, size.cpu, processes);
    const tolerated = hc.startPeriodSeconds + hc.retries * hc.intervalSeconds;
    const start = estimatedStartSeconds({ ...processes, cpu: size.cpu });
    if (tolerated >= start) continue;
    const setting = own.startPeriodSeconds !== undefined ? "startPeriodSeconds" : "retries";
    problems.push({
      setting: `mlflow.healthCheck.${setting}`,
      message: `with ${hc.startPeriodSeconds} s of start period and ${hc.retries} retries ${hc.intervalSeconds} s apart, the server of environments.${environment} (${size.cpu} CPU units, ${processes.workers} worker${processes.workers === 1 ? "" : "s"}) is declared unhealthy after ${tolerated} s, before its estimated start of ${Math.ceil(start)} s (measured on MLflow ${SERVER_START_TIMES.mlflowVersion}): a healthy server would be replaced. Remove the setting to get ${defaultStartPeriodSeconds({ ...processes, cpu: size.cpu })} s, or raise it`,
    });
  }
  return problems;
}
