export * from "./live/compare.ts";
export * from "./live/format.ts";
export type * from "./live/results.ts";
export * from "./live/workload.ts";
export * from "./static/builtin.ts";
export * from "./static/compare.ts";
export * from "./static/facets.ts";
export * from "./static/format.ts";
