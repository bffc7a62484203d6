export * from "./cloudformation/tags.ts";
export type { Resource, Resources } from "./cloudformation/types.ts";
export * from "./context.ts";
export * from "./names.ts";
export * from "./rollout-plan.ts";
export * from "./task-definition.ts";
export * from "./template.ts";
