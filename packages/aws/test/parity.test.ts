import { serverCommand } from "@mlflow-dev/spec";
import { describe, expect, it } from "vitest";
import { placeholderContext, toMigrationTaskDefinition, toTaskDefinition } from "../src/index.ts";
import { allCases } from "./helpers.ts";

/** Model-level parity: the ECS container runs exactly what the Model says, as Compose does. */
for (const { label, model } of allCases()) {
  describe(label, () => {
    const ctx = placeholderContext(model);
    const server = toTaskDefinition(model, ctx).containerDefinitions[0];
    const migrate = toMigrationTaskDefinition(model, ctx).containerDefinitions[0];

    it("keeps every environment variable of the Model, with its value", () => {
      for (const container of [server, migrate])
        for (const [name, value] of Object.entries(model.mlflow.environment))
          expect(container.environment, name).toContainEqual({ name, value });
    });

    it("passes every secret of the Model by its variable name", () => {
      for (const container of [server, migrate])
        expect(container.secrets.map((s) => s.name).sort()).toEqual(model.mlflow.secrets.map((s) => s.env).sort());
    });

    it("runs the Model's entrypoint and command unchanged", () => {
      expect(server.entryPoint).toEqual(model.mlflow.entrypoint);
      expect(server.command).toEqual(serverCommand(model.mlflow.server));
      expect(migrate.entryPoint).toEqual(model.mlflow.migration.entrypoint);
      expect(migrate.command).toEqual(model.mlflow.migration.command);
    });

    it("listens on the Model's port and checks health with the Model's command", () => {
      expect(server.portMappings?.map((p) => p.containerPort)).toEqual([model.mlflow.port]);
      expect(server.healthCheck?.command).toEqual(["CMD", ...model.mlflow.healthCheck.command]);
      expect(migrate.portMappings).toBeUndefined();
      expect(migrate.healthCheck).toBeUndefined();
    });
  });
}
