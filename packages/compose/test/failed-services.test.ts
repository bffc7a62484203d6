import { describe, expect, it } from "vitest";
import {
  demuxLogs,
  failedServices,
  type ServiceState,
  serviceHealthy,
  stackHealthy,
  startUpProgress,
} from "../src/runtime/index.ts";

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
const jobsDone = [svc("migrate", "exited")];

describe("which services a failed up blames", () => {
  it("the server that keeps dying, not the jobs that exited 0", () => {
    const services = [...healthyBase, ...jobsDone, svc("mlflow", "restarting", "starting", { restarts: 4 })];
    expect(failedServices(services, "minio")).toEqual(["mlflow"]);
  });

  it("a server still starting (or unhealthy) when compose gave up", () => {
    expect(failedServices([...healthyBase, ...jobsDone, svc("mlflow", "running", "starting")], "minio")).toEqual([
      "mlflow",
    ]);
    expect(failedServices([...healthyBase, ...jobsDone, svc("mlflow", "running", "unhealthy")], "minio")).toEqual([
      "mlflow",
    ]);
  });

  it("a job that exited non-zero, not the server that never started after it", () => {
    const services = [...healthyBase, svc("migrate", "exited", "none", { exitCode: 1 })];
    expect(failedServices(services, "minio")).toEqual(["migrate"]);
  });

  it("a database that never became healthy, and nothing when all is well", () => {
    const sick = [
      svc("network", "running"),
      svc("postgres", "running", "unhealthy"),
      svc("minio", "running", "healthy"),
    ];
    expect(failedServices(sick, "minio")).toEqual(["postgres", "mlflow"]);
    expect(failedServices([...healthyBase, ...jobsDone, svc("mlflow", "running", "healthy")], "minio")).toEqual([]);
  });
});

describe("where a start-up stands (up watches it every 200 ms)", () => {
  const server = svc("mlflow", "running", "healthy");

  it("ready only when both jobs exited 0 and every service is healthy", () => {
    expect(startUpProgress([...healthyBase, ...jobsDone, server], "minio")).toEqual({ phase: "ready" });
  });

  it("waiting on a job still running or not yet created, and on a server still starting", () => {
    expect(startUpProgress([...healthyBase, svc("migrate", "running"), server], "minio")).toEqual({
      phase: "waiting",
      on: ["migrate"],
    });
    expect(startUpProgress([...healthyBase, svc("migrate", "exited")], "minio")).toEqual({
      phase: "waiting",
      on: ["mlflow"],
    });
    // MinIO is healthy only once its bucket and user are set up.
    expect(
      startUpProgress(
        [healthyBase[0]!, healthyBase[1]!, svc("minio", "running", "starting"), ...jobsDone, server],
        "minio",
      ),
    ).toEqual({ phase: "waiting", on: ["minio"] });
    expect(startUpProgress([...healthyBase, ...jobsDone, svc("mlflow", "running", "starting")], "minio")).toEqual({
      phase: "waiting",
      on: ["mlflow"],
    });
    expect(startUpProgress([svc("network", "created"), svc("postgres", "running", "starting")], "minio")).toEqual({
      phase: "waiting",
      on: ["migrate", "network", "postgres", "minio", "mlflow"],
    });
  });

  it("failed, naming why, on a job that exited non-zero or a service that died, restarts or is unhealthy", () => {
    const failedJob = [...healthyBase, svc("migrate", "exited", "none", { exitCode: 3 })];
    expect(startUpProgress(failedJob, "minio")).toEqual({ phase: "failed", why: ["migrate exited with code 3"] });
    expect(
      startUpProgress([healthyBase[0]!, healthyBase[1]!, svc("minio", "restarting", "starting"), ...jobsDone], "minio"),
    ).toEqual({ phase: "failed", why: ["minio restarting, starting"] });
    expect(
      startUpProgress([...healthyBase, ...jobsDone, svc("mlflow", "restarting", "starting", { restarts: 2 })], "minio"),
    ).toEqual({ phase: "failed", why: ["mlflow restarting, starting, restarted 2 times"] });
    expect(
      startUpProgress([...healthyBase, ...jobsDone, svc("mlflow", "exited", "none", { exitCode: 137 })], "minio"),
    ).toEqual({
      phase: "failed",
      why: ["mlflow exited with code 137"],
    });
    expect(
      startUpProgress([...healthyBase.slice(0, 1), svc("postgres", "running", "unhealthy"), ...jobsDone], "minio"),
    ).toEqual({
      phase: "failed",
      why: ["postgres running, unhealthy"],
    });
  });
});

describe("a stack on versitygw (the default object store)", () => {
  const base = [
    svc("network", "running"),
    svc("postgres", "running", "healthy"),
    svc("versitygw", "running", "healthy"),
  ];
  const server = svc("mlflow", "running", "healthy");
  const setupDone = svc("versitygw-setup", "exited");

  it("is ready only once its set-up job exited 0 too", () => {
    expect(startUpProgress([...base, ...jobsDone, setupDone, server], "versitygw")).toEqual({ phase: "ready" });
    expect(startUpProgress([...base, ...jobsDone, svc("versitygw-setup", "running"), server], "versitygw")).toEqual({
      phase: "waiting",
      on: ["versitygw-setup"],
    });
    // Not created yet: waited for, as migrate is.
    expect(startUpProgress([...base, ...jobsDone, server], "versitygw")).toEqual({
      phase: "waiting",
      on: ["versitygw-setup"],
    });
  });

  it("blames a set-up job that exited non-zero, and versitygw when it is not healthy", () => {
    const failedSetup = svc("versitygw-setup", "exited", "none", { exitCode: 1 });
    expect(failedServices([...base, ...jobsDone, failedSetup, server], "versitygw")).toEqual(["versitygw-setup"]);
    expect(startUpProgress([...base, ...jobsDone, failedSetup, server], "versitygw")).toEqual({
      phase: "failed",
      why: ["versitygw-setup exited with code 1"],
    });
    const sick = [base[0]!, base[1]!, svc("versitygw", "running", "unhealthy"), ...jobsDone, setupDone, server];
    expect(failedServices(sick, "versitygw")).toEqual(["versitygw"]);
    expect(stackHealthy(sick, "versitygw")).toBe(false);
    expect(stackHealthy([...base, ...jobsDone, setupDone, server], "versitygw")).toBe(true);
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
      expect(stackHealthy(services, "minio"), JSON.stringify(services)).toBe(
        failedServices(services, "minio").length === 0,
      );
    expect(stackHealthy(stacks[0]!, "minio")).toBe(true);
  });
});
