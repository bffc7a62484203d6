/**
 * What a rehearsal on the AWS twin proves: the AWS behaviours the twin (MiniStack, the release pins.json names, with
 * mlflow-dev's patches) enforces, and those it does not. One list: `mlflow-dev rehearse` prints it
 * and localstack/README.md holds its rendering (a unit test keeps the two equal). The details and
 * the measurements are in localstack/README.md.
 */
export interface TwinBehaviour {
  /** What AWS does. */
  behaviour: string;
  /** Where the twin's emulation of it comes from (a patch number of localstack/README.md), or why not. */
  note: string;
}

export const TWIN_ENFORCES: readonly TwinBehaviour[] = [
  {
    behaviour: "CloudFormation change sets, stack events, rollback and termination protection",
    note: "MiniStack",
  },
  { behaviour: "stack policies that deny replacing or deleting the data-holding resources", note: "patch 9" },
  {
    behaviour: "the task size: CPU quota and a hard memory limit without swap; an out-of-memory kill stops the task",
    note: "patch 6",
  },
  {
    behaviour: "the container health check, and a service deployment completes only once its tasks are healthy",
    note: "patch 6",
  },
  {
    behaviour:
      "the deployment circuit breaker: a revision that cannot start is rolled back to the previous one by CloudFormation",
    note: "patch 11",
  },
  {
    behaviour:
      "a service's first deployment: CloudFormation waits for it, and when the circuit breaker gives up the service is removed and the stack rolls back",
    note: "patch 17",
  },
  {
    behaviour: "the container's user, read-only root filesystem, dropped capabilities, init and Fargate volumes",
    note: "patch 12",
  },
  { behaviour: "the task role's credentials, in the task's account", note: "patch 4" },
  { behaviour: "RDS instances as real PostgreSQL servers, snapshots with their data", note: "patches 5, 8" },
  { behaviour: "NAT gateways and Elastic IPs need their subnet, address and Internet gateway", note: "patch 7" },
  { behaviour: "HTTPS listeners need an issued certificate of their account and region", note: "patch 7" },
  { behaviour: "Application Auto Scaling targets and policies are checked", note: "patch 7" },
  { behaviour: "S3 bucket tags, and which bucket and VPC properties replace the resource", note: "patch 10" },
  { behaviour: "the load balancer's idle timeout", note: "patch 13" },
  { behaviour: "the RDS instance class's max_connections", note: "patch 14" },
  { behaviour: "database TLS: plain connections refused, the server's name verified", note: "patch 15" },
  { behaviour: "a subnet's free addresses", note: "patch 16" },
  {
    behaviour:
      "EventBridge Scheduler schedules are stored and their ECS target (cluster, task definition, role) must exist",
    note: "patch 18",
  },
  { behaviour: "S3 bucket lifecycle rules are stored", note: "patch 19" },
  { behaviour: "Secrets Manager secrets injected into the task", note: "MiniStack" },
];

export const TWIN_DOES_NOT_ENFORCE: readonly TwinBehaviour[] = [
  { behaviour: "IAM policies, bucket policies and service quotas", note: "every call is allowed" },
  {
    behaviour: "security groups, subnets, route tables, public IPs and the load balancer's scheme and source CIDRs",
    note: "one flat Docker network",
  },
  { behaviour: "TLS", note: "the load balancer answers plain HTTP; the listener is chosen by the Host header's port" },
  { behaviour: "the load balancer's target health check", note: "targets are always healthy" },
  { behaviour: "autoscaling alarms", note: "the desired count never changes by itself" },
  {
    behaviour: "a schedule never starts its task, and lifecycle rules never expire a version or an upload",
    note: "run `mlflow-dev gc --env <name>` to see a gc run",
  },
  { behaviour: "a task's ephemeral storage size", note: "the container's disk is not limited" },
  { behaviour: "PostgreSQL versions other than the twin's image", note: "one image per major version" },
  {
    behaviour: "timing: Fargate launch and image pull times, RDS creation and snapshot times, the 3-hour stack bound",
    note: "seconds on the twin, minutes on AWS",
  },
  { behaviour: "the database's storage, automated backups, point-in-time restore", note: "tmpfs in the container" },
];

/** The list as markdown (localstack/README.md) or as plain lines (the command's output). */
export function formatTwinFidelity(style: "markdown" | "text"): string {
  const line = (b: TwinBehaviour) =>
    style === "markdown" ? `- ${b.behaviour} (${b.note})` : `  - ${b.behaviour} (${b.note})`;
  return [
    style === "markdown" ? "Enforced by the twin:" : "the twin enforces:",
    "",
    ...TWIN_ENFORCES.map(line),
    "",
    style === "markdown"
      ? "Not enforced by the twin (check these on AWS):"
      : "the twin does not enforce (check these on AWS):",
    "",
    ...TWIN_DOES_NOT_ENFORCE.map(line),
    "",
  ]
    .filter((l, i, all) => style === "markdown" || l !== "" || i === all.length - 1)
    .join("\n");
}
