import { join } from "node:path";
import type { Model } from "@mlflow-dev/spec";
import { EXIT, UserError } from "./errors.ts";
import { imageOverridesFromEnv, type LoadedSpec, loadSpec, resolveEnv } from "./load-spec.ts";

/** The local stack's context: spec, model, where its files live, a Docker client. */
export async function localContext(file: string) {
  const loaded: LoadedSpec = loadSpec(file);
  if (loaded.spec.environments.local === undefined)
    throw new UserError(`${loaded.shown} has no local environment`, {
      exitCode: EXIT.invalidInput,
      hint: "Add `environments: { local: {} }` to the spec.",
    });
  const model: Model = resolveEnv(loaded, "local", imageOverridesFromEnv());
  const runtime = await import("@mlflow-dev/compose/runtime");
  const docker = await runtime.connectDocker();
  return {
    loaded,
    model,
    runtime,
    docker,
    stateDir: join(loaded.dir, ".mlflow-dev"),
    progress: (m: string) => process.stderr.write(`  ${m}\n`),
  };
}

/** Turns a LocalStackError into a UserError (message + hint, exit 1). */
export function asUserError(e: unknown): unknown {
  if (e instanceof Error && e.name === "LocalStackError")
    return new UserError(e.message, { exitCode: EXIT.failed, hint: (e as Error & { hint: string }).hint });
  return e;
}
