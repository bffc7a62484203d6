// The local stack's files on disk (@mlflow-dev/compose/files): compose.yaml and .env written
// atomically, with generated secrets. Filesystem and randomness, so not in the pure entry.
export * from "./local-files.ts";
export * from "./safe-write.ts";
