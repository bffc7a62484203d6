import type { AwsEnv, Spec } from "./schema.ts";
import { DEFAULT_TASK_SIZE, defaultWorkers, type ServerProcesses, type TaskSize } from "./server-footprint.ts";

/** A task size and where it comes from, for messages and reports. */
export interface ResolvedTaskSize extends TaskSize {
  /** e.g. "environments.staging", "environments.local.resources", "the default Fargate size". */
  source: string;
}

/** The spec's AWS environments (every environment but `local`), in file order. */
export function awsEnvironmentNames(spec: Spec): string[] {
  return Object.keys(spec.environments).filter((k) => k !== "local" && spec.environments[k] !== undefined);
}

/**
 * The CPU and memory limits of the local MLflow container: environments.local.resources, else the
 * AWS environment it mirrors (environments.local.mirror, or the spec's only one), else the default
 * Fargate size. Validation refuses a spec where this is ambiguous.
 */
export function localTaskSize(spec: Spec): ResolvedTaskSize {
  const local = spec.environments.local;
  if (local?.resources) return { ...local.resources, source: "environments.local.resources" };
  const mirrored = mirroredEnvironment(spec);
  const env = mirrored === undefined ? undefined : (spec.environments[mirrored] as AwsEnv | undefined);
  if (mirrored !== undefined && env !== undefined)
    return { cpu: env.cpu, memory: env.memory, source: `environments.${mirrored}` };
  return { ...DEFAULT_TASK_SIZE, source: "the default Fargate size" };
}

/** The AWS environment the local stack mirrors: environments.local.mirror, or the spec's only one. */
export function mirroredEnvironment(spec: Spec): string | undefined {
  const aws = awsEnvironmentNames(spec);
  return spec.environments.local?.mirror ?? (aws.length === 1 ? aws[0] : undefined);
}

/** The task size of any environment of the spec. */
export function environmentTaskSize(spec: Spec, environment: string): ResolvedTaskSize {
  if (environment === "local") return localTaskSize(spec);
  const env = spec.environments[environment] as AwsEnv;
  return { cpu: env.cpu, memory: env.memory, source: `environments.${environment}` };
}

/** The server's processes at this CPU size: mlflow.workers, or the default for the CPU. */
export function serverProcesses(spec: Spec, cpu: number): ServerProcesses {
  return { workers: spec.mlflow.workers ?? defaultWorkers(cpu), jobs: spec.mlflow.jobs };
}
