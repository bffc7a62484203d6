import type { CloudWatchLogs } from "@aws-sdk/client-cloudwatch-logs";
import { CONTAINER_NAME } from "../../render/names.ts";

/** The awslogs stream of a task's container: `<prefix>/<container>/<task id>`. */
export function taskLogStream(prefix: string, taskArn: string): string {
  return `${prefix}/${CONTAINER_NAME}/${taskArn.split("/").pop() ?? taskArn}`;
}

/** The last lines a task wrote, for error messages; empty when there are none (or no access). */
export async function lastLogLines(logs: CloudWatchLogs, group: string, stream: string, count = 15): Promise<string[]> {
  try {
    const r = await logs.getLogEvents({
      logGroupName: group,
      logStreamName: stream,
      limit: count,
      startFromHead: false,
    });
    return (r.events ?? []).map((e) => (e.message ?? "").trimEnd()).filter(Boolean);
  } catch {
    return [];
  }
}

export function indentLines(lines: string[], prefix = "    "): string {
  return lines.map((l) => `${prefix}${l}`).join("\n");
}
