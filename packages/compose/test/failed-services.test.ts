import { describe, expect, it } from "vitest";
import { demuxLogs, failedServices, type ServiceState, serviceHealthy, stackHealthy } from "../src/runtime/index.ts";

const svc = (service: string, state: string, health = "none", extra: Partial<ServiceState> = {}): ServiceState => ({
  service,
  container: `p-${service}-1`,
  state,
  health,
  exitCode: state === "exited" ? 0 : undefined,
  restarts: 0,
  ports: [],
  ...extra,
});

const healthyBase = [
  svc("network", "running"),
  svc("postgres", "running", "healthy"),
  svc("minio", "running", "healthy"),
];
const jobsDone = [svc("create-bucket", "exited"), svc("migrate", "exited")];

describe("which services a failed up blames", () => {
  it("the server that keeps dying, not the jobs that exited 0", () => {
    const services = [...healthyBase, ...jobsDone, svc("mlflow", "restarting", "starting", { restarts: 4 })];
    expect(failedServices(services)).toEqual(["mlflow"]);
  });

  it("a server still starting (or unhealthy) when compose gave up", () => {
    expect(failedServices([...healthyBase, ...jobsDone, svc("mlflow", "running", "starting")])).toEqual(["mlflow"]);
    expect(failedServices([...healthyBase, ...jobsDone, svc("mlflow", "running", "unhealthy")])).toEqual(["mlflow"]);
  });

  it("a job that exited non-zero, not the server that never started after it", () => {
    const services = [
      ...healthyBase,
      svc("create-bucket", "exited"),
      svc("migrate", "exited", "none", { exitCode: 1 }),
    ];
    expect(failedServices(services)).toEqual(["migrate"]);
  });

  it("a database that never became healthy, and nothing when all is well", () => {
    const sick = [
      svc("network", "running"),
      svc("postgres", "running", "unhealthy"),
      svc("minio", "running", "healthy"),
    ];
    expect(failedServices(sick)).toEqual(["postgres", "mlflow"]);
    expect(failedServices([...healthyBase, ...jobsDone, svc("mlflow", "running", "healthy")])).toEqual([]);
  });
});

describe("container logs", () => {
  it("strips Docker's stream frames, and leaves a TTY log as it is", () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    expect(demuxLogs(Buffer.concat([frame(1, "out line\n"), frame(2, "ImportError: x\n")]))).toBe(
      "out line\nImportError: x\n",
    );
    expect(demuxLogs(Buffer.from("plain tty output\n"))).toBe("plain tty output\n");
  });
});

describe("one definition of healthy (up, status, backup and restore)", () => {
  it("a running service whose health check passes, or that has none", () => {
    expect(serviceHealthy(svc("mlflow", "running", "healthy"))).toBe(true);
    expect(serviceHealthy(svc("network", "running", "none"))).toBe(true);
    expect(serviceHealthy(svc("mlflow", "running", "starting"))).toBe(false);
    expect(serviceHealthy(svc("mlflow", "running", "unhealthy"))).toBe(false);
    expect(serviceHealthy(svc("mlflow", "restarting", "healthy"))).toBe(false);
    expect(serviceHealthy(undefined)).toBe(false);
  });

  it("the stack is healthy exactly when up would blame no service", () => {
    const stacks = [
      [...healthyBase, ...jobsDone, svc("mlflow", "running", "healthy")],
      [...healthyBase, ...jobsDone, svc("mlflow", "running", "starting")],
      [...healthyBase, svc("mlflow", "running", "healthy")],
      healthyBase,
      [],
    ];
    for (const services of stacks)
      expect(stackHealthy(services), JSON.stringify(services)).toBe(failedServices(services).length === 0);
    expect(stackHealthy(stacks[0]!)).toBe(true);
  });
});
