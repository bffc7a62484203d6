import { bindingSetting, type ParityApplies, type ParityContext, RUNTIME_BINDINGS } from "@mlflow-dev/spec";

/**
 * The differences between the local stack and ECS that mlflow-dev makes on purpose, each with its
 * reason. A built-in declaration covers a difference only when `applies` holds, so a change that
 * goes further than the reason (say a spec host missing on one side) is still drift.
 */
export interface BuiltinDeclaration {
  setting: string;
  reason: string;
  applies: ParityApplies;
}

export type BuiltinContext = ParityContext;

const bothSides: ParityApplies = (l, r) => l !== undefined && r !== undefined;

/**
 * The differences in how each runtime runs the container (not variables): how the port is
 * reached, restarts, logs, start-up order and platform. The variables' declarations come from the
 * runtime contract's bindings.
 */
export const RUNTIME_SHAPE_DECLARATIONS: readonly BuiltinDeclaration[] = [
  {
    setting: "port.published",
    reason:
      "Bind address: locally the port is published on environments.local.bindAddress (loopback by default); on AWS only the load balancer reaches the task's port.",
    applies: bothSides,
  },
  {
    setting: "restart",
    reason:
      "Restarts: Docker restarts the local container; on AWS the ECS service replaces stopped or unhealthy tasks.",
    applies: bothSides,
  },
  {
    setting: "logging",
    reason: "Logs: the Docker engine keeps them locally (mlflow-dev logs); on AWS they go to CloudWatch Logs.",
    applies: bothSides,
  },
  {
    setting: "startup",
    reason:
      "Start-up order: Compose starts the server after PostgreSQL, the bucket job and the migration job; on AWS promote runs the migration task before the rollout, and RDS and S3 exist before.",
    applies: bothSides,
  },
  {
    setting: "platform",
    reason:
      "Platform: the local container runs on the Docker host's architecture; Fargate tasks are pinned to LINUX/X86_64.",
    applies: bothSides,
  },
];

/**
 * Every built-in declaration: one per runtime binding (runtime-contract.ts: the variable, with
 * the reason its two values differ), then the runtime's shape.
 */
export const BUILTIN_DECLARATIONS: readonly BuiltinDeclaration[] = [
  ...RUNTIME_BINDINGS.map((b) => ({ setting: bindingSetting(b), reason: b.parity.reason, applies: b.parity.applies })),
  ...RUNTIME_SHAPE_DECLARATIONS,
];
