import { HEALTH_PROBE_SCRIPT, MLFLOW_CONTAINER_PORT } from "@mlflow-dev/spec";
import { median, run } from "./process.ts";

/**
 * `pnpm bench --health-probe`: the CPU one health probe of the server costs, side by side in one
 * run: the probe mlflow-dev runs (HEALTH_PROBE_SCRIPT: a GET of /health over bash's /dev/tcp)
 * against the Python one-liner it replaced (urllib), each run PROBES times inside one server
 * container (the server image, job execution off, one worker, SQLite), its user + system time read
 * by bash's `times`, ROUNDS rounds interleaved. Docker (or ECS) runs a probe every
 * HEALTH_CHECK_INTERVAL_SECONDS for the life of the server, on the task's own CPU; the engine's
 * own cost of starting the process (runc) is the same for both and not counted.
 */
const PROBES = 20;
const ROUNDS = 5;
const PYTHON_PROBE = `python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${MLFLOW_CONTAINER_PORT}/health', timeout=3)"`;

export async function healthProbe(image: string): Promise<void> {
  const container = run("docker", [
    "run",
    "-d",
    "--rm",
    "-e",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false",
    "--entrypoint",
    "mlflow",
    image,
    "server",
    "--host",
    "0.0.0.0",
    "--port",
    String(MLFLOW_CONTAINER_PORT),
    "--workers",
    "1",
    "--backend-store-uri",
    "sqlite:////tmp/bench.db",
  ]);
  try {
    const probe = (script: string) => run("docker", ["exec", container, "bash", "-c", script]);
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        probe(HEALTH_PROBE_SCRIPT);
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    // CPU seconds of PROBES runs: the children's user and system time, from bash's `times`.
    const cpuMs = (command: string) => {
      const out = probe(`for i in $(seq ${PROBES}); do ${command} || exit 1; done; times`);
      const [, children] = out.split("\n").slice(-2);
      const seconds = [...(children ?? "").matchAll(/(\d+)m([\d.]+)s/g)].reduce(
        (sum, m) => sum + Number(m[1]) * 60 + Number(m[2]),
        0,
      );
      return (seconds * 1000) / PROBES;
    };
    const cases: Record<string, string> = {
      "python urllib one-liner (before 0.6.0)": PYTHON_PROBE,
      "bash /dev/tcp (HEALTH_PROBE_SCRIPT)": `bash -c ${JSON.stringify(HEALTH_PROBE_SCRIPT).replaceAll("$", "\\$")}`,
    };
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++)
      for (const [name, command] of Object.entries(cases)) samples[name]?.push(cpuMs(command));
    const results = Object.entries(samples).map(([name, v]) => [name, median(v)] as const);
    const base = results[0]?.[1] ?? 1;
    console.log(`\nserver health probe: CPU per probe (median of ${ROUNDS} rounds of ${PROBES}, in ${image})`);
    for (const [name, ms] of results)
      console.log(`  ${name.padEnd(50)} ${ms.toFixed(1).padStart(7)} ms   ${(ms / base).toFixed(3)}x`);
  } finally {
    run("docker", ["rm", "-f", container]);
  }
}
