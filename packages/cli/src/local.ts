import { join } from "node:path";
import type { LocalModel } from "@mlflow-dev/spec";
import { EXIT, UserError } from "./errors.ts";
import { imageOverridesFromEnv, type LoadedSpec, loadSpec, resolveLocalEnv } from "./load-spec.ts";

/** The local stack's context: spec, model, where its files live, a Docker client. */
export async function localContext(file: string) {
  const loaded: LoadedSpec = loadSpec(file);
  if (loaded.spec.environments.local === undefined)
    throw new UserError(`${loaded.shown} has no local environment`, {
      exitCode: EXIT.invalidInput,
      hint: "Add `environments: { local: {} }` to the spec.",
    });
  const model: LocalModel = resolveLocalEnv(loaded, imageOverridesFromEnv());
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

/** The `-f <spec>` to repeat in a suggested command: none for the default ./mlflow-dev.yaml. */
export function fileFlag(file: string): string {
  if (file === "mlflow-dev.yaml" || file === "./mlflow-dev.yaml") return "";
  return ` -f ${/^[A-Za-z0-9_@%+=:,./-]+$/.test(file) ? file : `'${file.replaceAll("'", "'\\''")}'`}`;
}

/** Turns a LocalStackError into a UserError (message + hint, exit 1); `file` is the spec as given. */
export function asUserError(e: unknown, file = "mlflow-dev.yaml"): unknown {
  if (e instanceof Error && e.name === "LocalStackError") {
    const failed = (e as Error & { failedServices?: readonly string[] }).failedServices ?? [];
    const hint = failed.length
      ? `See ${failed.map((s) => `\`mlflow-dev logs ${s}${fileFlag(file)}\``).join(" and ")}; fix the cause and run \`mlflow-dev up${fileFlag(file)}\` again.`
      : (e as Error & { hint: string }).hint;
    return new UserError(e.message, { exitCode: EXIT.failed, hint });
  }
  return e;
}
