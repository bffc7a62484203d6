export * from "./client.ts";
export * from "./errors.ts";
export * from "./readiness.ts";
export * from "./registry.ts";
export * from "./retry.ts";
export * from "./stream.ts";
export * from "./transport.ts";
