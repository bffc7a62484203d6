import type { Model } from "@mlflow-dev/spec";
import { awsTarget, type DeployContext } from "./context.ts";
import { migrationFamily, taskFamily } from "./names.ts";

type KV = { name: string; value: string };

/** The MLflow server's environment on AWS: the model's common settings + the AWS-side ones. */
export function awsEnvironment(model: Model, ctx: DeployContext): KV[] {
  const t = awsTarget(model);
  const env: Record<string, string> = {
    ...model.mlflow.environment,
    MLFLOW_DB_HOST: ctx.databaseHost,
    AWS_DEFAULT_REGION: t.region,
    MLFLOW_SERVER_ALLOWED_HOSTS: allowedHosts(model, ctx).join(","),
  };
  return Object.entries(env)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
}

export function allowedHosts(model: Model, ctx: DeployContext): string[] {
  const t = awsTarget(model);
  return [
    ...new Set([
      ...model.mlflow.allowedHosts,
      ...(t.domain ? [t.domain] : []),
      "*.elb.amazonaws.com",
      ...(ctx.extraAllowedHosts ?? []),
    ]),
  ];
}

export function toSecrets(model: Model, ctx: DeployContext): Array<{ name: string; valueFrom: string }> {
  return model.mlflow.secrets
    .map((ref) => {
      const arn = ctx.secretArns[ref.name];
      if (!arn) throw new Error(`internal error: no secret ARN for ${ref.name}`);
      return { name: ref.env, valueFrom: arn };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

function base(model: Model, ctx: DeployContext, family: string) {
  const t = awsTarget(model);
  return {
    family,
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
    cpu: String(t.cpu),
    memory: String(t.memory),
    executionRoleArn: ctx.executionRoleArn,
    taskRoleArn: ctx.taskRoleArn,
  };
}

function logConfiguration(model: Model, ctx: DeployContext, prefix: string) {
  return {
    logDriver: "awslogs",
    options: {
      "awslogs-group": ctx.logGroupName,
      "awslogs-region": awsTarget(model).region,
      "awslogs-stream-prefix": prefix,
    },
  };
}

/** The ECS RegisterTaskDefinition input for the MLflow server. Pure. */
export function toTaskDefinition(model: Model, ctx: DeployContext) {
  const hc = model.mlflow.healthCheck;
  return {
    ...base(model, ctx, taskFamily(model)),
    containerDefinitions: [
      {
        name: "mlflow",
        image: ctx.imageUri,
        essential: true,
        entryPoint: model.mlflow.entrypoint,
        command: model.mlflow.command,
        portMappings: [{ containerPort: model.mlflow.port, protocol: "tcp", name: "http" }],
        environment: awsEnvironment(model, ctx),
        secrets: toSecrets(model, ctx),
        healthCheck: {
          command: ["CMD", ...hc.command],
          interval: hc.intervalSeconds,
          timeout: hc.timeoutSeconds,
          retries: hc.retries,
          startPeriod: hc.startPeriodSeconds,
        },
        logConfiguration: logConfiguration(model, ctx, "mlflow"),
        readonlyRootFilesystem: false,
      },
    ],
  };
}

/** The one-off database migration task (`mlflow db upgrade` equivalent), run before each rollout. */
export function toMigrationTaskDefinition(model: Model, ctx: DeployContext) {
  return {
    ...base(model, ctx, migrationFamily(model)),
    containerDefinitions: [
      {
        name: "migrate",
        image: ctx.imageUri,
        essential: true,
        entryPoint: model.mlflow.migration.entrypoint,
        command: model.mlflow.migration.command,
        environment: awsEnvironment(model, ctx),
        secrets: toSecrets(model, ctx),
        logConfiguration: logConfiguration(model, ctx, "migrate"),
      },
    ],
  };
}
