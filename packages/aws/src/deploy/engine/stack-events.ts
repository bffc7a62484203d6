import { type CloudFormation, paginateDescribeStackEvents, type StackEvent } from "@aws-sdk/client-cloudformation";
import type { StackInfo } from "./stack-info.ts";

/**
 * The events of a stack as a stream: what happened since the last read, oldest first. Watching a
 * stack is kept apart from deciding when its operation is done (stack-wait.ts).
 */
export class StackEventStream {
  private readonly cfn: CloudFormation;
  private readonly stack: string;
  private readonly seen: Set<string>;

  private constructor(cfn: CloudFormation, stack: string, seen: Set<string>) {
    this.cfn = cfn;
    this.stack = stack;
    this.seen = seen;
  }

  /** A stream from now on: the events the stack has already are not news. */
  static async from(cfn: CloudFormation, stack: string): Promise<StackEventStream> {
    const seen = new Set<string>();
    try {
      // The newest page is enough: later reads stop at the first event they have seen.
      const r = await cfn.describeStackEvents({ StackName: stack });
      for (const e of r.StackEvents ?? []) seen.add(e.EventId ?? "");
    } catch {
      // No stack yet: every event is news.
    }
    return new StackEventStream(cfn, stack, seen);
  }

  /**
   * The events since the last read, oldest first. CloudFormation lists them newest first, a page
   * at a time: pages are read until one holds an event seen before (the older pages are known).
   */
  async next(): Promise<StackEvent[]> {
    const fresh: StackEvent[] = [];
    const pages = paginateDescribeStackEvents({ client: this.cfn, stopOnSameToken: true }, { StackName: this.stack });
    try {
      for await (const page of pages) {
        const events = page.StackEvents ?? [];
        const unseen = events.filter((e) => !this.seen.has(e.EventId ?? ""));
        for (const e of unseen) this.seen.add(e.EventId ?? "");
        fresh.push(...unseen);
        // A page with an event seen before reaches what is known; one with nothing new, too.
        if (unseen.length < events.length || unseen.length === 0) break;
      }
    } catch {
      // The stack is gone (or not there yet): nothing to show.
    }
    return fresh.reverse();
  }
}

/**
 * Failures CloudFormation reports as operation events rather than stack events: pre-deployment
 * validation ("Validation failed ... Call DescribeEvents"), shaped like stack events.
 */
export async function validationFailures(cfn: CloudFormation, stackName: string): Promise<StackEvent[]> {
  try {
    const r = await cfn.describeEvents({ StackName: stackName, Filters: { FailedEvents: true } });
    return (r.OperationEvents ?? [])
      .filter((e) => e.LogicalResourceId && e.LogicalResourceId !== stackName)
      .map((e) => ({
        EventId: e.EventId,
        StackName: stackName,
        Timestamp: e.Timestamp,
        LogicalResourceId: e.LogicalResourceId,
        ResourceType: e.ResourceType,
        ResourceStatus: "CREATE_FAILED",
        ResourceStatusReason: [
          e.ValidationName,
          e.ValidationStatusReason ?? e.ResourceStatusReason,
          e.ValidationPath ? `at ${e.ValidationPath}` : "",
        ]
          .filter(Boolean)
          .join(": "),
      })) as StackEvent[];
  } catch {
    return [];
  }
}

export function formatEvent(
  e: Pick<StackEvent, "ResourceStatus" | "LogicalResourceId" | "ResourceType" | "ResourceStatusReason">,
): string {
  const reason = e.ResourceStatusReason ? `: ${e.ResourceStatusReason}` : "";
  return `${(e.ResourceStatus ?? "").padEnd(20)} ${e.LogicalResourceId ?? ""} (${e.ResourceType ?? ""})${reason}`;
}

/** The failed resources, the first (root) cause first; cancellations caused by it come after. */
export function stackFailureMessage(
  stackName: string,
  stack: Pick<StackInfo, "status" | "statusReason">,
  failures: Pick<StackEvent, "LogicalResourceId" | "ResourceType" | "ResourceStatusReason" | "ResourceStatus">[],
): string {
  const resources = failures.filter((f) => f.LogicalResourceId !== stackName);
  // With no failed resource, the stack's own failure event carries the reason.
  const own = resources.length ? resources : failures.filter((f) => f.ResourceStatusReason);
  const cancelled = (f: (typeof own)[number]) => /cancel/i.test(f.ResourceStatusReason ?? "");
  const ordered = [...own.filter((f) => !cancelled(f)), ...own.filter(cancelled)];
  const lines = ordered.map(
    (f) =>
      `  ${f.LogicalResourceId} (${f.ResourceType}) ${f.ResourceStatus}: ${f.ResourceStatusReason ?? "no reason given"}`,
  );
  return [
    `the stack ${stackName} ended in ${stack.status}${stack.statusReason ? ` (${stack.statusReason})` : ""}${lines.length ? "; failed resources:" : ""}`,
    ...lines,
  ].join("\n");
}
