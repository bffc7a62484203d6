import {
  type CloudWatchLogs,
  type FilteredLogEvent,
  type GetLogEventsCommandOutput,
  type LogStream,
  paginateDescribeLogStreams,
  paginateFilterLogEvents,
} from "@aws-sdk/client-cloudwatch-logs";
import { CONTAINER_NAME } from "../../render/names.ts";
import { awsErrorName } from "../errors.ts";

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

/**
 * The streams of a log group whose names start with `prefix`, page after page (the SDK's
 * paginator, at most `maxPages`); none when the group does not exist.
 */
export async function listLogStreams(
  logs: CloudWatchLogs,
  group: string,
  prefix: string,
  maxPages = 200,
): Promise<LogStream[]> {
  const found: LogStream[] = [];
  let pages = 0;
  try {
    for await (const page of paginateDescribeLogStreams(
      { client: logs, stopOnSameToken: true },
      { logGroupName: group, logStreamNamePrefix: prefix },
    )) {
      found.push(...(page.logStreams ?? []));
      if (++pages >= maxPages) break;
    }
  } catch (e) {
    if ((e as { name?: string }).name === "ResourceNotFoundException") return [];
    throw e;
  }
  return found;
}

/** The events of the named streams from startTime on (every one when undefined), page after page (at most `maxPages`). */
export async function filterLogEvents(
  logs: CloudWatchLogs,
  input: { group: string; streams: string[]; startTime?: number },
  maxPages = 1000,
): Promise<FilteredLogEvent[]> {
  const events: FilteredLogEvent[] = [];
  let pages = 0;
  for await (const page of paginateFilterLogEvents(
    { client: logs, stopOnSameToken: true },
    {
      logGroupName: input.group,
      logStreamNames: input.streams,
      ...(input.startTime !== undefined ? { startTime: input.startTime } : {}),
    },
  )) {
    events.push(...(page.events ?? []));
    if (++pages >= maxPages) break;
  }
  return events;
}

export function indentLines(lines: string[], prefix = "    "): string {
  return lines.map((l) => `${prefix}${l}`).join("\n");
}

/** One task's log stream, read forward from its start with GetLogEvents' forward token: each call gives the new lines. */
export function taskStreamReader(logs: CloudWatchLogs, group: string, stream: string): { read(): Promise<string[]> } {
  let token: string | undefined;
  return {
    async read() {
      const lines: string[] = [];
      for (let page = 0; page < 100; page++) {
        let r: GetLogEventsCommandOutput;
        try {
          r = await logs.getLogEvents({
            logGroupName: group,
            logStreamName: stream,
            startFromHead: true,
            ...(token ? { nextToken: token } : {}),
          });
        } catch (e) {
          // The stream appears with the task's first line.
          if (awsErrorName(e) === "ResourceNotFoundException") return lines;
          throw e;
        }
        const events = r.events ?? [];
        lines.push(...events.map((e) => (e.message ?? "").replace(/\r?\n$/, "")));
        const next = r.nextForwardToken;
        const same = next === undefined || next === token;
        if (next) token = next;
        if (same || events.length === 0) break;
      }
      return lines;
    },
  };
}
