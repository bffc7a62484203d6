export type { Reporter } from "@mlflow-dev/kernel/progress";
export {
  type Clock,
  type PollOptions,
  poll,
  realClock,
  secondsSince,
  WaitMeter,
  type WaitOptions,
} from "@mlflow-dev/kernel/wait";
export { type HttpResponse, type HttpTarget, send, targetFor } from "@mlflow-dev/mlflow-client";
export * from "./backup-restore.ts";
export * from "./destroy.ts";
export * from "./diff.ts";
export * from "./engine/bucket.ts";
export * from "./engine/change-set.ts";
export * from "./engine/clients.ts";
export * from "./engine/db-snapshots.ts";
export * from "./engine/engine.ts";
export * from "./engine/iam-propagation.ts";
export * from "./engine/image.ts";
export * from "./engine/lock.ts";
export * from "./engine/preflight.ts";
export * from "./engine/preflight-account.ts";
export * from "./engine/secrets.ts";
export * from "./engine/stack-events.ts";
export * from "./engine/stack-info.ts";
export * from "./engine/stack-wait.ts";
export * from "./errors.ts";
export * from "./exec.ts";
export * from "./in-vpc-smoke.ts";
export * from "./in-vpc-smoke-program.ts";
export * from "./infrastructure.ts";
export * from "./logs.ts";
export * from "./options.ts";
export * from "./plan.ts";
export * from "./promote.ts";
export * from "./smoke.ts";
export * from "./stack-status.ts";
export * from "./stateful.ts";
export * from "./status.ts";
