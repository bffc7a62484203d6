import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts"],
          exclude: ["**/node_modules/**"],
          // A guard against a hang, not a measure of speed: scripts/test.sh runs this tier beside the
          // integration lanes at a lower CPU priority, where a test that spawns the CLI waits its turn.
          testTimeout: 120_000,
        },
      },
      {
        test: {
          // The published package: pnpm pack:cli, npm install into a fresh project, npx mlflow-dev there.
          name: "package",
          include: ["test/package/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
