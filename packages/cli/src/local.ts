import { join } from "node:path";
import {
  DockerContextError,
  DockerUnreachableError,
  type LocalStackContext,
  LocalStackError,
} from "@mlflow-dev/compose/runtime";
import { lineReporter } from "@mlflow-dev/kernel/progress";
import type { LocalModel } from "@mlflow-dev/spec";
import { EXIT, UserError } from "./errors.ts";
import { imageOverridesFromEnv, type LoadedSpec, loadSpec, resolveLocalEnv } from "./load-spec.ts";
import { fileFlag, SPEC_FILE, withSpecFlag } from "./spec-file.ts";

/** The local stack's context: spec, model, where its files live, a Docker client. */
export async function localContext(file: string, options: { requireEngine?: boolean } = {}) {
  const loaded: LoadedSpec = loadSpec(file);
  if (loaded.spec.environments.local === undefined)
    throw new UserError(`${loaded.shown} has no local environment`, {
      exitCode: EXIT.invalidInput,
      hint: "Add `environments: { local: {} }` to the spec.",
    });
  const model: LocalModel = resolveLocalEnv(loaded, imageOverridesFromEnv());
  const runtime = await import("@mlflow-dev/compose/runtime");
  const docker = await runtime.connectDocker(dockerEndpointOrExit(runtime));
  // Every local command but doctor (which reports it as a check) needs the engine: one clear
  // failure here rather than a connection error from whichever call comes first.
  if (options.requireEngine !== false) await docker.ping().catch((e: unknown) => Promise.reject(asUserError(e)));
  const stateDir = join(loaded.dir, ".mlflow-dev");
  // The checkout's own compose project: two checkouts of one spec never share a stack.
  const identity = await runtime.projectIdentity({ name: model.name, specDir: loaded.dir, stateDir, docker });
  // The local stack's progress on stderr; a heartbeat names the last step while a wait is silent.
  const progress = lineReporter();
  const stack: LocalStackContext = {
    model,
    project: identity.project,
    identity,
    specDir: loaded.dir,
    stateDir,
    docker,
    progress,
    status: progress.status,
  };
  return { loaded, model, runtime, docker, stateDir, progress, project: identity.project, stack };
}

/** The docker CLI's endpoint (DOCKER_HOST, DOCKER_CONTEXT, the current context); a broken context is exit 1. */
function dockerEndpointOrExit(runtime: typeof import("@mlflow-dev/compose/runtime")) {
  try {
    return runtime.localDockerEndpoint();
  } catch (e) {
    throw asUserError(e);
  }
}

/**
 * Turns the runtime's user-facing errors into a UserError (message + hint, exit 1 unless the input
 * was invalid): LocalStackError, the engine not answering, a broken docker context. `file` is the
 * spec as given or found.
 */
export function asUserError(e: unknown, file = SPEC_FILE): unknown {
  if (e instanceof DockerUnreachableError || e instanceof DockerContextError)
    return new UserError(e.message, { exitCode: EXIT.failed, hint: e.hint });
  if (e instanceof LocalStackError) {
    const failed = e.failedServices;
    const hint = failed.length
      ? `See ${failed.map((s) => `\`mlflow-dev logs ${s}${fileFlag(file)}\``).join(" and ")}; fix the cause and run \`mlflow-dev up${fileFlag(file)}\` again.`
      : withSpecFlag(e.hint, file);
    return new UserError(e.message, { exitCode: e.invalidInput ? EXIT.invalidInput : EXIT.failed, hint });
  }
  return e;
}
