import { existsSync, statfsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseCommandArgs } from "../args.ts";
import { EXIT } from "../errors.ts";
import { localContext } from "../local.ts";

type Verdict = "ok" | "warn" | "fail";
interface Check {
  check: string;
  verdict: Verdict;
  detail: string;
  fix?: string;
}

export async function run(argv: string[]): Promise<number> {
  const { global } = parseCommandArgs("doctor", argv);
  const ctx = await localContext(global.file, { requireEngine: false });
  const { runtime, docker, model } = ctx;
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);

  let engineUp = false;
  try {
    await docker.ping();
    engineUp = true;
    add({ check: "docker engine", verdict: "ok", detail: await docker.serverVersion() });
  } catch (e) {
    add({
      check: "docker engine",
      verdict: "fail",
      detail: (e as Error).message,
      fix:
        e instanceof runtime.DockerUnreachableError
          ? e.hint
          : runtime.dockerUnreachableHint(docker.endpoint, process.platform, (e as Error).message),
    });
  }

  const compose = new runtime.DockerComposeCli({
    ...runtime.stackPaths(ctx.stateDir),
    projectName: ctx.project,
  });
  try {
    add({ check: "docker compose", verdict: "ok", detail: `v${(await compose.version()).replace(/^v/, "")}` });
  } catch {
    add({
      check: "docker compose",
      verdict: "fail",
      detail: "the compose v2 plugin is missing",
      fix: "install the Docker Compose v2 plugin",
    });
  }

  if (model.target.kind === "local") {
    const t = model.target;
    const own = engineUp ? (await runtime.localStackStatus(ctx.stack)).filter((s) => s.state === "running") : [];
    try {
      await runtime.checkPorts(t, own, engineUp ? docker : undefined);
      add({
        check: "ports",
        verdict: "ok",
        detail: `${Object.values(t.ports).join(", ")} free on ${t.bindAddress} (or ours)`,
      });
    } catch (e) {
      add({
        check: "ports",
        verdict: "fail",
        detail: (e as Error).message,
        fix: "free them or change environments.local.ports",
      });
    }
    if (engineUp) {
      const { toComposeFile } = await import("@mlflow-dev/compose");
      const images = [
        ...new Set(
          Object.values(toComposeFile(model).services)
            .filter((s) => !s.build)
            .map((s) => String(s.image)),
        ),
      ];
      const missing: string[] = [];
      for (const ref of images) if (!(await docker.imageExists(ref))) missing.push(ref);
      add(
        missing.length === 0
          ? { check: "images", verdict: "ok", detail: images.join(", ") }
          : {
              check: "images",
              verdict: "warn",
              detail: `not present locally (up will try to pull): ${missing.join(", ")}`,
              fix: 'offline: build or load the images and set MLFLOW_DEV_IMAGES="mlflow=REF,postgres=REF,versitygw=REF"',
            },
      );
    }
  }

  try {
    const fs = statfsSync(existsSync(ctx.stateDir) ? ctx.stateDir : ctx.loaded.dir);
    const freeGiB = (fs.bavail * fs.bsize) / 2 ** 30;
    add({
      check: "disk",
      verdict: freeGiB >= 5 ? "ok" : freeGiB >= 2 ? "warn" : "fail",
      detail: `${freeGiB.toFixed(1)} GiB free`,
      ...(freeGiB < 5 ? { fix: "free disk space (images and volumes need a few GiB)" } : {}),
    });
  } catch (e) {
    add({ check: "disk", verdict: "warn", detail: (e as Error).message });
  }

  const credentials =
    (process.env.AWS_ACCESS_KEY_ID ? "AWS_ACCESS_KEY_ID" : undefined) ??
    (process.env.AWS_PROFILE ? `profile ${process.env.AWS_PROFILE}` : undefined) ??
    (existsSync(join(homedir(), ".aws", "credentials")) || existsSync(join(homedir(), ".aws", "config"))
      ? "~/.aws"
      : undefined);
  add(
    credentials
      ? { check: "aws credentials", verdict: "ok", detail: `found (${credentials})` }
      : {
          check: "aws credentials",
          verdict: "warn",
          detail: "none found (only needed for AWS environments)",
          fix: "aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID",
        },
  );

  const endpoint = process.env.AWS_ENDPOINT_URL ?? "http://localhost:4566";
  add(await emulatorCheck(endpoint));

  const width = Math.max(...checks.map((c) => c.check.length));
  if (global.json) process.stdout.write(`${JSON.stringify({ checks }, null, 2)}\n`);
  else
    for (const c of checks)
      process.stdout.write(
        `${c.verdict.toUpperCase().padEnd(4)}  ${c.check.padEnd(width)}  ${c.detail}${c.fix ? `\n      ${"".padEnd(width)}  fix: ${c.fix}` : ""}\n`,
      );
  return checks.some((c) => c.verdict === "fail") ? EXIT.failed : EXIT.ok;
}

async function emulatorCheck(endpoint: string): Promise<Check> {
  for (const path of ["/_ministack/health", "/_localstack/health"]) {
    try {
      const r = await fetch(`${endpoint}${path}`, { signal: AbortSignal.timeout(1500) });
      if (r.ok) return { check: "aws emulator", verdict: "ok", detail: `${endpoint}${path} answers` };
    } catch {
      // try the next one
    }
  }
  return {
    check: "aws emulator",
    verdict: "warn",
    detail: `nothing answers at ${endpoint} (only needed for emulated AWS environments)`,
    fix: "start an AWS emulator there (MiniStack or LocalStack; see localstack/README.md of the mlflow-dev repository)",
  };
}
