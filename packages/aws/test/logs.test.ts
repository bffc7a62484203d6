import {
  CloudWatchLogs,
  DescribeLogStreamsCommand,
  type FilteredLogEvent,
  FilterLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import {
  awslogsOf,
  FOLLOW_LOOKBACK_MS,
  followLogLines,
  formatLogLine,
  type LogLine,
  type LogSource,
  newestStreams,
  readLogLines,
  tailLines,
} from "../src/deploy/logs.ts";
import { fakeClock } from "./fake-clock.ts";
import { inMemoryEngine } from "./in-memory-engine.ts";

/** logs --env: which streams are read, in what order lines come, and what --follow prints once. */

const GROUP = "/mlflow-dev/tracking/staging";
const server: LogSource = { service: "mlflow", group: GROUP, streamPrefix: "server/mlflow/" };

interface FakeEvent extends FilteredLogEvent {
  logStreamName: string;
  timestamp: number;
}

/**
 * A log group in memory behind a real CloudWatch Logs client (its send stubbed, so the SDK's
 * paginators run as they do against AWS): DescribeLogStreams by prefix in pages of 2,
 * FilterLogEvents over the named streams in pages of 3 (or over every stream, as an emulator that
 * ignores the filter does).
 */
function fakeLogs(events: FakeEvent[], options: { ignoreStreamFilter?: boolean } = {}) {
  const calls: { op: string; input: Record<string, unknown> }[] = [];
  const logs = logsClient();
  const stub = mockClient(logs);
  stubs.push(stub);
  stub.on(DescribeLogStreamsCommand).callsFake(async (input: { logStreamNamePrefix?: string; nextToken?: string }) => {
    calls.push({ op: "describeLogStreams", input });
    const names = [...new Set(events.map((e) => e.logStreamName))]
      .filter((n) => n.startsWith(input.logStreamNamePrefix ?? ""))
      .sort();
    const start = Number(input.nextToken ?? 0);
    const page = names.slice(start, start + 2).map((n) => ({
      logStreamName: n,
      creationTime: 0,
      lastEventTimestamp: Math.max(...events.filter((e) => e.logStreamName === n).map((e) => e.timestamp)),
    }));
    return { logStreams: page, ...(start + 2 < names.length ? { nextToken: String(start + 2) } : {}) };
  });
  stub
    .on(FilterLogEventsCommand)
    .callsFake(async (input: { logStreamNames?: string[]; startTime?: number; nextToken?: string }) => {
      calls.push({ op: "filterLogEvents", input });
      const matching = events.filter(
        (e) =>
          (options.ignoreStreamFilter || (input.logStreamNames ?? []).includes(e.logStreamName)) &&
          (input.startTime === undefined || e.timestamp >= input.startTime),
      );
      const start = Number(input.nextToken ?? 0);
      return {
        events: matching.slice(start, start + 3),
        ...(start + 3 < matching.length ? { nextToken: String(start + 3) } : {}),
      };
    });
  return { logs, calls, events };
}

function logsClient(): CloudWatchLogs {
  return new CloudWatchLogs({
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
  });
}

const stubs: { restore(): void }[] = [];
afterEach(() => {
  for (const s of stubs.splice(0)) s.restore();
});

const ev = (stream: string, timestamp: number, message: string): FakeEvent => ({
  logStreamName: stream,
  timestamp,
  message,
  eventId: `${stream}-${timestamp}-${message}`,
});

describe("logs --env", () => {
  it("takes the group and prefix from the registered task definition's awslogs options", () => {
    expect(
      awslogsOf({
        containerDefinitions: [
          {
            name: "mlflow",
            logConfiguration: {
              logDriver: "awslogs",
              options: { "awslogs-group": GROUP, "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "server" },
            },
          },
        ],
      }),
    ).toEqual({ group: GROUP, prefix: "server", container: "mlflow" });
    expect(
      awslogsOf({ containerDefinitions: [{ name: "mlflow", logConfiguration: { logDriver: "json-file" } }] }),
    ).toBe(undefined);
    expect(awslogsOf(undefined)).toBe(undefined);
  });

  it("orders streams by their newest activity and keeps at most the limit", () => {
    expect(
      newestStreams(
        [
          { logStreamName: "a", creationTime: 5 },
          { logStreamName: "b", creationTime: 1, lastEventTimestamp: 9 },
          { logStreamName: "c", creationTime: 1, lastIngestionTime: 7 },
        ],
        2,
      ),
    ).toEqual(["b", "c"]);
  });

  it("reads every page of streams and events, only the service's streams, oldest first", async () => {
    const f = fakeLogs(
      [
        ev("server/mlflow/t1", 30, "third"),
        ev("server/mlflow/t2", 10, "first"),
        ev("server/mlflow/t3", 20, "second"),
        ev("server/mlflow/t1", 40, "fourth"),
        ev("migrate/mlflow/m1", 15, "migration"),
      ],
      { ignoreStreamFilter: true },
    );
    const lines = await readLogLines(inMemoryEngine({ logs: f.logs }), [server]);
    expect(lines.map((l) => l.message)).toEqual(["first", "second", "third", "fourth"]);
    expect(f.calls.filter((c) => c.op === "describeLogStreams")).toHaveLength(2);
    expect(f.calls.filter((c) => c.op === "filterLogEvents").length).toBeGreaterThanOrEqual(2);
    const since = await readLogLines(inMemoryEngine({ logs: f.logs }), [server], 25);
    expect(since.map((l) => l.message)).toEqual(["third", "fourth"]);
  });

  it("a group that does not exist has no lines", async () => {
    const logs = logsClient();
    const stub = mockClient(logs);
    stubs.push(stub);
    stub
      .on(DescribeLogStreamsCommand)
      .rejects(
        Object.assign(new Error("The specified log group does not exist"), { name: "ResourceNotFoundException" }),
      );
    expect(await readLogLines(inMemoryEngine({ logs: logs }), [server])).toEqual([]);
  });

  it("--tail keeps the last lines; lines print as compose prints them", () => {
    const line = (m: string): LogLine => ({
      service: "mlflow",
      timestamp: Date.UTC(2026, 11, 7, 1, 2, 3),
      message: m,
      stream: "server/mlflow/0123456789abcdef",
      eventId: m,
    });
    const all = ["a", "b", "c"].map(line);
    expect(tailLines(all, 2).map((l) => l.message)).toEqual(["b", "c"]);
    expect(tailLines(all, 0)).toEqual([]);
    expect(tailLines(all, "all")).toHaveLength(3);
    expect(formatLogLine(line("hello"))).toBe("mlflow/01234567 | hello");
    expect(formatLogLine(line("hello"), { timestamps: true })).toBe("mlflow/01234567 | 2026-12-07T01:02:03.000Z hello");
  });

  it("--follow prints new and late events once, and finds the streams of new tasks", async () => {
    const clock = fakeClock(1_000_000);
    const f = fakeLogs([ev("server/mlflow/t1", 999_000, "old")]);
    const shown = await readLogLines(inMemoryEngine({ logs: f.logs }), [server]);
    const printed: string[] = [];
    await followLogLines(inMemoryEngine({ logs: f.logs }), [server], {
      clock,
      intervalMs: 2000,
      signal: AbortSignal.abort(),
      fromMs: clock.now(),
      shown,
      onLines: (lines) => printed.push(...lines.map((l) => l.message)),
    });
    // Aborted before the first look: nothing read.
    expect(printed).toEqual([]);

    const stop = new AbortController();
    let ticks = 0;
    const clock2 = fakeClock(1_000_000);
    const sleep = clock2.sleep;
    clock2.sleep = async (ms) => {
      await sleep(ms);
      ticks++;
      if (ticks === 1) f.events.push(ev("server/mlflow/t1", 1_001_000, "new"));
      if (ticks === 2) {
        f.events.push(ev("server/mlflow/t2", 1_002_000, "new task"));
        // Reaches CloudWatch late, with a time before the newest event shown, inside the lookback.
        f.events.push(ev("server/mlflow/t1", 1_001_000 - FOLLOW_LOOKBACK_MS / 2, "late"));
      }
      if (ticks === 4) stop.abort();
    };
    await followLogLines(inMemoryEngine({ logs: f.logs }), [server], {
      clock: clock2,
      intervalMs: 2000,
      signal: stop.signal,
      fromMs: clock2.now(),
      shown,
      onLines: (lines) => printed.push(...lines.map((l) => l.message)),
    });
    expect(printed).toEqual(["new", "late", "new task"]);
    expect(clock2.slept).toEqual([2000, 2000, 2000, 2000]);
  });
});
