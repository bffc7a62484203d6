/**
 * @mlflow-dev/test-support: what the test tiers share (private, never shipped). Importing this
 * entry registers temp-dir's afterAll hook, so it is for vitest test files; scripts take the
 * vitest-free entries `./lanes`, `./large-artifact` and `./package`.
 */
export * from "./certificate.ts";
export * from "./cli.ts";
export * from "./github-workflow.ts";
export * from "./lanes.ts";
export * from "./large-artifact.ts";
export * from "./mlflow-client.ts";
export * from "./package.ts";
export * from "./python-client.ts";
export * from "./root.ts";
export * from "./spec-fixture.ts";
export * from "./stack.ts";
export * from "./temp-dir.ts";
export * from "./test-images.ts";
