import { describe, expect, it } from "vitest";
import { reportServices, type ServiceState } from "../src/runtime/index.ts";

const svc = (service: string, state: string, health: string, exitCode?: number): ServiceState => ({
  service,
  container: `p-${service}-1`,
  state,
  health,
  exitCode,
  restarts: 0,
  ports: [],
});

describe("status of the stack's services", () => {
  it("a one-off job that exited 0 is completed, whatever its image's health check left behind", () => {
    const [migrate, setup] = reportServices(
      [svc("migrate", "exited", "unhealthy", 0), svc("versitygw-setup", "exited", "unhealthy", 0)],
      "versitygw",
    );
    expect(migrate).toMatchObject({
      service: "migrate",
      kind: "job",
      status: "completed",
      exitCode: 0,
      health: "none",
    });
    expect(setup).toMatchObject({ kind: "job", status: "completed", health: "none" });
  });

  it("a job that exited non-zero is failed with its code; the migration is a job on MinIO too", () => {
    expect(reportServices([svc("versitygw-setup", "exited", "unhealthy", 3)], "versitygw")[0]).toMatchObject({
      kind: "job",
      status: "failed",
      exitCode: 3,
    });
    expect(reportServices([svc("migrate", "exited", "unhealthy", 0)], "minio")[0]).toMatchObject({
      kind: "job",
      status: "completed",
    });
    expect(reportServices([svc("migrate", "exited", "none", 1)], "versitygw")[0]).toMatchObject({
      status: "failed",
      exitCode: 1,
    });
  });

  it("a job still running is running; a long-running service keeps its state and health", () => {
    expect(reportServices([svc("migrate", "running", "starting")], "versitygw")[0]).toMatchObject({
      kind: "job",
      status: "running",
    });
    const [mlflow, postgres] = reportServices(
      [svc("mlflow", "running", "healthy"), svc("postgres", "exited", "unhealthy", 137)],
      "versitygw",
    );
    expect(mlflow).toMatchObject({ kind: "service", status: "running", health: "healthy" });
    expect(postgres).toMatchObject({ kind: "service", status: "exited", health: "unhealthy", exitCode: 137 });
  });
});
