import { relative } from "node:path";
import { AUTH_ADMIN_USER } from "@mlflow-dev/spec";
import { parseCommandArgs } from "../args.ts";
import { EXIT } from "../errors.ts";
import { asUserError, localContext } from "../local.ts";
import { writeShippedContext } from "../shipped-image.ts";
import { shellQuote, trackingExports } from "../tracking.ts";

export async function run(argv: string[]): Promise<number> {
  const { global } = parseCommandArgs("up", argv);
  const ctx = await localContext(global.file);
  try {
    await writeShippedContext(ctx.loaded.dir, ctx.model.mlflow.image);
    const r = await ctx.runtime.upLocalStack(ctx.stack);
    // Where the admin's password is, never the password itself.
    const auth =
      ctx.model.mlflow.auth === "basic"
        ? {
            user: AUTH_ADMIN_USER,
            passwordIn: `${r.envFile} (${ctx.runtime.LOCAL_SECRET_VARS["auth-admin-password"]})`,
          }
        : undefined;
    // Without the artifact proxy, clients need the object store's address and a key scoped to the
    // artifact prefix, the server's (its secret is never printed).
    const vars = ctx.runtime.LOCAL_SECRET_VARS;
    const direct = ctx.model.mlflow.proxyArtifacts
      ? undefined
      : {
          endpoint: ctx.runtime.s3Endpoint(ctx.model),
          accessKeyId: ctx.runtime.MINIO_SERVER_ACCESS_KEY,
          secretAccessKeyIn: `${r.envFile} (${vars["minio-server-secret-key"]})`,
        };
    if (global.json) {
      process.stdout.write(
        `${JSON.stringify({ url: r.url, changed: r.changed, envFile: r.envFile, composeFile: r.composeFile, ...(auth ? { auth } : {}), ...(direct ? { artifacts: direct } : {}) }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(
        r.changed ? `MLflow is up: ${r.url}\n` : `MLflow is already up, nothing changed: ${r.url}\n`,
      );
      process.stdout.write(`credentials: ${r.envFile} (generated, mode 0600, git-ignored)\n`);
      if (auth) process.stdout.write(`basic auth: user ${auth.user}, password in ${auth.passwordIn}\n`);
      const variable = vars["auth-admin-password"];
      const envFile = relative(process.cwd(), r.envFile) || r.envFile;
      process.stdout.write(
        `\nfor MLflow clients in this shell:\n${trackingExports(r.url, auth && { ...auth, readCommand: `sed -n 's/^${variable}=//p' ${shellQuote(envFile)}` })}`,
      );
      if (direct)
        process.stdout.write(
          `artifacts: clients write to S3 themselves: MLFLOW_S3_ENDPOINT_URL=${direct.endpoint}, AWS_ACCESS_KEY_ID=${direct.accessKeyId}, AWS_SECRET_ACCESS_KEY in ${direct.secretAccessKeyIn}\n`,
        );
    }
    return EXIT.ok;
  } catch (e) {
    throw asUserError(e, global.file);
  }
}
