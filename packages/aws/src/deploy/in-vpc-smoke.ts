import type { HttpTarget } from "@mlflow-dev/mlflow-client";
import { AUTH_ADMIN_USER } from "@mlflow-dev/spec";
import type { AwsModel } from "../render/aws-model.ts";
import type { AwsEngine } from "./engine/engine.ts";
import { DeployError } from "./errors.ts";
import { runOneOffTask } from "./exec.ts";
import { inVpcFailure, inVpcSmokeArgv, parseInVpcResult } from "./in-vpc-smoke-program.ts";
import { type RunnerOptions, waitOf } from "./options.ts";
import { SMOKE_EXPERIMENT, type SmokeOptions, type SmokeResult, smokeTest, waitForHealth } from "./smoke.ts";

/**
 * How promote checks an environment behind an internal load balancer: from inside its VPC. The
 * load balancer has private addresses only, so the machine that runs promote may not reach it;
 * the health wait and the smoke test then run as a one-off Fargate task of the service's own task
 * definition (its image, its secrets, its subnets and security group: exec.ts's runOneOffTask)
 * whose command is in-vpc-smoke-program.ts, dialling the internal load balancer's DNS name. It
 * signs in with the admin password the task holds, so no secret leaves AWS. The task's lines are
 * streamed to the reporter; a non-zero exit is a failed smoke test (promote rolls back as after any).
 *
 * On the emulator, whose load balancers answer on its own data plane by Host header, the task
 * dials the address its AWS_ENDPOINT_URL names (the emulator as seen from its network).
 */

/** The health wait and the smoke test, as promote calls them (promote.ts ServiceChecks). */
export interface ServiceCheckFunctions {
  waitForHealth: typeof waitForHealth;
  smokeTest: typeof smokeTest;
  /** The smoke test waits for the health path first (the in-VPC program does): no separate health task. */
  smokeWaitsForHealth?: boolean;
}

/** Whether promote checks the environment from inside its VPC: its load balancer is internal. */
export function checksRunInVpc(model: AwsModel): boolean {
  return model.target.access.loadBalancer === "internal";
}

/** The checks promote runs for this environment: in the VPC for an internal load balancer, else over HTTP from here. */
export function serviceChecksFor(model: AwsModel, engine: AwsEngine, options: RunnerOptions): ServiceCheckFunctions {
  if (!checksRunInVpc(model)) return { waitForHealth, smokeTest };
  return {
    waitForHealth: async (target, m, wait) => {
      await runInVpc("health", target, m, engine, options, wait);
    },
    smokeTest: (target, m, smoke) => runInVpc("smoke", target, m, engine, options, smoke),
    // One Fargate task per rollout (a minute or more of start on AWS), not two.
    smokeWaitsForHealth: true,
  };
}

async function runInVpc(
  mode: "health" | "smoke",
  target: HttpTarget,
  model: AwsModel,
  engine: AwsEngine,
  options: RunnerOptions,
  wait: Pick<SmokeOptions, "healthTimeoutMs" | "pollMs">,
): Promise<SmokeResult> {
  const { report } = options;
  const argv = inVpcSmokeArgv({
    mode,
    target,
    emulated: Boolean(engine.endpointUrl),
    healthPath: model.mlflow.healthPath,
    timeoutMs: wait.healthTimeoutMs,
    pollMs: wait.pollMs,
    environment: model.environment,
    experiment: SMOKE_EXPERIMENT,
    ...(mode === "smoke" && model.mlflow.auth === "basic" ? { user: AUTH_ADMIN_USER } : {}),
  });
  report.info(
    `${mode === "health" ? "health check" : "smoke test"} from inside the VPC: a one-off task of the service's task definition calls ${target.url} (the load balancer is internal)`,
  );
  const lines: string[] = [];
  const run = await runOneOffTask(model, engine, argv, {
    wait: waitOf(options, "taskTimeoutMs"),
    onLine: (line) => {
      lines.push(line);
      if (!parseInVpcResult(line)) report.info(line);
    },
    onStatus: (status) => report.info(status.startsWith("started") ? status : `one-off task: ${status}`),
  }).catch((e: unknown) => {
    throw new DeployError(
      `the ${mode === "health" ? "health check" : "smoke test"} inside the VPC did not run: ${(e as Error).message}`,
      { cause: e, ...(e instanceof DeployError && e.hint ? { hint: e.hint } : {}) },
    );
  });
  const taskId = run.taskArn.split("/").pop() ?? run.taskArn;
  const result = lines.map(parseInVpcResult).find((r) => r !== undefined);
  if (run.exitCode !== 0 || !result) {
    const why =
      inVpcFailure(lines) ??
      (run.exitCode !== 0 ? `the task exited with code ${run.exitCode}` : "the task printed no result");
    throw new DeployError(
      `the ${mode === "health" ? "health check" : "smoke test"} inside the VPC failed (task ${taskId}, exit code ${run.exitCode}): ${why}`,
      {
        hint: `The task ran in the service's subnets with its security group; the internal load balancer's security group must admit them (access.sourceCidrs covers the VPC by default). mlflow-dev logs --env ${model.environment} shows the server's side.`,
      },
    );
  }
  return {
    url: target.url,
    oneOffTask: run.taskArn,
    ...(result.experimentId ? { experimentId: result.experimentId } : {}),
    ...(result.runId ? { runId: result.runId } : {}),
    ...(result.artifactPath
      ? { artifactPath: result.artifactPath, artifactObject: `${model.artifacts.destination}/${result.artifactPath}` }
      : {}),
  };
}
