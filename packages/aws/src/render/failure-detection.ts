import { estimatedStartSeconds } from "@mlflow-dev/spec";
import type { AwsModel } from "./aws-model.ts";

/**
 * How long AWS takes to detect and roll back a broken revision of the service: pure arithmetic over
 * the settings the template renders (the container health check, the target group's checks, the
 * service's grace period, the deployment circuit breaker). `mlflow-dev plan` prints it.
 */

/** The target group's health check and draining, beside the container health check's interval and timeout. */
export const TARGET_GROUP_HEALTH = {
  /** Consecutive passed checks before a target is healthy. */
  healthyThresholdCount: 2,
  /** Consecutive failed checks before a target is unhealthy (after the service's grace period). */
  unhealthyThresholdCount: 3,
  /** Seconds a deregistered target keeps its open requests before its task is stopped. */
  deregistrationDelaySeconds: 30,
} as const;

/**
 * Seconds from ECS placing a Fargate task to its container starting: capacity, the network
 * interface, the image pull (about 1 GiB for the MLflow image). An assumption, not measured here
 * (no AWS account): AWS quotes tens of seconds to minutes, growing with the image.
 */
export const FARGATE_LAUNCH_SECONDS = 60;

/** Seconds ECS ignores failing load balancer health checks after a task starts: the start period plus two intervals. */
export function healthCheckGracePeriod(model: AwsModel): number {
  const hc = model.mlflow.healthCheck;
  return hc.startPeriodSeconds + 2 * hc.intervalSeconds;
}

/**
 * How many failed task launches ECS's deployment circuit breaker takes before it gives up on a
 * deployment: half the desired count, at least 3 and at most 200. A CloudFormation update of the
 * service waits for the deployment, so this is also how long a broken revision holds the stack.
 */
export function circuitBreakerThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(desiredCount / 2)));
}

export interface FailureDetection {
  /** Failed launches before the circuit breaker trips (circuitBreakerThreshold). */
  failedLaunches: number;
  /** A task's launch before its container starts (FARGATE_LAUNCH_SECONDS, assumed). */
  launchSeconds: number;
  /** From the container's start until its own health check declares it unhealthy: start period + retries × interval. */
  containerCheckSeconds: number;
  /** From the container's start until the target group declares it unhealthy: grace period + threshold × interval. */
  loadBalancerCheckSeconds: number;
  /** Deregistration delay of a replaced task. */
  stopSeconds: number;
  /** One failed launch: launch + the later of the two checks (a server only one of them sees failing) + stop. */
  perFailedLaunchSeconds: number;
  /** The previous revision deployed again: launch + its measured start + the target group's healthy checks + draining. */
  rollbackSeconds: number;
  /** failedLaunches × perFailedLaunchSeconds + rollbackSeconds. */
  totalSeconds: number;
  /** totalSeconds in whole minutes, rounded up. */
  minutes: number;
}

/**
 * The bound for a broken revision of this environment's service on AWS: the circuit breaker's
 * threshold of failed launches, each detected by the later of the two health checks (a revision
 * whose server answers one of them only is still caught), then the rollback's own deployment.
 * A revision whose container exits is caught sooner (no health check to wait for).
 */
export function failureDetectionBound(model: AwsModel): FailureDetection {
  const hc = model.mlflow.healthCheck;
  const tg = TARGET_GROUP_HEALTH;
  const failedLaunches = circuitBreakerThreshold(model.target.desiredCount);
  const containerCheckSeconds = hc.startPeriodSeconds + hc.retries * hc.intervalSeconds;
  const loadBalancerCheckSeconds = healthCheckGracePeriod(model) + tg.unhealthyThresholdCount * hc.intervalSeconds;
  const stopSeconds = tg.deregistrationDelaySeconds;
  const perFailedLaunchSeconds =
    FARGATE_LAUNCH_SECONDS + Math.max(containerCheckSeconds, loadBalancerCheckSeconds) + stopSeconds;
  const start = estimatedStartSeconds({
    cpu: model.resources.cpu,
    workers: model.mlflow.workers,
    jobs: model.mlflow.jobs,
  });
  const rollbackSeconds = Math.ceil(
    FARGATE_LAUNCH_SECONDS + start + tg.healthyThresholdCount * hc.intervalSeconds + stopSeconds,
  );
  const totalSeconds = failedLaunches * perFailedLaunchSeconds + rollbackSeconds;
  return {
    failedLaunches,
    launchSeconds: FARGATE_LAUNCH_SECONDS,
    containerCheckSeconds,
    loadBalancerCheckSeconds,
    stopSeconds,
    perFailedLaunchSeconds,
    rollbackSeconds,
    totalSeconds,
    minutes: Math.ceil(totalSeconds / 60),
  };
}

/** The bound for humans: the sentence and how it adds up. */
export function describeFailureDetection(d: FailureDetection): string[] {
  return [
    `a broken revision is detected and rolled back within about ${d.minutes} minutes`,
    `(${d.failedLaunches} failed launches × ${d.perFailedLaunchSeconds} s: ${d.launchSeconds} s to launch, ` +
      `${Math.max(d.containerCheckSeconds, d.loadBalancerCheckSeconds)} s of health checks, ${d.stopSeconds} s to drain; ` +
      `then ${d.rollbackSeconds} s to run the previous revision again)`,
  ];
}
