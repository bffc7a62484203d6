import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { LOCAL_SECRET_VARS } from "@mlflow-dev/compose";
import { startDetached } from "@mlflow-dev/kernel/process";
import type { LocalModel, MlflowServer } from "@mlflow-dev/spec";
import { AUTH_ADMIN_USER } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT, UserError } from "../errors.ts";
import { imageOverridesFromEnv, loadSpec, resolveLocalEnv } from "../load-spec.ts";
import { withSpecFlag } from "../spec-file.ts";
import { refuseAwsFlags, withAws } from "./aws-common.ts";

/** Where the basic-auth admin's password lives: a variable of the local .env, or a Secrets Manager secret. */
export type Credentials =
  | { kind: "env-file"; file: string; variable: string; username: string }
  | { kind: "secrets-manager"; secret: string; region: string; username: string };

export interface OpenTarget {
  environment: string;
  url: string;
  auth: MlflowServer["auth"];
  credentials?: Credentials;
}

/** `open [--env <name>]`: the UI's URL and where the credentials live; a browser at a terminal. */
export async function run(argv: string[]): Promise<number> {
  const { values, global } = parseCommandArgs("open", argv);
  const noBrowser = values["no-browser"] === true;
  if (typeof values.env === "string" && values.env !== "local")
    return withAws("open", argv, async ({ deploy, model, clients, json, loaded }) => {
      const { OutputName, stackName } = await import("@mlflow-dev/aws");
      const stack = await deploy.getStack(clients.cloudformation, stackName(model));
      const url = stack?.outputs[OutputName.serviceUrl];
      if (!stack || !url)
        throw new UserError(
          withSpecFlag(
            `open: nothing deployed for ${model.environment}: run \`mlflow-dev promote --env ${model.environment}\``,
            loaded.shown,
          ),
          {
            exitCode: EXIT.failed,
            hint: stack
              ? `The stack ${stack.name} is ${stack.status} and has no ServiceUrl output yet.`
              : `There is no stack ${stackName(model)} in ${model.target.region} of this account.`,
          },
        );
      const target: OpenTarget = {
        environment: model.environment,
        url,
        auth: model.mlflow.auth,
        ...(model.mlflow.auth === "basic"
          ? {
              credentials: {
                kind: "secrets-manager",
                secret: deploy.authSecretName(model) ?? "",
                region: model.target.region,
                username: AUTH_ADMIN_USER,
              },
            }
          : {}),
      };
      return show(target, json, noBrowser);
    });
  refuseAwsFlags("open", values);
  const loaded = loadSpec(global.file);
  if (loaded.spec.environments.local === undefined)
    throw new UserError(`${loaded.shown} has no local environment`, {
      exitCode: EXIT.invalidInput,
      hint: "Add `environments: { local: {} }` to the spec, or pass --env with an AWS environment.",
    });
  const model = resolveLocalEnv(loaded, imageOverridesFromEnv());
  const { mlflowUrl } = await import("@mlflow-dev/compose/runtime");
  return show(localOpenTarget(model, mlflowUrl(model)), global.json, noBrowser);
}

/** The local UI: the URL `up` and `status` print, and the .env variable of the admin's password. */
export function localOpenTarget(model: LocalModel, url: string): OpenTarget {
  return {
    environment: "local",
    url,
    auth: model.mlflow.auth,
    ...(model.mlflow.auth === "basic"
      ? {
          credentials: {
            kind: "env-file",
            file: ".mlflow-dev/.env",
            variable: LOCAL_SECRET_VARS["auth-admin-password"],
            username: AUTH_ADMIN_USER,
          },
        }
      : {}),
  };
}

/** The text `open` prints (pure). */
export function formatOpenTarget(t: OpenTarget): string {
  const c = t.credentials;
  const where =
    c === undefined
      ? "no login (auth: none)"
      : c.kind === "env-file"
        ? `user ${c.username}, password in ${c.variable} of ${c.file} beside the spec`
        : `user ${c.username}, password in the Secrets Manager secret ${c.secret} (${c.region})`;
  return `${t.url}\n  ${where}\n`;
}

function show(target: OpenTarget, json: boolean, noBrowser: boolean): number {
  process.stdout.write(json ? `${JSON.stringify(target, null, 2)}\n` : formatOpenTarget(target));
  if (!json && !noBrowser && process.stdout.isTTY) openBrowser(target.url);
  return EXIT.ok;
}

/** The platform's opener on PATH (xdg-open, or open on macOS); undefined when there is none. */
export function browserOpener(platform = process.platform, path = process.env.PATH ?? ""): string | undefined {
  const name = platform === "darwin" ? "open" : platform === "win32" ? undefined : "xdg-open";
  if (!name) return undefined;
  for (const dir of path.split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {}
  }
  return undefined;
}

/** Starts the browser and does not wait for it; a missing or failing opener is no failure of `open`. */
function openBrowser(url: string): void {
  const opener = browserOpener();
  if (!opener) return;
  startDetached(opener, [url]);
}
