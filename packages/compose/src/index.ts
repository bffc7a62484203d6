// The pure entry: render the local stack from the Model (no filesystem, clock or randomness).
// Writing the files is in ./files.ts (@mlflow-dev/compose/files), running them in ./runtime.
export * from "./env-file.ts";
export * from "./render.ts";
