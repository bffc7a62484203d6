import type { MlflowServer } from "@mlflow-dev/spec";
import type { Runtime } from "../command-types.ts";
import type { ParsedArgs } from "../commands/aws-common.ts";
import type { Since } from "../since.ts";
import { awsRuntime } from "./aws-runtime.ts";
import { localRuntime } from "./local-runtime.ts";

/**
 * The verbs both runtimes answer, one method each: the local Docker Compose stack
 * (local-runtime.ts) and an AWS environment (aws-runtime.ts). A command parses its flags, asks
 * runtimeFor for the runtime its --env names, calls its verb and prints what comes back; it
 * never asks which runtime it has. A flag only the other runtime takes is refused by the
 * runtime, before anything runs.
 */
export interface ServiceRuntime {
  readonly kind: Runtime;
  /** `local`, or the AWS environment's name. */
  readonly environment: string;
  /** The stack's state and health; exit 0 when healthy. */
  status(): Promise<Report>;
  /** Prints the services' logs (streaming with follow) and gives the exit code. */
  logs(options: LogsOptions): Promise<number>;
  /** Where the UI is and where its login lives. */
  open(): Promise<OpenTarget>;
  /** Runs the command once beside the server, its output on stdout; gives the command's exit code. */
  exec(command: readonly string[]): Promise<number>;
  /** Runs MLflow's garbage collection through exec's path; gives the gc program's exit code. */
  gc(options: GcOptions): Promise<number>;
  backup(options: BackupOptions): Promise<Report>;
  restore(options: RestoreOptions): Promise<Report>;
}

/** The commands that are verbs of a ServiceRuntime. */
export type Verb = "status" | "logs" | "open" | "exec" | "gc" | "backup" | "restore";

/**
 * What a verb reports where the two runtimes' results differ in shape: the data `--json` prints,
 * the text printed otherwise, and the command's exit code.
 */
export interface Report {
  json: unknown;
  text: string;
  exitCode: number;
}

export interface LogsOptions {
  /** One service (as the runtime names them; an unknown or absent one is refused), or every one. */
  service?: string;
  tail?: number | "all";
  since?: Since;
  timestamps: boolean;
  follow: boolean;
}

export interface GcOptions {
  dryRun: boolean;
  /** Each line the gc program prints. */
  onLine: (line: string) => void;
}

export interface BackupOptions {
  /** The new backup directory (local only). */
  out?: string;
}

export interface RestoreOptions {
  /** The backup directory (local only). */
  dir?: string;
  /** Replace what the stack holds (local only). */
  force?: boolean;
  /** The RDS snapshot (AWS only). */
  snapshot?: string;
}

/** Where the basic-auth admin's password lives: a variable of the local .env, or a Secrets Manager secret. */
export type Credentials =
  | { kind: "env-file"; file: string; variable: string; username: string }
  | { kind: "secrets-manager"; secret: string; region: string; username: string };

export interface OpenTarget {
  environment: string;
  url: string;
  auth: MlflowServer["auth"];
  credentials?: Credentials;
}

/** Picks the runtime: an --env other than `local` is an AWS environment, anything else the local stack. */
export type RuntimeFor = (args: ParsedArgs) => ServiceRuntime;

export const runtimeFor: RuntimeFor = (args) => {
  const env = args.values.env;
  return typeof env === "string" && env !== "local" ? awsRuntime(env, args) : localRuntime(args);
};
