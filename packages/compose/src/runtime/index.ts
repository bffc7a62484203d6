export { LOCAL_SECRET_VARS } from "../env-file.ts";
export { MINIO_SERVER_ACCESS_KEY, s3Endpoint } from "../render.ts";
export * from "./backup.ts";
export * from "./compose-cli.ts";
export * from "./docker-engine.ts";
export { escapeForTerminal } from "./dump-scan.ts";
export * from "./local-stack.ts";
export * from "./ports.ts";
export * from "./service-status.ts";
