import { execFileSync } from "node:child_process";
import { appendFileSync, chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { beforeEach, describe, expect, it } from "vitest";

/**
 * The images .ci/provision builds follow their inputs (see pins.test.ts for the pins themselves):
 * `.ci/provision --plan` on a copy of the repository's provisioning files, with a stand-in `docker`
 * that knows images only as files of labels. Nothing is built and no Docker engine is asked.
 */

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const STUB_DOCKER = `#!/usr/bin/env bash
# docker image inspect [-f FORMAT] IMAGE, answered from $STATE/<image>: its mlflow-dev.inputs label.
state="$(dirname "$0")/state"
[[ $1 == image && $2 == inspect ]] || exit 0
img=\${*: -1}
f="$state/\${img//[\\/:]/_}"
[[ -f $f ]] || exit 1
case $4 in *Labels*) l=$(cat "$f"); echo "\${l:-<no value>}" ;; *) echo "sha256:\${#img}" ;; esac
`;

interface Plan {
  [image: string]: { state: string; inputs: string };
}

describe.skipIf(process.getuid?.() !== 0)(".ci/provision: every image is rebuilt when an input of it changes", () => {
  let repo: string;
  let bin: string;

  beforeEach(() => {
    repo = tempDir("mlflow-dev-provision-");
    for (const path of [".ci/provision", "scripts/lib/pins.sh", "pins.json", "images"])
      cpSync(join(ROOT, path), join(repo, path), { recursive: true });
    bin = join(repo, "bin");
    mkdirSync(join(bin, "state"), { recursive: true });
    writeFileSync(join(bin, "docker"), STUB_DOCKER);
    chmodSync(join(bin, "docker"), 0o755);
  });

  const plan = (): Plan => {
    const out = execFileSync("bash", [join(repo, ".ci/provision"), "--plan"], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, MLFLOW_DEV_CACHE: join(repo, "cache") },
    });
    return Object.fromEntries(
      out
        .trim()
        .split("\n")
        .map((line) => line.split("\t"))
        .map(([image, state, inputs]) => [
          image!.replace(/^mlflow-dev-local\//, ""),
          { state: state!, inputs: inputs! },
        ]),
    );
  };
  /** Every image present, labelled with the inputs hash `--plan` computes now. */
  const buildAll = () => {
    for (const [image, { inputs }] of Object.entries(plan()))
      writeFileSync(join(bin, "state", `mlflow-dev-local/${image}`.replace(/[/:]/g, "_")), inputs);
  };
  const states = () => Object.fromEntries(Object.entries(plan()).map(([image, p]) => [image, p.state]));
  const pins = JSON.parse(readFileSync(join(ROOT, "pins.json"), "utf8"));
  const names = {
    debian: `debian:${pins.debian}`,
    postgres: `postgres:${pins.postgres.default}`,
    python: `python:${pins.python}`,
    mlflow: `mlflow:${pins.mlflow}`,
    previous: `mlflow:${pins.mlflowPrevious}`,
    versitygw: `versitygw:${pins.versitygw}`,
    minio: `minio:${pins.minio.release}`,
    ministack: `ministack:${pins.ministack}`,
  };
  const all = (state: string) => Object.fromEntries(Object.values(names).map((n) => [n, state]));

  it("nothing present: every image is missing; built from the same inputs: every image is current", () => {
    expect(states()).toEqual(all("missing"));
    buildAll();
    expect(states()).toEqual(all("current"));
  });

  it("an edited Dockerfile rebuilds its image and every image on it, and nothing else", () => {
    buildAll();
    appendFileSync(join(repo, "images/python/Dockerfile"), "# edited\n");
    expect(states()).toEqual({
      ...all("current"),
      [names.python]: "changed",
      [names.mlflow]: "changed",
      [names.previous]: "changed",
      [names.ministack]: "changed",
    });
  });

  it("a new Debian base rebuilds the images on it, the object stores' too", () => {
    buildAll();
    writeFileSync(join(repo, "pins.json"), JSON.stringify({ ...pins, debian: "forky" }));
    const after = states();
    expect(after[names.versitygw]).toBe("changed");
    expect(after[names.minio]).toBe("changed");
  });

  it("a file the Dockerfile copies counts (the MLflow image's RDS CA bundle too); one it does not copy does not", () => {
    buildAll();
    appendFileSync(join(repo, "images/mlflow/lock.sh"), "# not copied into the image\n");
    expect(states()).toEqual(all("current"));
    // The previous release's image is built on the MLflow image, so it carries the bundle too.
    appendFileSync(join(repo, "images/mlflow/rds-ca-bundle.pem"), "# edited\n");
    expect(states()).toEqual({ ...all("current"), [names.mlflow]: "changed", [names.previous]: "changed" });
    buildAll();
    appendFileSync(join(repo, "images/ministack/patches.py"), "# edited\n");
    expect(states()).toEqual({ ...all("current"), [names.ministack]: "changed" });
    appendFileSync(join(repo, "images/postgres/docker-entrypoint.sh"), "# edited\n");
    expect(states()).toEqual({ ...all("current"), [names.ministack]: "changed", [names.postgres]: "changed" });
  });

  it("a pin that is not in the tag (the MinIO client's version) rebuilds the image that uses it", () => {
    buildAll();
    const edited = { ...pins, mc: { goVersion: "v0.0.0-20990101000000-000000000000" } };
    writeFileSync(join(repo, "pins.json"), JSON.stringify(edited));
    expect(states()).toEqual({ ...all("current"), [names.minio]: "changed" });
  });
});
