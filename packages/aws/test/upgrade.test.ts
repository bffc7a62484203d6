import { describe, expect, it } from "vitest";
import { serviceVersionChange, upgradeSnapshotId } from "../src/deploy/upgrade.ts";
import { MLFLOW_VERSION_LABEL, placeholderContext, toTaskDefinition } from "../src/index.ts";
import { exampleModel } from "./helpers.ts";

describe("MLflow version changes on ECS", () => {
  const model = exampleModel("basic", "staging");
  const revision = (version: string | undefined) => ({
    containerDefinitions: [
      { name: "mlflow", ...(version ? { dockerLabels: { [MLFLOW_VERSION_LABEL]: version } } : {}) },
    ],
  });

  it("every revision names its MLflow version, so the next promote can compare", () => {
    const td = toTaskDefinition(model, placeholderContext(model));
    expect(td.containerDefinitions[0]?.dockerLabels).toEqual({ [MLFLOW_VERSION_LABEL]: model.mlflow.version });
  });

  it("tells an upgrade, a downgrade, no change, and a revision from before the label apart", () => {
    expect(serviceVersionChange(revision("3.16.1"), model)).toEqual({ kind: "upgrade", from: "3.16.1", to: "3.17.2" });
    expect(serviceVersionChange(revision("3.18.0"), model)).toEqual({
      kind: "downgrade",
      from: "3.18.0",
      to: "3.17.2",
    });
    expect(serviceVersionChange(revision("3.17.2"), model)).toEqual({ kind: "none" });
    expect(serviceVersionChange(revision(undefined), model)).toEqual({ kind: "first", to: "3.17.2" });
    expect(serviceVersionChange(undefined, model)).toEqual({ kind: "first", to: "3.17.2" });
  });

  it("names the snapshot after the instance and both versions, as RDS allows", () => {
    const id = upgradeSnapshotId(
      "mlflow-dev-tracking-staging-database-abc",
      { from: "3.16.1", to: "3.18.0rc0" },
      new Date("2026-12-01T14:05:09Z"),
    );
    expect(id).toBe("mlflow-dev-tracking-staging-database-abc-mlflow-3-16-1-to-3-18-0rc0-20261201140509");
    expect(id).toMatch(/^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$/);
  });
});
