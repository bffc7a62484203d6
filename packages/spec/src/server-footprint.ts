/**
 * How much CPU and memory the MLflow server needs for the process model a spec configures, and the
 * task size each environment runs it in. The one place for these facts: validation, the resolver
 * and the renderers of both runtimes read them.
 */

/**
 * The measured memory model of `mlflow server` (peak RSS of the whole container under the live
 * parity workload), from `pnpm bench --footprint`. Re-measure when the MLflow pin moves.
 * Measured peaks (MiB), jobs off / on: 1 worker 214 / 1681, 2 workers 406 / 1869, 4 workers
 * 747 / 2205; the model lies at or above each of them. With jobs off, `mlflow server` hands
 * uvicorn's command to the container's main process, which runs it (SERVER_PROGRAM,
 * runtime-contract.ts); with jobs on MLflow's process stays, to launch and watch the job runner.
 * Since 0.7.0 uvicorn's workers are forks of one process that imported MLflow's app (and froze
 * its objects for the garbage collector; since 0.8.0, with jobs off, uvicorn's own process), so
 * they share that memory: on 2026-12-07 the peaks were 1 worker 215 / 1685, 2 workers 306 / 1787,
 * 4 workers 357 / 1840. The model keeps the figures
 * of separate workers: a worker that runs for days writes to more of the pages it shares (every
 * object it touches), and no run here lasted that long.
 */
export const SERVER_MEMORY_MODEL = {
  mlflowVersion: "3.17.2",
  measuredOn: "2026-12-01",
  /** uvicorn's supervisor (the container's main process) and multiprocessing's resource tracker. */
  baseMiB: 55,
  /** One uvicorn worker (imports MLflow's FastAPI and Flask apps). */
  perWorkerMiB: 178,
  /** Job execution: the job runner, its seven huey consumer processes, and `mlflow server`'s own process that launches them. */
  jobsMiB: 1460,
  /** Memory kept free above the estimate: allocation peaks, page cache, a larger request. */
  headroom: 0.25,
} as const;

/** The server's processes in one environment. */
export interface ServerProcesses {
  workers: number;
  /** MLflow's job execution (MLFLOW_SERVER_ENABLE_JOB_EXECUTION). */
  jobs: boolean;
}

/** CPU units (1024 = 1 vCPU) and memory (MiB) of the MLflow task or container. */
export interface TaskSize {
  cpu: number;
  memory: number;
}

/** The task size an AWS environment gets when the spec gives none; the local stack's too, when it mirrors none. */
export const DEFAULT_TASK_SIZE: TaskSize = { cpu: 512, memory: 1024 };

/** Workers when the spec gives none: one per half vCPU, at least 1, at most 8. */
export function defaultWorkers(cpu: number): number {
  return Math.min(8, Math.max(1, Math.floor(cpu / 512)));
}

/** Estimated peak memory (MiB) of the server with these processes. */
export function estimateServerMemory(p: ServerProcesses): number {
  const m = SERVER_MEMORY_MODEL;
  return m.baseMiB + p.workers * m.perWorkerMiB + (p.jobs ? m.jobsMiB : 0);
}

/** The memory (MiB) a task needs for the server: the estimate plus the headroom. */
export function requiredServerMemory(p: ServerProcesses): number {
  return Math.ceil(estimateServerMemory(p) * (1 + SERVER_MEMORY_MODEL.headroom));
}

/** Why `memory` cannot hold the server, or undefined when it can. `fix` says what to change. */
export function memoryShortfall(p: ServerProcesses, memory: number, fix: string): string | undefined {
  const need = requiredServerMemory(p);
  if (memory >= need) return undefined;
  const m = SERVER_MEMORY_MODEL;
  const parts = [`base ${m.baseMiB}`, `${p.workers} × ${m.perWorkerMiB} per worker`];
  if (p.jobs) parts.push(`${m.jobsMiB} for the job runner and its consumers`);
  return (
    `${memory} MiB cannot hold the MLflow server it runs: ${p.workers} worker${p.workers === 1 ? "" : "s"}` +
    ` with job execution ${p.jobs ? "on" : "off"} need about ${estimateServerMemory(p)} MiB (${parts.join(" + ")};` +
    ` measured on MLflow ${m.mlflowVersion}, ${m.measuredOn}), ${need} MiB with ${m.headroom * 100}% headroom.` +
    ` ${fix}`
  );
}
