export * from "./compose-cli.ts";
export * from "./docker-engine.ts";
export * from "./local-stack.ts";
export * from "./ports.ts";
