import { LOCAL_SECRET_VARS, SERVICE } from "@mlflow-dev/compose";
import { AUTH_ADMIN_USER, gcArgv, type LocalModel, nearest, oneOffCommand } from "@mlflow-dev/spec";
import type { ParsedArgs } from "../commands/aws-common.ts";
import { refuseAwsFlags } from "../commands/aws-common.ts";
import { EXIT, UserError } from "../errors.ts";
import { imageOverridesFromEnv, loadSpec, resolveLocalEnv } from "../load-spec.ts";
import { asUserError, localContext } from "../local.ts";
import { withSpecFlag } from "../spec-file.ts";
import {
  formatLocalBackup,
  formatLocalRestore,
  formatLocalStatus,
  localBackupJson,
  localRestoreJson,
} from "./report-text.ts";
import type { OpenTarget, ServiceRuntime, Verb } from "./runtime.ts";

/** The services `logs` takes locally: every service of the stack. */
export const LOG_SERVICES: readonly string[] = Object.values(SERVICE);

type LocalContext = Awaited<ReturnType<typeof localContext>>;

const COMPOSE_HINT = "Install the Docker CLI with its compose plugin (`docker compose version` answers once it is).";

/** The local Docker Compose stack of the spec (`-f`), through compose/runtime and the docker CLI. */
export function localRuntime({ values, global }: ParsedArgs): ServiceRuntime {
  /** The stack's context for one verb, its errors as UserErrors (a missing compose CLI too, where `compose` says so). */
  async function withStack<T>(fn: (ctx: LocalContext) => Promise<T>, options: { compose?: boolean } = {}) {
    const ctx = await localContext(global.file);
    try {
      return await fn(ctx);
    } catch (e) {
      if (options.compose && e instanceof ctx.runtime.ComposeCommandError)
        throw new UserError(e.message, { hint: COMPOSE_HINT });
      throw asUserError(e, global.file);
    }
  }

  function compose(ctx: LocalContext) {
    const { DockerComposeCli, stackPaths } = ctx.runtime;
    return new DockerComposeCli({ ...stackPaths(ctx.stateDir), projectName: ctx.project });
  }

  /** exec and gc run beside the server, against the stack's database: it must be running. */
  async function requireDatabase(ctx: LocalContext, verb: Verb, hint?: string): Promise<void> {
    const services = await ctx.runtime.localStackStatus(ctx.stack);
    if (services.find((s) => s.service === SERVICE.postgres)?.state !== "running")
      throw new UserError(
        withSpecFlag(
          `${verb}: the local stack's database is not running: start the stack with \`mlflow-dev up\``,
          global.file,
        ),
        { exitCode: EXIT.failed, ...(hint ? { hint } : {}) },
      );
  }

  return {
    kind: "local",
    environment: "local",

    async status() {
      refuseAwsFlags("status", values);
      return withStack(async (ctx) => {
        const states = await ctx.runtime.localStackStatus(ctx.stack);
        const url = ctx.runtime.mlflowUrl(ctx.model);
        const healthy = ctx.runtime.stackHealthy(states, ctx.model.target.objectStore);
        const services = ctx.runtime.reportServices(states, ctx.model.target.objectStore);
        return {
          json: { project: ctx.project, url, healthy, services },
          text: formatLocalStatus(services, healthy, url, global.file),
          exitCode: healthy ? EXIT.ok : EXIT.failed,
        };
      });
    },

    async logs({ service, tail, since, timestamps, follow }) {
      if (service !== undefined && !LOG_SERVICES.includes(service)) {
        const guess = nearest(service, [...LOG_SERVICES]);
        throw new UserError(`logs: unknown service "${service}"${guess ? `; did you mean "${guess}"?` : ""}`, {
          exitCode: EXIT.invalidInput,
          hint: `Services: ${LOG_SERVICES.join(", ")}`,
        });
      }
      refuseAwsFlags("logs", values);
      return withStack(
        async (ctx) => {
          const code = await compose(ctx).logs({
            ...(service ? { service } : {}),
            follow,
            ...(tail !== undefined ? { tail } : {}),
            ...(since ? { since: since.compose } : {}),
            timestamps,
          });
          return code === 0 ? EXIT.ok : EXIT.failed;
        },
        { compose: true },
      );
    },

    async open() {
      refuseAwsFlags("open", values);
      const loaded = loadSpec(global.file);
      if (loaded.spec.environments.local === undefined)
        throw new UserError(`${loaded.shown} has no local environment`, {
          exitCode: EXIT.invalidInput,
          hint: "Add `environments: { local: {} }` to the spec, or pass --env with an AWS environment.",
        });
      const model = resolveLocalEnv(loaded, imageOverridesFromEnv());
      const { mlflowUrl } = await import("@mlflow-dev/compose/runtime");
      return localOpenTarget(model, mlflowUrl(model));
    },

    async exec(command) {
      refuseAwsFlags("exec", values);
      return withStack(
        async (ctx) => {
          await requireDatabase(
            ctx,
            "exec",
            "exec runs the command beside the server, against the stack's database and artifact store.",
          );
          return compose(ctx).run({
            service: SERVICE.mlflow,
            command: oneOffCommand(ctx.model.mlflow.server, [...command]),
            tty: process.stdin.isTTY === true && process.stdout.isTTY === true,
          });
        },
        { compose: true },
      );
    },

    async gc({ dryRun, onLine }) {
      refuseAwsFlags("gc", values);
      return withStack(
        async (ctx) => {
          await requireDatabase(ctx, "gc");
          return compose(ctx).run({
            service: SERVICE.mlflow,
            command: oneOffCommand(ctx.model.mlflow.server, gcArgv(ctx.model.gc.olderThanDays, dryRun)),
            tty: false,
            onLine,
          });
        },
        { compose: true },
      );
    },

    async backup({ out }) {
      refuseAwsFlags("backup", values);
      return withStack(async (ctx) => {
        const r = await ctx.runtime.backupLocalStack(ctx.stack, { out });
        return { json: localBackupJson(r), text: formatLocalBackup(r), exitCode: EXIT.ok };
      });
    },

    async restore({ dir, force, snapshot }) {
      if (snapshot !== undefined)
        throw new UserError("restore: --snapshot restores an AWS environment and needs --env <name>", {
          exitCode: EXIT.invalidInput,
          hint: "Example: mlflow-dev restore --env staging --snapshot <RDS snapshot id>",
        });
      refuseAwsFlags("restore", values);
      if (!dir)
        throw new UserError("restore: the backup directory is required", {
          exitCode: EXIT.invalidInput,
          hint: "Example: mlflow-dev restore .mlflow-dev/backups/20260101T120000Z-backup",
        });
      return withStack(async (ctx) => {
        const r = await ctx.runtime.restoreLocalStack(ctx.stack, { dir, force: force === true });
        return {
          json: localRestoreJson(r),
          text: formatLocalRestore(r, ctx.runtime.mlflowUrl(ctx.model), ctx.runtime.escapeForTerminal),
          exitCode: EXIT.ok,
        };
      });
    },
  };
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
