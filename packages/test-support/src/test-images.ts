import { spawnSync } from "node:child_process";

/**
 * Test images on top of the MLflow image: Python code that runs first when `mlflow.server` is
 * imported (the server's launcher does that first; the migration job, at the schema head, never
 * imports it), so the server misbehaves at its start and the migration still passes.
 */
export function buildServerTestImage(base: string, tag: string, python: string): void {
  const code = Buffer.from(`${python}\n`).toString("base64");
  const dockerfile = [
    `FROM ${base}`,
    "USER root",
    `RUN f="$(python -c 'import importlib.util; print(importlib.util.find_spec("mlflow").submodule_search_locations[0])')/server/__init__.py" && { echo ${code} | base64 -d; cat "$f"; } > /tmp/init.py && cat /tmp/init.py > "$f" && rm /tmp/init.py`,
    "USER 10001:10001",
    "",
  ].join("\n");
  const r = spawnSync("docker", ["build", "-q", "-t", tag, "-"], {
    input: dockerfile,
    encoding: "utf8",
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
  });
  if (r.status !== 0) throw new Error(`docker build ${tag} failed: ${r.stderr}`);
}

/** A server that cannot start: it prints this line to stderr and exits 3. */
export const BROKEN_SERVER_LINE = "test image: the server fails on purpose";

/** The MLflow image whose server exits 3 as it starts (tagged `tag`). */
export function buildBrokenServerImage(base: string, tag = "localhost/mlflow-dev-test/mlflow-broken-server:1"): string {
  buildServerTestImage(
    base,
    tag,
    `import sys\nprint(${JSON.stringify(BROKEN_SERVER_LINE)}, file=sys.stderr)\nsys.exit(3)`,
  );
  return tag;
}
