import {
  type CliResult,
  cliInBackground,
  EMULATOR,
  imageOverride,
  cli as runCli,
  showRun,
} from "@mlflow-dev/test-support";
import pins from "../../pins.json" with { type: "json" };

/**
 * What promote.test.ts and promote-own-resources.test.ts share: the CLI run against the emulator
 * (test-support's EMULATOR) with exactly the variables given, and one ELBv2 query.
 */

/** MiniStack takes a 12-digit access key as the account id: an account of promote.test.ts's own. */
export const ACCESS_KEY = "333344445555";
export const MLFLOW_IMAGE = imageOverride("mlflow") ?? `localhost/mlflow-dev-local/mlflow:${pins.mlflow}`;

export type Env = Record<string, string | undefined>;

/** The emulator's variables for the CLI; `extra` on top (`undefined` removes one). */
export function awsEnv(extra: Env = {}): Env {
  return {
    AWS_ENDPOINT_URL: EMULATOR,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: "test",
    MLFLOW_DEV_IMAGES: `mlflow=${MLFLOW_IMAGE}`,
    MLFLOW_DEV_DEPLOY_IMAGE: MLFLOW_IMAGE,
    ...extra,
  };
}

/** The CLI with exactly these AWS_* and MLFLOW_DEV_* variables: none leaks in from the caller. */
export const cli = (args: string[], cwd: string, env: Env = awsEnv()) =>
  runCli(args, { cwd, env, isolate: true, timeout: 1_200_000 });
export const cliAsync = (args: string[], cwd: string, env: Env = awsEnv()) =>
  cliInBackground(args, { cwd, env, isolate: true, timeout: 1_200_000 }).done;
export const show = (r: CliResult) => showRun(r);

/**
 * One Elastic Load Balancing query against the emulator (the project ships no ELBv2 client): the
 * answer's XML. The emulator reads the account and service from the credential scope.
 */
export async function elbv2(
  action: string,
  params: Record<string, string>,
  account = ACCESS_KEY,
  region = "eu-west-1",
): Promise<string> {
  const res = await fetch(EMULATOR, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `AWS4-HMAC-SHA256 Credential=${account}/20260101/${region}/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams({ Action: action, Version: "2015-12-01", ...params }).toString(),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${action}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return text;
}
