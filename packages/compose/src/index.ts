export * from "./env-file.ts";
export * from "./render.ts";
export * from "./local-files.ts";
