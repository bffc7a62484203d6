export * from "./fargate.ts";
export * from "./issues.ts";
export type * from "./model.ts";
export * from "./parse.ts";
export * from "./pins.ts";
export * from "./resolve.ts";
export * from "./schema.ts";
export * from "./suggest.ts";
