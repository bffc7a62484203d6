// @ts-check
/**
 * The command table: every command of `mlflow-dev`, once. The argument parser (args.ts), the
 * top-level help, each command's help (help.js), "did you mean" for commands and flags
 * (suggest-command.ts, args.ts) and the README's command list (pnpm docs:write) are all read
 * from here, and packages/cli/test/command-table.test.ts fails when one disagrees with another.
 *
 * Adding a command is one entry in COMMANDS (its flags, forms, help text, examples and module)
 * plus the module itself (src/commands/<name>.ts, exporting `run(argv)`), then `pnpm docs:write`.
 *
 * Plain JavaScript, checked by TypeScript (the types are command-types.ts), so `mlflow-dev --help`
 * loads nothing that needs compiling.
 *
 * @import { CommandDef, OptionDef } from "./command-types.ts"
 */

/**
 * The global flags, taken by every command that says so in `takes` (-h/--help by all).
 * @type {{ file: OptionDef, json: OptionDef, help: OptionDef }}
 */
export const GLOBAL_OPTIONS = {
  file: {
    name: "file",
    type: "string",
    short: "f",
    value: "<path>",
    description:
      "The spec (default: the nearest mlflow-dev.yaml, in this directory or a parent, up to the repository root)",
  },
  json: { name: "json", type: "boolean", description: "Machine-readable output on stdout" },
  help: { name: "help", type: "boolean", short: "h", description: "This help" },
};

/** `--env` of a command that acts on the local stack without it and on an AWS environment with it. */
const AWS_ENV = /** @type {OptionDef} */ ({
  name: "env",
  type: "string",
  value: "<name>",
  runtime: "aws",
  description: "An AWS environment of the spec (without it, or with `local`: the local stack)",
});

/** `--env` of a command that acts only on an AWS environment. */
const ENV_REQUIRED = /** @type {OptionDef} */ ({
  name: "env",
  type: "string",
  value: "<name>",
  runtime: "aws",
  description: "The AWS environment of the spec (required)",
});

/** Which AWS account or emulator: shown in the Flags list, named once in the top-level help's AWS header. */
const AWS_CONNECTION = /** @type {OptionDef[]} */ ([
  {
    name: "profile",
    type: "string",
    value: "<name>",
    runtime: "aws",
    description: "The AWS profile (default: the SDK's chain: environment, ~/.aws, SSO, roles)",
  },
  {
    name: "endpoint-url",
    type: "string",
    value: "<url>",
    runtime: "aws",
    description: "An AWS emulator's endpoint, such as http://127.0.0.1:4566 (also AWS_ENDPOINT_URL)",
  },
]);

/** The flags promote, plan and every AWS form share. */
const AWS_FLAGS = [AWS_ENV, ...AWS_CONNECTION];
const AWS_ONLY_FLAGS = [ENV_REQUIRED, ...AWS_CONNECTION];

/** --allow-replace of plan and promote. */
const ALLOW_REPLACE = /** @type {OptionDef} */ ({
  name: "allow-replace",
  type: "string",
  multiple: true,
  value: "<LogicalId>",
  description:
    "Let a change replace or delete this data-holding resource (Database, ArtifactBucket, DatabaseSubnetGroup, Vpc); repeat it, or separate ids with commas",
});

/** The AWS commands that only name the flags they share with every other. */
const AWS_TAKES = /** @type {const} */ ({ file: true, json: true });

/** @type {CommandDef[]} */
export const COMMANDS = [
  // --- Spec and rendering --------------------------------------------------------------------
  {
    name: "init",
    group: "spec",
    forms: [{ args: "", summary: "Write a starting mlflow-dev.yaml (and its JSON Schema)" }],
    options: [
      {
        name: "name",
        type: "string",
        value: "<service>",
        description: "The service's name (default: this directory's name)",
      },
      { name: "force", type: "boolean", description: "Overwrite an existing spec" },
    ],
    positionals: [],
    takes: { file: "Where to write the spec (default: ./mlflow-dev.yaml)" },
    details: `Writes mlflow-dev.yaml (first line points yaml-language-server at the schema) and
mlflow-dev.schema.json beside it. Refuses to overwrite an existing spec without --force.
`,
    examples: ["mlflow-dev init", "mlflow-dev init --name churn-model"],
    peerWords: ["new", "create"],
    load: () => import("./commands/init.ts"),
  },
  {
    name: "validate",
    group: "spec",
    forms: [{ args: "", summary: "Check the spec; every problem with file:line:col" }],
    options: [],
    positionals: [],
    takes: { file: true, json: "The issues as JSON" },
    details: `Validates the spec and prints every problem as file:line:col path: message.
Exit 0 when valid, 2 when not.
`,
    examples: ["mlflow-dev validate", "mlflow-dev validate -f deploy/mlflow-dev.yaml --json"],
    peerWords: ["check", "lint"],
    load: () => import("./commands/validate.ts"),
  },
  {
    name: "render",
    group: "spec",
    forms: [
      {
        args: "--env <name>",
        summary:
          "Render compose.yaml (local) or the ECS task definition and CloudFormation template (AWS env); --out <dir> writes files",
      },
    ],
    options: [
      { name: "env", type: "string", value: "<name>", description: "The environment to render: local, or an AWS one" },
      { name: "out", type: "string", value: "<dir>", description: "Write the files into this directory" },
    ],
    positionals: [],
    takes: { file: true, json: "Every rendered file in one JSON object" },
    details: `local:     prints compose.yaml; with --out writes compose.yaml and a .env of generated
           secrets (mode 0600, never overwritten).
AWS env:   prints the CloudFormation template; with --out writes template.yaml,
           task-definition.json, migration-task-definition.json and rollout-plan.json.
           --json prints all of them as one JSON object.
`,
    examples: ["mlflow-dev render --env local", "mlflow-dev render --env staging --out deploy/"],
    peerWords: ["generate", "template", "config"],
    load: () => import("./commands/render.ts"),
  },
  {
    name: "schema",
    group: "spec",
    forms: [{ args: "", summary: "Print the JSON Schema of mlflow-dev.yaml" }],
    options: [],
    positionals: [],
    takes: {},
    details: `Prints the JSON Schema of mlflow-dev.yaml on stdout.
`,
    examples: ["mlflow-dev schema > mlflow-dev.schema.json"],
    peerWords: [],
    load: () => import("./commands/schema.ts"),
  },

  // --- The local stack, and the same verbs on AWS --------------------------------------------
  {
    name: "up",
    group: "stack",
    forms: [
      { runtime: "local", args: "", summary: "Start MLflow + PostgreSQL + versitygw (S3) and wait until healthy" },
    ],
    options: [],
    positionals: [],
    takes: { file: true, json: "The URL, the services and where the credentials are, as JSON" },
    details: `Renders compose.yaml and .env into .mlflow-dev/ beside the spec, starts the stack with
docker compose up, and waits for every job to succeed, every service's health check and
MLflow's /health (asked every 200 ms). A second up with nothing changed
is a no-op; a changed spec recreates only what changed.
Image overrides for offline machines: MLFLOW_DEV_IMAGES="mlflow=REF,postgres=REF,versitygw=REF" (minio=REF with artifacts.localServer: minio).
`,
    examples: ["mlflow-dev up", "mlflow-dev up -f examples/basic/mlflow-dev.yaml"],
    peerWords: ["start", "run", "serve"],
    load: () => import("./commands/up.ts"),
  },
  {
    name: "down",
    group: "stack",
    forms: [{ runtime: "local", args: "", summary: "Stop the stack (data kept unless --volumes)" }],
    options: [
      { name: "volumes", type: "boolean", description: "Also delete the data volumes (needs --yes)" },
      { name: "yes", type: "boolean", description: "Confirm --volumes without a question" },
    ],
    positionals: [],
    takes: { file: true },
    details: `Stops and removes the containers. Data volumes are kept unless --volumes is given,
which needs --yes (or a confirmation at a terminal).
`,
    examples: ["mlflow-dev down", "mlflow-dev down --volumes --yes"],
    peerWords: ["stop", "rm"],
    load: () => import("./commands/down.ts"),
  },
  {
    name: "status",
    group: "stack",
    forms: [
      { runtime: "local", args: "", summary: "State and health of each service" },
      {
        runtime: "aws",
        args: "--env <aws env>",
        summary:
          "Stack, service, rollout and task health, URL, image, MLflow version, last rollout; exit 1 when not healthy",
      },
    ],
    options: [...AWS_FLAGS],
    positionals: [],
    takes: { file: true, json: "The same fields as JSON" },
    details: `State and health of each service of the local stack.

With --env <aws env>: the CloudFormation stack (name, status, reason), the ECS service and the
rollout state of its primary deployment, running/desired tasks with each task's health, the
URL (the stack's ServiceUrl output), the image and its origin (pulled as the spec names it, or
built into the stack's ECR repository), the MLflow version (the running task definition's
label, else the spec's) and the last rollout (the primary deployment's created/updated times).
--json prints the same fields. Nothing is changed.

Exit 0 when healthy (the stack in a *_COMPLETE state, the rollout completed, running == desired,
every task HEALTHY), 1 when not (each problem is listed) or when nothing is deployed.
`,
    examples: ["mlflow-dev status", "mlflow-dev status --env staging --json"],
    peerWords: ["ps", "ls", "list", "info"],
    load: () => import("./commands/status.ts"),
  },
  {
    name: "open",
    group: "stack",
    forms: [
      {
        runtime: "local",
        args: "",
        summary: "The UI's URL and where the login lives; a browser at a terminal",
      },
      { runtime: "aws", args: "--env <aws env>", summary: "The environment's URL and the secret holding the login" },
    ],
    options: [
      ...AWS_FLAGS,
      { name: "no-browser", type: "boolean", description: "Only print the URL, even at a terminal" },
    ],
    positionals: [],
    takes: { file: true, json: "The URL and where the credentials are, as JSON (no browser)" },
    details: `Prints the MLflow UI's URL: locally from the spec's port and bind address, on AWS the stack's
ServiceUrl output. With auth: basic it says where the admin's password lives (locally a
variable of .mlflow-dev/.env beside the spec, on AWS a Secrets Manager secret); the password
itself is never printed. At a terminal it also opens the URL with xdg-open (open on macOS)
when there is one; --no-browser (or --json, or output to a pipe) only prints. A missing
browser is no failure. Exit 1 when nothing is deployed for the AWS environment.
`,
    examples: ["mlflow-dev open", "mlflow-dev open --env staging --no-browser"],
    peerWords: ["ui", "browse", "url"],
    load: () => import("./commands/open.ts"),
  },
  {
    name: "logs",
    group: "stack",
    forms: [
      { runtime: "local", args: "[service]", summary: "Service logs (mlflow, postgres, versitygw, migrate, ...)" },
      { runtime: "aws", args: "[mlflow|migrate] --env <aws env>", summary: "The tasks' output, from CloudWatch Logs" },
    ],
    options: [
      {
        name: "follow",
        type: "boolean",
        short: "F",
        description: "Keep streaming (`-f` alone or before a service name too, as in docker compose)",
      },
      { name: "tail", type: "string", value: "<n>", description: "Start with the last n lines (a number, or all)" },
      {
        name: "since",
        type: "string",
        value: "<duration|time>",
        description: "Only what came after a duration back from now (30s, 10m, 1h30m, 2d) or a time",
      },
      { name: "timestamps", type: "boolean", short: "t", description: "Prefix every line with its time" },
      ...AWS_FLAGS,
    ],
    positionals: [
      {
        name: "[service]",
        description:
          "One service (every one when none is named): locally mlflow, postgres, versitygw, versitygw-setup, minio, migrate or network; on AWS mlflow or migrate",
      },
    ],
    takes: { file: true },
    details: `The logs of one service of the local stack (mlflow, postgres, the object store versitygw and its
versitygw-setup job, or minio, migrate, network), or of all.
--follow (-F) keeps streaming; --tail <n> starts with the last n lines; --since shows what came
after a duration back from now (30s, 10m, 1h30m, 2d) or a time (2026-12-07T09:30:00Z, UTC unless
it names an offset); --timestamps (-t) prefixes every line with its time.
As with docker compose, \`-f\` alone, before another flag or before a service name means --follow
(\`mlflow-dev logs -f mlflow\`); \`-f <path>\` with a file path names the spec, as in every command.

With --env <aws env>: the CloudWatch Logs of the environment's tasks, read from the log group and
stream prefix of the registered task definitions: mlflow (the server's tasks, and one-off exec
tasks) and migrate (the migration tasks), both when none is named. Each line starts with the
service and the task (mlflow/1a2b3c4d). --follow asks for new events every 2 s until Ctrl-C.
`,
    examples: [
      "mlflow-dev logs -f mlflow",
      "mlflow-dev logs mlflow --tail 100 --since 10m",
      "mlflow-dev logs migrate --env staging --timestamps",
    ],
    peerWords: ["log", "tail"],
    load: () => import("./commands/logs.ts"),
  },
  {
    name: "exec",
    group: "stack",
    forms: [
      {
        runtime: "local",
        args: "-- <command...>",
        summary:
          "Run a command once beside the server (its image, environment and secrets; psql and mlflow reach the database); its exit code",
      },
      {
        runtime: "aws",
        args: "--env <aws env> -- <command...>",
        summary:
          "The same as a one-off Fargate task from the server's task definition, its output streamed from CloudWatch Logs",
      },
    ],
    options: [...AWS_FLAGS],
    positionals: [],
    takes: { file: true },
    details: `Runs a command once beside the MLflow server, with the server's image, environment and secrets,
and exits with the command's exit code. Everything after \`--\` is the command, passed on word for
word (no shell; use \`sh -c '...'\` for one). The command sees MLFLOW_BACKEND_STORE_URI (also
MLFLOW_TRACKING_URI, unless the environment sets it) and the PostgreSQL client variables (PGHOST,
PGPORT, PGUSER, PGPASSWORD, PGDATABASE), so \`mlflow\` commands and \`psql\` reach the database,
which stays private. The MLflow image has no psql: there \`psql\` is mlflow-dev's stand-in on the
image's psycopg2, which takes -c <sql>, -f <file> or SQL on stdin, -A, -t, -X and -q, and prints
rows as \`psql -A\` does.

Local: a new container of the mlflow service on the stack's network (\`docker compose run --rm\`,
no published ports); the stack must be up. A terminal is attached when there is one.
With --env <aws env>: a one-off Fargate task (started by mlflow-dev-exec) from the task definition
the service runs, in the service's subnets and security group, its command replaced; mlflow-dev
waits until it stops (20 minutes at most, then stops it) and streams its CloudWatch output (the
stream server/mlflow/<task id>). No terminal and no stdin on AWS.

Exit: the command's exit code; 1 or 2 with an \`error:\` line when mlflow-dev could not run it.
`,
    examples: [
      "mlflow-dev exec -- mlflow experiments search --view all",
      "mlflow-dev exec --env staging -- psql -c 'select count(*) from runs'",
      "mlflow-dev exec --env staging -- sh -c 'mlflow gc --help'",
    ],
    peerWords: ["shell", "ssh", "console", "sh"],
    load: () => import("./commands/exec.ts"),
  },
  {
    name: "gc",
    group: "stack",
    forms: [
      {
        runtime: "local",
        args: "",
        summary:
          "Remove runs and experiments deleted over gc.olderThanDays ago (mlflow gc), with what was found and removed",
      },
      { runtime: "aws", args: "--env <aws env>", summary: "The same, as a one-off Fargate task" },
    ],
    options: [...AWS_FLAGS, { name: "dry-run", type: "boolean", description: "Only count what would be removed" }],
    positionals: [],
    takes: { file: true, json: "The report as JSON" },
    details: `MLflow's garbage collection: runs and experiments deleted more than gc.olderThanDays days ago
(spec key, default 30; 0 takes every deleted one), their rows and their artifacts, are removed
for good with \`mlflow gc\`. It runs through exec's path (locally a compose run container, on AWS a
one-off Fargate task), where the database and the bucket are reachable. Before and after, it
counts the runs and experiments MLflow selects (in PostgreSQL) and the objects under their
artifact locations (listing the bucket), and reports found and removed runs, experiments,
artifact objects and bytes. --dry-run only counts.
On AWS the bucket is versioned: gc deletes the current objects, and their old versions expire
after artifacts.lifecycle.noncurrentVersionDays (a lifecycle rule of the bucket).
With gc.schedule set (rate(...) or cron(...), UTC), each AWS environment also runs it by itself
(an EventBridge Scheduler schedule on the service's revision); locally it runs only on demand.
Exit 0 when mlflow gc succeeded, 1 when it failed (the report says what was removed anyway).
`,
    examples: ["mlflow-dev gc --dry-run", "mlflow-dev gc --env staging"],
    peerWords: ["prune", "purge", "cleanup"],
    load: () => import("./commands/gc.ts"),
  },
  {
    name: "backup",
    group: "stack",
    forms: [
      { runtime: "local", args: "", summary: "Database dump + artifact objects + manifest with digests" },
      {
        runtime: "aws",
        args: "--env <aws env>",
        summary: "RDS snapshot of the database, tagged with the MLflow version and the artifact bucket's state",
      },
    ],
    options: [
      ...AWS_FLAGS,
      {
        name: "out",
        type: "string",
        value: "<dir>",
        runtime: "local",
        description: "The new directory (default .mlflow-dev/backups/<UTC stamp>-backup)",
      },
    ],
    positionals: [],
    takes: { file: true, json: "What was backed up, as JSON" },
    details: `Backs up the running local stack into a new directory (default
.mlflow-dev/backups/<UTC stamp>-backup): database.sql.gz (pg_dump, one consistent snapshot),
artifacts/<key> for every object under the artifact prefix (copied after the dump), and
manifest.json (MLflow version, schema revision, size and sha256 of every file). The directory
appears only once complete; an existing --out (or a link) is refused (exit 2).

With --env <aws env>: a manual RDS snapshot of the environment's database, available when the
command returns, under the deploy lock. Its tags record the MLflow version the service runs
(the schema the snapshot holds) and the artifact bucket at that moment (object count, bytes,
versioning status, time). Restore it with \`mlflow-dev restore --env <env> --snapshot <id>\`.
`,
    examples: [
      "mlflow-dev backup",
      "mlflow-dev backup --out backups/before-upgrade",
      "mlflow-dev backup --env staging",
    ],
    peerWords: ["dump", "snapshot"],
    load: () => import("./commands/backup.ts"),
  },
  {
    name: "restore",
    group: "stack",
    forms: [
      { runtime: "local", args: "<dir>", summary: "Verify a backup and load it into the running stack" },
      {
        runtime: "aws",
        args: "--env <aws env> --snapshot <id>",
        summary:
          "Swap in a new database from a snapshot (writers stopped; the replaced one is snapshotted); after destroy, recreates the stack",
      },
    ],
    options: [
      ...AWS_FLAGS,
      {
        name: "force",
        type: "boolean",
        runtime: "local",
        description: "Replace the runs and artifact objects the stack holds",
      },
      {
        name: "snapshot",
        type: "string",
        value: "<id>",
        runtime: "aws",
        description: "The RDS snapshot to restore (from backup --env, or destroy's final one)",
      },
    ],
    positionals: [{ name: "<dir>", description: "A backup directory (local)" }],
    takes: { file: true, json: "What was restored, as JSON" },
    details: `Restores a backup into the running local stack. First checks every file against the manifest
(a missing or changed file is refused, exit 2), that mlflow.version is the backup's, and that
the stack holds no run and no artifact object (--force replaces them, deleting the objects the
backup does not have). Then stops the server, loads the dump in one transaction, uploads the
artifacts and starts the server again.

With --env <aws env> --snapshot <id>: checks the snapshot (available, PostgreSQL of
backend.postgresVersion, master user backend.user, not from a newer MLflow than mlflow.version),
then under the deploy lock snapshots the current database, scales the service to zero and
runs promote with the stack's database replaced by a new RDS instance from the snapshot (the
stack keeps naming it); the migration task upgrades an older schema, the new revision rolls out
and the service gets its desired count back. With no stack (after destroy), promote creates it
with the database from the snapshot and adopts the kept bucket. Artifacts are not rolled back.
`,
    examples: [
      "mlflow-dev restore .mlflow-dev/backups/20260101T120000Z-backup",
      "mlflow-dev restore --env staging --snapshot mlflow-dev-staging-20260101",
    ],
    peerWords: ["load"],
    load: () => import("./commands/restore.ts"),
  },
  {
    name: "doctor",
    group: "stack",
    forms: [{ runtime: "local", args: "", summary: "Check Docker, Compose, ports, disk, images, AWS, emulator" }],
    options: [],
    positionals: [],
    takes: { file: true, json: "The checks and their verdicts as JSON" },
    details: `Checks the Docker engine, Compose, free ports, disk, images, AWS credentials and the
AWS emulator, with a verdict per check. Exit 1 when a required check fails.
`,
    examples: ["mlflow-dev doctor"],
    peerWords: ["health"],
    load: () => import("./commands/doctor.ts"),
  },

  // --- AWS only ------------------------------------------------------------------------------
  {
    name: "plan",
    group: "stack",
    forms: [
      {
        runtime: "aws",
        args: "--env <name>",
        omit: ["cost"],
        summary:
          "What promote would change (CloudFormation change set, task definition diff) and the monthly cost; nothing is applied",
      },
      {
        runtime: "aws",
        args: "--env <name> --cost",
        omit: ["allow-replace", "profile", "endpoint-url"],
        summary: "The monthly cost estimate alone, offline (no credentials, no AWS call)",
      },
    ],
    options: [
      ...AWS_ONLY_FLAGS,
      ALLOW_REPLACE,
      { name: "cost", type: "boolean", description: "Only the monthly cost estimate, with no AWS call" },
    ],
    positionals: [],
    takes: { file: true, json: "The plan (with its cost) as JSON" },
    details: `Shows what \`mlflow-dev promote --env <name>\` would change, with nothing applied: the secrets it would
create, the infrastructure changes as CloudFormation computes them in a change set (which is
deleted again), and the fields of the task definition that change. A change that would replace
or delete a resource holding data (Database, ArtifactBucket, DatabaseSubnetGroup, Vpc) is
marked with the spec key that causes it; plan exits 2 when promote would refuse it (without
--allow-replace naming that resource).

Last comes the environment's monthly cost, estimated line by line (Fargate vCPU and memory,
the RDS instance, its storage and backups, the load balancer's hours and capacity units, NAT
gateway, public IPv4 addresses, S3, Secrets Manager, CloudWatch Logs, Container Insights) from
a dated table of on-demand list prices in mlflow-dev, with the assumptions it makes about
traffic and the three biggest levers (NAT or public egress, Multi-AZ, ARM). --cost prints the
estimate alone, with no credentials and no AWS call. With --json the plan carries it as \`cost\`
(with --cost the estimate is the whole output).
`,
    examples: ["mlflow-dev plan --env staging", "mlflow-dev plan --env staging --cost"],
    peerWords: ["diff", "preview"],
    load: () => import("./commands/plan.ts"),
  },
  {
    name: "promote",
    group: "stack",
    forms: [
      {
        runtime: "aws",
        args: "--env <name>",
        summary:
          "Secrets, stack, image, migration, rollout, smoke test; rolls back to the previous revision when the new one fails",
      },
    ],
    options: [...AWS_ONLY_FLAGS, ALLOW_REPLACE],
    positionals: [],
    takes: { file: true, json: "The result (URL, image, timings) as JSON" },
    details: `Deploys the environment to ECS Fargate, in order:
  1. checks: credentials, region, account (must be the spec's), existing VPC and subnets
  2. secrets: created once in Secrets Manager (generated, never printed, never rotated)
  3. infrastructure: the CloudFormation stack, through a change set; a failure shows the
     failing resources' events and the stack rolls back
  4. image: the spec's image as it is, or images.build built and pushed to ECR
  5. migration: a one-off ECS task; a non-zero exit stops the rollout
  6. rollout: a new task definition revision on the service, until steady
  7. smoke test: /health and a tracking round trip through the service endpoint
A failure after the rollout started puts the previous revision back (exit 1). With nothing
changed, promote changes nothing and says so. A change set that would replace or delete a
resource holding data (the database, the artifact bucket, the database's subnet group, the VPC:
editing backend.database, backend.user, network.cidr or the bucket does) is refused with exit 2
before anything runs, naming the resource and the spec key; --allow-replace <LogicalId> (for
example --allow-replace Database) lets it through, on purpose. One deploy per environment at
a time: a lock in SSM Parameter Store (release a stale one with \`mlflow-dev unlock --env <name>\`).
Credentials: the AWS SDK's default chain (environment, ~/.aws profiles, SSO, roles).
The image: the spec's (images.mlflow or images.build) or the default; promote and plan print
it and where it came from. MLFLOW_DEV_DEPLOY_IMAGE=REF deploys another one; MLFLOW_DEV_IMAGES
(the local stack's substitutes) never changes what a deploy runs.
`,
    examples: ["mlflow-dev promote --env staging", "mlflow-dev promote --env staging --allow-replace Database"],
    peerWords: ["deploy", "apply", "release", "publish"],
    load: () => import("./commands/promote.ts"),
  },
  {
    name: "destroy",
    group: "stack",
    forms: [
      {
        runtime: "aws",
        args: "--env <name> --yes",
        summary:
          "Delete what promote created (final DB snapshot and bucket kept unless --skip-final-snapshot / --delete-data)",
      },
    ],
    options: [
      ...AWS_ONLY_FLAGS,
      { name: "yes", type: "boolean", description: "Confirm without typing the environment's name" },
      {
        name: "skip-final-snapshot",
        type: "boolean",
        description: "Delete the database without a final snapshot",
      },
      {
        name: "delete-data",
        type: "boolean",
        description: "Delete the objects under artifacts.prefix (and the bucket when nothing else is in it)",
      },
    ],
    positionals: [],
    takes: { file: true, json: "What was deleted and kept, as JSON" },
    details: `Deletes what promote created: the stack (service, database, network, load balancer, roles,
logs), every task definition revision and the secrets (scheduled for deletion with a 7-day
recovery window; promote restores them) unless a final snapshot or the bucket is kept, which
need them. At a terminal it asks for the environment's name; scripts pass --yes (without a
terminal it refuses without --yes).
Kept unless asked: a final snapshot of the database (--skip-final-snapshot deletes without
one) and the artifact bucket with its objects (--delete-data deletes the objects under the
spec's artifacts.prefix, and the bucket only when nothing else is in it). The ECR repository
of a built image is deleted with its images (promote rebuilds them). promote turns the stack's
termination protection on; destroy turns it off right before the delete. A database under
deletion protection (database.deletionProtection: true, the default) is refused: set it to false
and promote first.
`,
    examples: ["mlflow-dev destroy --env staging --yes"],
    peerWords: ["delete", "remove", "teardown"],
    load: () => import("./commands/destroy.ts"),
  },
  {
    name: "unlock",
    group: "stack",
    forms: [
      {
        runtime: "aws",
        args: "--env <name>",
        summary: "Release the deploy lock left by an interrupted promote/destroy",
      },
    ],
    options: [...AWS_ONLY_FLAGS],
    positionals: [],
    takes: AWS_TAKES,
    details: `Releases the deploy lock of an environment (the SSM parameter
/mlflow-dev/<name>/<env>/deploy-lock), for a promote or destroy that was interrupted.
Only run it when no promote or destroy of the environment is running.
`,
    examples: ["mlflow-dev unlock --env staging"],
    peerWords: [],
    load: () => import("./commands/unlock.ts"),
  },

  // --- Parity ---------------------------------------------------------------------------------
  {
    name: "parity",
    group: "parity",
    forms: [
      {
        args: "--env <name>",
        omit: ["live", "local", "remote", "save", "connect-to"],
        summary:
          "Compare the compose MLflow service with the ECS container definition; every difference is declared or drift",
      },
      {
        args: "--live --local <url> --remote <url>",
        omit: ["env"],
        summary: "Run the same MLflow workload against two servers and compare the normalized results",
      },
    ],
    options: [
      {
        name: "env",
        type: "string",
        value: "<name>",
        description: "Static: the AWS environment to compare with local",
      },
      { name: "live", type: "boolean", description: "Live: compare two running servers" },
      { name: "local", type: "string", value: "<url>", description: "Live: the first server's URL" },
      { name: "remote", type: "string", value: "<url>", description: "Live: the second server's URL" },
      {
        name: "connect-to",
        type: "string",
        multiple: true,
        value: "<h:p:addr:p>",
        description: "Live: send the requests for HOST:PORT to ADDRESS:PORT, keeping the Host header (as curl)",
      },
      { name: "save", type: "string", value: "<file>", description: "Live: write both recordings as JSON" },
    ],
    positionals: [],
    takes: { file: true, json: "The differences as JSON" },
    details: `Static (--env): renders the local compose \`mlflow\` service and the ECS container definition of
the AWS environment <name> (offline, placeholder deploy facts) and compares image, entrypoint,
command, every server flag (\`arg.--flag\`), environment variable (env.NAME), secret name
(secret.NAME), port, health check and resources. Each difference is declared (built in, such
as MinIO vs S3 or static keys vs the task role, or listed in the spec's parity.declared with a
reason) or drift. The spec's images are compared; MLFLOW_DEV_IMAGES is not applied.

Live (--live): runs one MLflow workload (experiments, runs, params, metrics via log-batch,
artifacts of several sizes through the proxy, a registered model with an alias, searches with
filters and ordering, a set of invalid requests) against both servers, normalizes ids and
timestamps, and reports every difference in results, status codes and error codes. It creates
experiments and a model named mlflow-dev-parity-<random>-* and deletes them at the end (MLflow
keeps deleted experiments until \`mlflow gc\`). --save <file> writes both recordings as JSON.
--connect-to HOST:PORT:ADDRESS:PORT sends the requests for one URL's HOST:PORT to ADDRESS:PORT
and keeps its Host header (as curl): a load balancer before DNS points at it, or the AWS
emulator's load balancer (--connect-to <LoadBalancerDns>:80:127.0.0.1:4566).
Basic-auth credentials come from the environment, never from flags:
  MLFLOW_PARITY_LOCAL_USERNAME / MLFLOW_PARITY_LOCAL_PASSWORD
  MLFLOW_PARITY_REMOTE_USERNAME / MLFLOW_PARITY_REMOTE_PASSWORD
  (or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD for both)

Exit 0 when there is no drift (static) or no difference (live), 1 when there is (or the
workload could not complete), 2 on invalid input.
`,
    examples: [
      "mlflow-dev parity --env staging",
      "mlflow-dev parity --live --local http://127.0.0.1:5050 --remote https://mlflow.example.com --save parity.json",
    ],
    peerWords: ["compare"],
    load: () => import("./commands/parity.ts"),
  },
  {
    name: "rehearse",
    group: "parity",
    forms: [
      {
        args: "--env <name> [--keep]",
        summary:
          "The environment's rollout on a local AWS twin (MiniStack with mlflow-dev's patches), live parity against the local stack, then everything it started torn down; says what the twin enforces",
      },
    ],
    options: [
      ENV_REQUIRED,
      {
        name: "keep",
        type: "boolean",
        description: "Leave the twin's stack, the local stack and the twin running for inspection",
      },
    ],
    positionals: [],
    takes: { file: true, json: "The rehearsal's result (steps, verdict, parity report, fidelity) as JSON" },
    details: `Rehearses the environment's Fargate rollout on a local AWS twin and checks live parity:
  1. static parity of the environment against the local stack (drift fails the rehearsal)
  2. the twin: MiniStack with mlflow-dev's patches, built from the package's images/ministack
     (once; tagged with a hash of its inputs) and started on 127.0.0.1:4566, or the running one
  3. the local stack: mlflow-dev up, unless it is running already
  4. promote to the twin, as the spec's account in the environment's region: the same code as
     promote (change sets, migration, rollout, smoke test; a revision that cannot start is
     rolled back by the twin's CloudFormation and the rehearsal exits 1 with its cause)
  5. live parity between the local stack and the rehearsed service, through the twin's load
     balancer; the report and both recordings go to .mlflow-dev/rehearse/<name>/
  6. teardown of what it started: the twin's stack (destroy, data included), the local stack
     (its volumes too when the rehearsal created them), the twin when it was not running before.
     --keep leaves them for inspection.
The rehearsal runs on a copy of the spec beside it: the database's deletion protection is off
there, and an existing VPC with its subnets, or a certificate, are replaced by stand-ins it
creates on the twin (each said in the output). It ends with the list of AWS behaviours the twin
enforces and those it does not (localstack/README.md), so a green rehearsal says what it proved.
Images: MLFLOW_DEV_DEPLOY_IMAGE, else MLFLOW_DEV_IMAGES "mlflow=" (the local stack's image), is
what the twin runs; MLFLOW_DEV_IMAGES "ministack=REF" runs a built twin image, "ministack-base=REF"
builds it on another Python base (an offline machine's), "postgres=REF" is the twin's RDS image.
Settings of the twin (as localstack/start.sh): MLFLOW_DEV_AWS_PORT, MLFLOW_DEV_AWS_NETWORK,
MLFLOW_DEV_AWS_SUBNET, MLFLOW_DEV_AWS_WAIT. Nothing reaches AWS: every AWS call goes to the twin.

Exit 0 when every step passed, 1 when one failed, 2 for invalid input.
`,
    examples: ["mlflow-dev rehearse --env staging", "mlflow-dev rehearse --env staging --keep --json"],
    peerWords: ["rehearsal", "dry-run", "simulate"],
    load: () => import("./commands/rehearse.ts"),
  },

  // --- Models ---------------------------------------------------------------------------------
  {
    name: "models",
    invocation: "models promote",
    group: "models",
    forms: [
      {
        args: "<name> (--version <n> | --alias <alias>) --to <env>",
        summary:
          "Copy a registered model version with its run, metric history, logged model and artifacts; verified, idempotent",
      },
    ],
    options: [
      { name: "version", type: "string", value: "<n>", description: "The version to copy" },
      { name: "alias", type: "string", value: "<alias>", description: "Or the version under this alias" },
      { name: "to", type: "string", value: "<env>", description: "The spec environment to copy it into (required)" },
      {
        name: "from",
        type: "string",
        value: "<env>",
        description: "The spec environment to copy it from (default: local)",
      },
      {
        name: "from-spec",
        type: "string",
        value: "<path>",
        description: "Read --from from another spec file (another project's local stack)",
      },
      {
        name: "set-alias",
        type: "string",
        value: "<alias>",
        description: "Point this alias at the new (or found) version",
      },
      { name: "dry-run", type: "boolean", description: "Print the plan and write nothing" },
      ...AWS_CONNECTION,
    ],
    positionals: [{ name: "<name>", description: "The registered model" }],
    takes: { file: true, json: "The report as JSON" },
    details: `Copies version <n> (or the version under <alias>) of the registered model <name> from the spec
environment --from (default local) into --to: the experiment (by name, created when absent), the
run (params, tags, the full metric history with steps and timestamps, dataset inputs, status,
start and end time), its artifacts, the logged model (MLflow 3, models:/m-...) and its files, the
registered model (created with its description and tags when absent) and a new version whose
source is the destination's copy. Artifacts stream through this machine (download, upload), so
the two stores need not reach each other. The run and the version carry lineage tags
(mlflow-dev.promote.*: source environment, model, version, run, a digest of the content).

Before anything is written, the destination must answer, accept the credentials mlflow-dev
holds for it (the local stack's .mlflow-dev/.env, an AWS environment's Secrets Manager secret),
and run an MLflow version no older than the source's (else exit 2). The copy is verified before it
is registered: file lists, sizes and sha256 of every artifact, params and metric point counts,
and the MLmodel file; a copy that does not verify is not registered (exit 1).

Idempotent: a second run finds the version by its digest tag and writes nothing ("already
promoted as version N"). An interrupted run leaves no version; run it again to complete it.
--set-alias <alias> points the alias at the new (or found) version; source aliases are not copied.
--from-spec <path> reads --from from another spec file (another project's local stack).
--dry-run prints the plan and writes nothing; --json prints the report as JSON.

Exit 0 promoted (or already), 1 failed (nothing registered), 2 invalid input or refused
destination (nothing written).
`,
    examples: [
      "mlflow-dev models promote iris --version 3 --to staging --set-alias champion",
      "mlflow-dev models promote iris --alias champion --from staging --to prod --set-alias champion",
    ],
    peerWords: ["registry"],
    load: () => import("./commands/models.ts"),
  },
];

/**
 * The sections of the top-level help and the README list, in order. A "stack" command's forms go
 * under "local" or "aws" by their runtime; `named` flags are said once in the title, not per line.
 * @type {ReadonlyArray<{ id: string; title: string; named?: string[] }>}
 */
export const SECTIONS = [
  { id: "spec", title: "Spec and rendering (no Docker, no AWS):" },
  { id: "local", title: "Local stack (Docker):" },
  {
    id: "aws",
    title: "AWS (ECS Fargate; --profile <name>, --endpoint-url <url> or AWS_ENDPOINT_URL for emulators):",
    named: ["profile", "endpoint-url"],
  },
  { id: "parity", title: "Parity (local vs AWS):" },
  {
    id: "models",
    title: "Models (between two environments of the spec; for AWS ones --profile <name>, --endpoint-url <url>):",
    named: ["profile", "endpoint-url"],
  },
];

/** The command named `name`, or undefined. */
export function findCommand(/** @type {string} */ name) {
  return COMMANDS.find((c) => c.name === name);
}

/**
 * Every flag a command takes, in the order its help lists them: its own, then the global ones it
 * takes (with its own description of them), then -h/--help. The parser takes exactly these.
 * @param {CommandDef} command
 * @returns {OptionDef[]}
 */
export function commandOptions(command) {
  /** @type {OptionDef[]} */
  const globals = [];
  for (const key of /** @type {const} */ (["file", "json"])) {
    const taken = command.takes[key];
    if (taken === undefined) continue;
    const option = GLOBAL_OPTIONS[key];
    globals.push(typeof taken === "string" ? { ...option, description: taken } : option);
  }
  return [...command.options, ...globals, GLOBAL_OPTIONS.help];
}
