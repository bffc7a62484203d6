import { defineConfig } from "vitest/config";

/**
 * Unit test files that replace a module (vi.mock): each runs in a module graph of its own (the
 * `unit-isolated` project), since a module an earlier file loaded would keep its real import. The
 * other unit files share one module graph per worker (`isolate: false`): they import the same
 * packages, which then load once per worker instead of once per file. test-isolation.test.ts
 * checks that every file that mocks a module is listed here.
 */
export const MODULE_MOCKING_UNIT_FILES = ["packages/cli/test/status-open.test.ts"];

/** The unit tier's files: every package's tests. */
export const UNIT_TEST_FILES = "packages/*/test/**/*.test.ts";

// A guard against a hang, not a measure of speed: scripts/test.sh runs the unit tier beside the
// integration lanes at a lower CPU priority, where a test that spawns the CLI waits its turn.
const UNIT_TIMEOUT = 120_000;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: [UNIT_TEST_FILES],
          exclude: ["**/node_modules/**", ...MODULE_MOCKING_UNIT_FILES],
          isolate: false,
          testTimeout: UNIT_TIMEOUT,
        },
      },
      {
        test: {
          name: "unit-isolated",
          include: MODULE_MOCKING_UNIT_FILES,
          testTimeout: UNIT_TIMEOUT,
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
