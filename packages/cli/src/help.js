/** Help texts. Kept free of imports so `--help` loads nothing heavy. */
export const USAGE = `mlflow-dev: one spec, an MLflow tracking service on your laptop and on AWS ECS Fargate

Usage: mlflow-dev <command> [flags]

Spec and rendering (no Docker, no AWS):
  init                      Write a starting mlflow-dev.yaml (and its JSON Schema)
  validate                  Check the spec; every problem with file:line:col
  render --env <name>       Render compose.yaml (local) or the ECS task definition and
                            CloudFormation template (AWS env); --out <dir> writes files
  schema                    Print the JSON Schema of mlflow-dev.yaml

Local stack (Docker):
  up                        Start MLflow + PostgreSQL + MinIO and wait until healthy
  down [--volumes --yes]    Stop the stack (data kept unless --volumes)
  status                    State and health of each service
  open [--no-browser]       The UI's URL and where the login lives; a browser at a terminal
  logs [service] [--follow] [--tail <n>] [--since <duration>] [--timestamps]
                            Service logs (mlflow, postgres, minio, migrate, network)
  exec -- <command...>      Run a command once beside the server (its image, environment
                            and secrets; psql and mlflow reach the database); its exit code
  gc [--dry-run]            Remove runs and experiments deleted over gc.olderThanDays ago
                            (mlflow gc), with what was found and removed
  backup [--out <dir>]      Database dump + artifact objects + manifest with digests
  restore <dir> [--force]   Verify a backup and load it into the running stack
  doctor                    Check Docker, Compose, ports, disk, images, AWS, emulator

AWS (ECS Fargate; --profile <name>, --endpoint-url <url> or AWS_ENDPOINT_URL for emulators):
  plan --env <name>         What promote would change (CloudFormation change set, task
                            definition diff) and the monthly cost; nothing is applied
                            (--cost: the cost estimate alone, offline)
  promote --env <name>      Secrets, stack, image, migration, rollout, smoke test; rolls
                            back to the previous revision when the new one fails
  destroy --env <name> --yes
                            Delete what promote created (final DB snapshot and bucket kept
                            unless --skip-final-snapshot / --delete-data)
  backup --env <name>       RDS snapshot of the database, tagged with the MLflow version
                            and the artifact bucket's state
  restore --env <name> --snapshot <id>
                            Swap in a new database from a snapshot (writers stopped; the
                            replaced one is snapshotted); after destroy, recreates the stack
  status --env <name>       Stack, service, rollout and task health, URL, image, MLflow
                            version, last rollout; exit 1 when not healthy
  open --env <name>         The environment's URL and the secret holding the login
  logs [mlflow|migrate] --env <name> [--follow] [--tail <n>] [--since <duration>] [--timestamps]
                            The tasks' output, from CloudWatch Logs
  exec --env <name> -- <command...>
                            The same as a one-off Fargate task from the server's task
                            definition, its output streamed from CloudWatch Logs
  gc --env <name> [--dry-run]
                            The same, as a one-off Fargate task
  unlock --env <name>       Release the deploy lock left by an interrupted promote/destroy

Parity (local vs AWS):
  parity --env <name>       Compare the compose MLflow service with the ECS container
                            definition; every difference is declared or drift
  parity --live --local <url> --remote <url>
                            Run the same MLflow workload against two servers and
                            compare the normalized results
  rehearse --env <name> [--keep]
                            The environment's rollout on a local AWS twin (MiniStack with
                            mlflow-dev's patches), live parity against the local stack,
                            then everything it started torn down; says what the twin enforces

Models (between two environments of the spec):
  models promote <name> (--version <n> | --alias <alias>) --to <env> [--from <env>]
                            Copy a registered model version with its run, metric history,
                            logged model and artifacts; verified, idempotent

Global flags:
  -f, --file <path>         Spec file (default: the nearest mlflow-dev.yaml, in this
                            directory or a parent, up to the repository root)
      --json                Machine-readable output on stdout
  -h, --help                Help (also: mlflow-dev <command> --help)
  -v, --version             Print the version

Exit codes: 0 ok, 1 failed (or a problem found), 2 invalid input (nothing changed), 70 internal error.
`;

/** @type {Record<string, string>} */
export const COMMAND_HELP = {
  init: `Usage: mlflow-dev init [--name <service>] [--force] [-f <path>]

Writes mlflow-dev.yaml (first line points yaml-language-server at the schema) and
mlflow-dev.schema.json beside it. Refuses to overwrite an existing spec without --force.
`,
  validate: `Usage: mlflow-dev validate [-f <path>] [--json]

Validates the spec and prints every problem as file:line:col path: message.
Exit 0 when valid, 2 when not.
`,
  render: `Usage: mlflow-dev render --env <name> [--out <dir>] [-f <path>] [--json]

local:     prints compose.yaml; with --out writes compose.yaml and a .env of generated
           secrets (mode 0600, never overwritten).
AWS env:   prints the CloudFormation template; with --out writes template.yaml,
           task-definition.json, migration-task-definition.json and rollout-plan.json.
           --json prints all of them as one JSON object.
`,
  schema: `Usage: mlflow-dev schema

Prints the JSON Schema of mlflow-dev.yaml on stdout.
`,
  up: `Usage: mlflow-dev up [-f <path>]

Renders compose.yaml and .env into .mlflow-dev/ beside the spec, starts the stack with
docker compose up, and waits for every job to succeed, every service's health check and
MLflow's /health (asked every 200 ms). A second up with nothing changed
is a no-op; a changed spec recreates only what changed.
Image overrides for offline machines: MLFLOW_DEV_IMAGES="mlflow=REF,postgres=REF,minio=REF".
`,
  down: `Usage: mlflow-dev down [--volumes] [--yes] [-f <path>]

Stops and removes the containers. Data volumes are kept unless --volumes is given,
which needs --yes (or a confirmation at a terminal).
`,
  status: `Usage: mlflow-dev status [-f <path>] [--json]
       mlflow-dev status --env <aws env> [--profile <name>] [--endpoint-url <url>] [-f <path>] [--json]

State and health of each service of the local stack.

With --env <aws env>: the CloudFormation stack (name, status, reason), the ECS service and the
rollout state of its primary deployment, running/desired tasks with each task's health, the
URL (the stack's ServiceUrl output), the image and its origin (pulled as the spec names it, or
built into the stack's ECR repository), the MLflow version (the running task definition's
label, else the spec's) and the last rollout (the primary deployment's created/updated times).
--json prints the same fields. Nothing is changed.

Exit 0 when healthy (the stack in a *_COMPLETE state, the rollout completed, running == desired,
every task HEALTHY), 1 when not (each problem is listed) or when nothing is deployed.
`,
  open: `Usage: mlflow-dev open [--no-browser] [-f <path>] [--json]
       mlflow-dev open --env <aws env> [--no-browser] [--profile <name>] [--endpoint-url <url>] [-f <path>] [--json]

Prints the MLflow UI's URL: locally from the spec's port and bind address, on AWS the stack's
ServiceUrl output. With auth: basic it says where the admin's password lives (locally a
variable of .mlflow-dev/.env beside the spec, on AWS a Secrets Manager secret); the password
itself is never printed. At a terminal it also opens the URL with xdg-open (open on macOS)
when there is one; --no-browser (or --json, or output to a pipe) only prints. A missing
browser is no failure. Exit 1 when nothing is deployed for the AWS environment.
`,
  logs: `Usage: mlflow-dev logs [service] [--follow|-F] [--tail <n>|all] [--since <duration|time>] [--timestamps|-t] [-f <path>]
       mlflow-dev logs [mlflow|migrate] --env <aws env> [--follow|-F] [--tail <n>|all] [--since <duration|time>]
                       [--timestamps|-t] [--profile <name>] [--endpoint-url <url>] [-f <path>]

The logs of one service of the local stack (mlflow, postgres, minio, migrate, network), or of all.
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
  exec: `Usage: mlflow-dev exec [-f <path>] -- <command...>
       mlflow-dev exec --env <aws env> [--profile <name>] [--endpoint-url <url>] [-f <path>] -- <command...>

Runs a command once beside the MLflow server, with the server's image, environment and secrets,
and exits with the command's exit code. Everything after \`--\` is the command, passed on word for
word (no shell; use \`sh -c '...'\` for one). The command sees MLFLOW_BACKEND_STORE_URI (also
MLFLOW_TRACKING_URI, unless the environment sets it) and the PostgreSQL client variables (PGHOST,
PGPORT, PGUSER, PGPASSWORD, PGDATABASE), so \`mlflow\` commands and \`psql\` reach the database,
which stays private. The MLflow image has no psql: there \`psql\` is mlflow-dev's stand-in on the
image's psycopg2, which takes -c <sql>, -f <file> or SQL on stdin, -A, -t, -X and -q, and prints
rows as \`psql -A\` does.

Local: a new container of the mlflow service on the stack's network (docker compose run --rm,
no published ports); the stack must be up. A terminal is attached when there is one.
With --env <aws env>: a one-off Fargate task (started by mlflow-dev-exec) from the task definition
the service runs, in the service's subnets and security group, its command replaced; mlflow-dev
waits until it stops (20 minutes at most, then stops it) and streams its CloudWatch output (the
stream server/mlflow/<task id>). No terminal and no stdin on AWS.

Examples:
  mlflow-dev exec -- mlflow experiments search --view all
  mlflow-dev exec --env staging -- psql -c 'select count(*) from runs'
  mlflow-dev exec --env staging -- sh -c 'mlflow gc --help'
Exit: the command's exit code; 1 or 2 with an \`error:\` line when mlflow-dev could not run it.
`,
  gc: `Usage: mlflow-dev gc [--dry-run] [-f <path>] [--json]
       mlflow-dev gc --env <aws env> [--dry-run] [--profile <name>] [--endpoint-url <url>] [-f <path>] [--json]

MLflow's garbage collection: runs and experiments deleted more than gc.olderThanDays days ago
(spec key, default 30; 0 takes every deleted one), their rows and their artifacts, are removed
for good with \`mlflow gc\`. It runs through exec's path (locally a compose run container, on AWS a
one-off Fargate task), where the database and the bucket are reachable. Before and after, it
counts the runs and experiments MLflow selects (in PostgreSQL) and the objects under their
artifact locations (listing the bucket), and reports found and removed runs, experiments,
artifact objects and bytes. --dry-run only counts.
On AWS the bucket is versioned: gc deletes the current objects, and their old versions expire
after artifacts.lifecycle.noncurrentVersionDays (a lifecycle rule of the bucket).
Exit 0 when mlflow gc succeeded, 1 when it failed (the report says what was removed anyway).
`,
  backup: `Usage: mlflow-dev backup [--out <dir>] [-f <path>] [--json]
       mlflow-dev backup --env <aws env> [--profile <name>] [--endpoint-url <url>] [-f <path>] [--json]

Backs up the running local stack into a new directory (default
.mlflow-dev/backups/<UTC stamp>-backup): database.sql.gz (pg_dump, one consistent snapshot),
artifacts/<key> for every object under the artifact prefix (copied after the dump), and
manifest.json (MLflow version, schema revision, size and sha256 of every file). The directory
appears only once complete; an existing --out (or a link) is refused (exit 2).

With --env <aws env>: a manual RDS snapshot of the environment's database, available when the
command returns, under the deploy lock. Its tags record the MLflow version the service runs
(the schema the snapshot holds) and the artifact bucket at that moment (object count, bytes,
versioning status, time). Restore it with restore --env <env> --snapshot <id>.
`,
  restore: `Usage: mlflow-dev restore <dir> [--force] [-f <path>] [--json]
       mlflow-dev restore --env <aws env> --snapshot <id> [--profile <name>] [--endpoint-url <url>]

Restores a backup into the running local stack. First checks every file against the manifest
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
  parity: `Usage: mlflow-dev parity --env <name> [-f <path>] [--json]
       mlflow-dev parity --live --local <url> --remote <url> [--connect-to <h:p:addr:p>]...
                         [--save <file>] [--json]

Static (--env): renders the local compose \`mlflow\` service and the ECS container definition of
the AWS environment <name> (offline, placeholder deploy facts) and compares image, entrypoint,
command, every server flag (arg.--flag), environment variable (env.NAME), secret name
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
  models: `Usage: mlflow-dev models promote <name> (--version <n> | --alias <alias>) --to <env>
                     [--from local|<env>] [--from-spec <path>] [--set-alias <alias>] [--dry-run]
                     [--profile <name>] [--endpoint-url <url>] [-f <path>] [--json]

Copies version <n> (or the version under <alias>) of the registered model <name> from the spec
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
  plan: `Usage: mlflow-dev plan --env <name> [--allow-replace <LogicalId>]... [--profile <name>] [--endpoint-url <url>] [-f <path>] [--json]
       mlflow-dev plan --env <name> --cost [-f <path>] [--json]

Shows what \`promote --env <name>\` would change, with nothing applied: the secrets it would
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
  promote: `Usage: mlflow-dev promote --env <name> [--allow-replace <LogicalId>]... [--profile <name>] [--endpoint-url <url>] [-f <path>] [--json]

Deploys the environment to ECS Fargate, in order:
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
  rehearse: `Usage: mlflow-dev rehearse --env <name> [--keep] [-f <path>] [--json]

Rehearses the environment's Fargate rollout on a local AWS twin and checks live parity:
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
  destroy: `Usage: mlflow-dev destroy --env <name> --yes [--skip-final-snapshot] [--delete-data] [--json]

Deletes what promote created: the stack (service, database, network, load balancer, roles,
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
  unlock: `Usage: mlflow-dev unlock --env <name> [--profile <name>] [--endpoint-url <url>]

Releases the deploy lock of an environment (the SSM parameter
/mlflow-dev/<name>/<env>/deploy-lock), for a promote or destroy that was interrupted.
Only run it when no promote or destroy of the environment is running.
`,
  doctor: `Usage: mlflow-dev doctor [-f <path>] [--json]

Checks the Docker engine, Compose, free ports, disk, images, AWS credentials and the
AWS emulator, with a verdict per check. Exit 1 when a required check fails.
`,
};
