import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnvFile } from "@mlflow-dev/kernel/env-file";
import type { MlflowClient } from "@mlflow-dev/mlflow-client";
import { AUTH_ADMIN_USER, environmentNames } from "@mlflow-dev/spec";
import { EXIT, UserError } from "../errors.ts";
import { imageOverridesFromEnv, type LoadedSpec, resolveAwsEnv, resolveLocalEnv } from "../load-spec.ts";

/**
 * The two ends of a model promotion: spec environments, reached and signed in to with what
 * mlflow-dev already holds (the local stack's .env, the AWS environment's Secrets Manager secret),
 * never with credentials given on the command line.
 */
export interface Endpoint {
  environment: string;
  url: string;
  client: MlflowClient;
  /** Where the credentials came from, for messages (never the value). */
  credentialsFrom?: string;
  close(): void;
}

export interface AwsFlags {
  profile?: string;
  endpointUrl?: string;
}

export async function openEndpoint(loaded: LoadedSpec, environment: string, aws: AwsFlags): Promise<Endpoint> {
  const names = environmentNames(loaded.spec);
  if (!names.includes(environment))
    throw new UserError(`models promote: ${loaded.shown} has no environment ${JSON.stringify(environment)}`, {
      exitCode: EXIT.invalidInput,
      hint: `Its environments: ${names.join(", ")}.`,
    });
  const { MlflowClient } = await import("@mlflow-dev/mlflow-client");
  // Large artifacts: a request may wait long for its first byte while the server streams to the store.
  const options = { timeoutMs: 600_000 };
  if (environment === "local") {
    const model = resolveLocalEnv(loaded, imageOverridesFromEnv());
    const { mlflowUrl, LOCAL_SECRET_VARS } = await import("@mlflow-dev/compose/runtime");
    const url = mlflowUrl(model);
    if (model.mlflow.auth !== "basic")
      return { environment, url, client: new MlflowClient(url, options), close: () => {} };
    const envFile = join(loaded.dir, ".mlflow-dev", ".env");
    const variable = LOCAL_SECRET_VARS["auth-admin-password"];
    const password = existsSync(envFile) ? parseEnvFile(readFileSync(envFile, "utf8")).get(variable) : undefined;
    if (!password)
      throw new UserError(`models promote: no ${variable} in ${envFile}`, {
        exitCode: EXIT.invalidInput,
        hint: "Start the local stack once with `mlflow-dev up`: it generates the admin's password there.",
      });
    return {
      environment,
      url,
      client: new MlflowClient(url, { ...options, credentials: { username: AUTH_ADMIN_USER, password } }),
      credentialsFrom: `${variable} of ${envFile}`,
      close: () => {},
    };
  }
  const model = resolveAwsEnv(loaded, environment, imageOverridesFromEnv());
  const deploy = await import("@mlflow-dev/aws/deploy");
  const { OutputName, stackName } = await import("@mlflow-dev/aws");
  const endpointUrl = deploy.endpointUrlFrom(aws.endpointUrl);
  const { openAwsEngine } = await import("../commands/aws-common.ts");
  const { clients, engine } = await openAwsEngine(deploy, {
    region: model.target.kind === "aws" ? model.target.region : "",
    profile: aws.profile,
    endpointUrl,
  });
  try {
    const stack = await engine.describeStack(stackName(model));
    const url = stack?.outputs[OutputName.serviceUrl];
    if (!url)
      throw new UserError(`models promote: nothing deployed for ${environment}`, {
        exitCode: EXIT.invalidInput,
        hint: `Run \`mlflow-dev promote --env ${environment}\` first.`,
      });
    const target = deploy.targetFor(url, endpointUrl, stack.outputs[OutputName.loadBalancerDns]);
    if (model.mlflow.auth !== "basic")
      return {
        environment,
        url,
        client: new MlflowClient(target, options),
        close: () => deploy.destroyAwsClients(clients),
      };
    const secret = deploy.authSecretName(model) ?? "";
    if (!deploy.credentialsMayTravel(target))
      throw new UserError(
        `models promote: ${environment} runs basic auth over plain HTTP to ${new URL(target.via ?? target.url).host}; the admin password is not sent there`,
        {
          exitCode: EXIT.invalidInput,
          hint: `Set environments.${environment}.domain and certificateArn (HTTPS), or run from inside the VPC over a tunnel to 127.0.0.1.`,
        },
      );
    const password = await engine.readSecret(secret);
    return {
      environment,
      url,
      client: new MlflowClient(target, { ...options, credentials: { username: AUTH_ADMIN_USER, password } }),
      credentialsFrom: `the Secrets Manager secret ${secret}`,
      close: () => deploy.destroyAwsClients(clients),
    };
  } catch (e) {
    deploy.destroyAwsClients(clients);
    throw e;
  }
}
