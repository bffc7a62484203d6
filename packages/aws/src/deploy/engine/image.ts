import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { lastLines, runStreaming, succeeds } from "@mlflow-dev/kernel/process";
import type { Reporter } from "@mlflow-dev/kernel/progress";
import { describeImageOrigin } from "@mlflow-dev/spec";
import type { AwsModel } from "../../render/aws-model.ts";
import { ecrRepositoryName, OutputName } from "../../render/names.ts";
import { awsErrorMessage, awsErrorName, DeployError } from "../errors.ts";
import type { AwsClients } from "./clients.ts";

/**
 * The image a rollout runs: the spec's upstream reference as it is, or the project's image built
 * from images.build, tagged by the content of its build context and pushed to the stack's ECR
 * repository (tags there are immutable, so a tag names one image for good).
 */

export interface ImageChoice {
  imageUri: string;
  source: "pull" | "build";
  /** Built and pushed by this run (false: the repository already had this tag). */
  pushed: boolean;
}

/** Every file under dir (but .git), as sorted relative paths. */
function listFiles(dir: string, root = dir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === ".git") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path, root));
    else if (entry.isFile()) out.push(relative(root, path));
  }
  return out.sort();
}

/** `<mlflow version>-<12 hex>`: a digest of the build context's files and the build arguments. */
export function buildTag(model: AwsModel, specDir: string): string {
  const image = model.mlflow.image;
  if (image.kind !== "build") throw new Error("internal error: buildTag for a pulled image");
  const context = resolve(specDir, image.context);
  let files: string[];
  try {
    if (!statSync(context).isDirectory()) throw new Error("not a directory");
    files = listFiles(context);
  } catch (e) {
    throw new DeployError(`images.build.context: ${context} cannot be read (${(e as Error).message})`, {
      kind: "input",
      hint: "The build context is relative to the spec file.",
    });
  }
  const hash = createHash("sha256");
  hash.update(`BASE_IMAGE=${image.baseImage ?? ""}\n`);
  for (const f of files) {
    hash.update(`${f}\n`);
    hash.update(readFileSync(join(context, f)));
    hash.update("\n");
  }
  return `${model.mlflow.version}-${hash.digest("hex").slice(0, 12)}`;
}

/** The image a promote would run, without building anything (for plan). */
export function plannedImage(model: AwsModel, outputs: Record<string, string>, specDir: string): string {
  const image = model.mlflow.image;
  if (image.kind === "pull") return image.ref;
  const repo = outputs[OutputName.ecrRepositoryUri] ?? `<ECR repository ${ecrRepositoryName(model)}>`;
  return `${repo}:${buildTag(model, specDir)}`;
}

export interface DockerOptions {
  /** The docker CLI (default `docker`, or $DOCKER). */
  docker?: string;
}

export async function resolveImage(
  model: AwsModel,
  clients: AwsClients,
  outputs: Record<string, string>,
  specDir: string,
  report: Reporter,
  options: DockerOptions = {},
): Promise<ImageChoice> {
  const image = model.mlflow.image;
  if (image.kind === "pull") {
    report.info(`${image.ref} (${describeImageOrigin(image, model.mlflow.version)}; nothing to build)`);
    return { imageUri: image.ref, source: "pull", pushed: false };
  }
  const repositoryUri = outputs[OutputName.ecrRepositoryUri];
  if (!repositoryUri)
    throw new DeployError(`the stack has no ${OutputName.ecrRepositoryUri} output: deploy the infrastructure first`);
  const tag = buildTag(model, specDir);
  const imageUri = `${repositoryUri}:${tag}`;
  const repositoryName = ecrRepositoryName(model);
  if (await imageExists(clients, repositoryName, tag)) {
    report.info(
      `${imageUri} is already in ECR (same build context): not rebuilt (${describeImageOrigin(image, model.mlflow.version)})`,
    );
    return { imageUri, source: "build", pushed: false };
  }
  const docker = options.docker ?? process.env.DOCKER ?? "docker";
  const context = resolve(specDir, image.context);
  const env = await buildEnv(docker);
  report.info(`building ${context} as ${imageUri} (${describeImageOrigin(image, model.mlflow.version)})`);
  await run(
    docker,
    [
      "build",
      "--pull=false",
      // The task definitions run on X86_64 (runtimePlatform): build for it on any machine.
      "--platform",
      "linux/amd64",
      ...(image.baseImage ? ["--build-arg", `BASE_IMAGE=${image.baseImage}`] : []),
      "-t",
      imageUri,
      context,
    ],
    env,
    report,
    `docker build ${context}`,
  );
  // Behind an emulator the repository URI does not resolve: push to the emulator's registry
  // endpoint instead, and keep the local tag under the repository URI, where the emulator's
  // container runtime finds it.
  const pushRef = clients.endpointUrl ? `${new URL(clients.endpointUrl).host}/${repositoryName}:${tag}` : imageUri;
  if (pushRef !== imageUri) await run(docker, ["tag", imageUri, pushRef], env, report, `docker tag ${pushRef}`);
  const config = await dockerLogin(clients, pushRef.split("/")[0] ?? "");
  try {
    report.info(`pushing ${pushRef}`);
    await run(docker, ["--config", config, "push", pushRef], env, report, `docker push ${pushRef}`);
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
  return { imageUri, source: "build", pushed: true };
}

async function imageExists(clients: AwsClients, repositoryName: string, tag: string): Promise<boolean> {
  try {
    const r = await clients.ecr.describeImages({ repositoryName, imageIds: [{ imageTag: tag }] });
    return (r.imageDetails ?? []).length > 0;
  } catch (e) {
    if (awsErrorName(e) === "ImageNotFoundException") return false;
    throw new DeployError(`cannot list the images of ECR repository ${repositoryName}: ${awsErrorMessage(e)}`, {
      cause: e,
    });
  }
}

/**
 * A docker config directory of its own with the ECR token, so the credentials neither land in
 * ~/.docker nor show up on a command line. The caller removes it.
 */
async function dockerLogin(clients: AwsClients, registry: string): Promise<string> {
  const r = await clients.ecr.getAuthorizationToken({});
  const token = r.authorizationData?.[0]?.authorizationToken;
  if (!token) throw new DeployError("ECR returned no authorization token");
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-docker-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: { [registry]: { auth: token } } }), { mode: 0o600 });
  return dir;
}

/** The classic builder when BuildKit is asked for but buildx is missing (the Dockerfiles support both). */
async function buildEnv(docker: string): Promise<Record<string, string>> {
  if (process.env.DOCKER_BUILDKIT !== undefined) return {};
  return (await succeeds(docker, ["buildx", "version"])) ? {} : { DOCKER_BUILDKIT: "0" };
}

/** Runs a docker command; a failure names it with the last 20 lines of its output. */
async function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  report: Reporter,
  label: string,
): Promise<void> {
  const r = await runStreaming(cmd, args, { env });
  if (r.startError !== undefined)
    throw new DeployError(`cannot run ${cmd}: ${r.startError}`, {
      kind: "input",
      hint: "Install Docker, or set DOCKER to the docker CLI.",
    });
  if (r.exitCode === 0) return;
  report.warn(`${label} failed`);
  throw new DeployError(
    `${label} exited ${r.exitCode}:\n${lastLines(r.output, 20)
      .map((l) => `    ${l}`)
      .join("\n")}`,
    {
      hint: "The service was not touched. Fix the cause, then run promote again.",
    },
  );
}
