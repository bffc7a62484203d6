export * from "./env-file.ts";
export * from "./local-files.ts";
export * from "./render.ts";
export * from "./safe-write.ts";
