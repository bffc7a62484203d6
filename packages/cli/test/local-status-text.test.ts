import { reportServices, type ServiceState } from "@mlflow-dev/compose/runtime";
import { describe, expect, it } from "vitest";
import { formatLocalStatus } from "../src/runtimes/report-text.ts";

const svc = (service: string, state: string, health: string, exitCode?: number): ServiceState => ({
  service,
  container: `p-${service}-1`,
  state,
  health,
  exitCode,
  restarts: 0,
  ports: service === "mlflow" ? ["127.0.0.1:5050->5000"] : [],
});

describe("local status as text", () => {
  it("finished jobs read completed (exit 0) or failed (exit N), with no health; services keep theirs", () => {
    const services = reportServices(
      [
        svc("migrate", "exited", "unhealthy", 0),
        svc("mlflow", "running", "healthy"),
        svc("versitygw-setup", "exited", "unhealthy", 2),
      ],
      "versitygw",
    );
    const text = formatLocalStatus(services, false, "http://127.0.0.1:5050", "mlflow-dev.yaml");
    const rows = text.split("\n");
    expect(rows[0]).toMatch(/^SERVICE\s+STATE\s+HEALTH\s+PORTS$/);
    expect(rows.find((r) => r.startsWith("migrate"))).toMatch(/^migrate\s+completed \(exit 0\)\s+-$/);
    expect(rows.find((r) => r.startsWith("versitygw-setup"))).toMatch(/^versitygw-setup\s+failed \(exit 2\)\s+-$/);
    expect(rows.find((r) => r.startsWith("mlflow"))).toMatch(/^mlflow\s+running\s+healthy\s+127\.0\.0\.1:5050->5000$/);
    expect(text).not.toContain("unhealthy");
  });
});
