import type { FilteredLogEvent, LogStream } from "@aws-sdk/client-cloudwatch-logs";
import type { Clock } from "@mlflow-dev/kernel/wait";
import type { AwsModel } from "../render/aws-model.ts";
import { type AwsLogService, migrationTaskFamily } from "../render/names.ts";
import type { AwsEngine } from "./engine/engine.ts";
import { DeployError } from "./errors.ts";

/**
 * `logs --env`: the environment's CloudWatch Logs, read where its task definitions send them.
 * The awslogs driver writes each task's container to the stream `<prefix>/<container>/<task id>`
 * of the log group; the group and the prefix are read from the registered task definitions (the
 * server's running revision, the migration family's newest), so the reader follows what was
 * rendered. Reading is DescribeLogStreams (by prefix) then FilterLogEvents over those streams;
 * following repeats it from the newest event seen, dropping events already printed.
 */

/** The engine's verbs the log readers use. */
export type LogReader = Pick<AwsEngine, "listLogStreams" | "filterLogEvents">;

/** Where one service's output is: a log group and the streams' prefix (`server/mlflow/`). */
export interface LogSource {
  service: AwsLogService;
  group: string;
  /** The streams' name prefix, up to and including the container's `/`. */
  streamPrefix: string;
}

export interface LogLine {
  service: AwsLogService;
  timestamp: number;
  message: string;
  stream: string;
  eventId: string;
}

/** The awslogs options of a registered task definition's first container (undefined when it logs elsewhere). */
export function awslogsOf(
  taskDefinition: Record<string, unknown> | undefined,
): { group: string; prefix: string; container: string } | undefined {
  const containers = (taskDefinition?.containerDefinitions ?? []) as {
    name?: string;
    logConfiguration?: { logDriver?: string; options?: Record<string, string> };
  }[];
  const c = containers[0];
  const options = c?.logConfiguration?.options;
  if (c?.logConfiguration?.logDriver !== "awslogs" || !options?.["awslogs-group"]) return undefined;
  return {
    group: options["awslogs-group"],
    prefix: options["awslogs-stream-prefix"] ?? "",
    container: c.name ?? "",
  };
}

/** The log sources of the services asked for (both when none is named), from the task definitions ECS holds. */
export async function logSources(
  model: AwsModel,
  engine: Pick<AwsEngine, "describeService" | "describeTaskDefinition">,
  services: readonly AwsLogService[] = ["mlflow", "migrate"],
): Promise<LogSource[]> {
  const service = await engine.describeService(model);
  const sources: LogSource[] = [];
  for (const name of services) {
    const ref = name === "mlflow" ? service?.taskDefinition : migrationTaskFamily(model);
    const registered = ref ? await engine.describeTaskDefinition(ref) : undefined;
    const awslogs = awslogsOf(registered);
    if (awslogs)
      sources.push({ service: name, group: awslogs.group, streamPrefix: `${awslogs.prefix}/${awslogs.container}/` });
  }
  if (sources.length === 0)
    throw new DeployError(
      `no ${services.length === 1 ? `${services[0]} ` : ""}task definition of ${model.environment} sends its output to CloudWatch Logs: nothing is deployed${service ? "" : " (no ECS service)"}`,
      {
        hint: `Run mlflow-dev promote --env ${model.environment} first; mlflow-dev status --env ${model.environment} shows what runs.`,
      },
    );
  return sources;
}

/** FilterLogEvents takes at most this many stream names. */
const MAX_STREAMS = 100;

/**
 * The streams of a source, newest first (by their last event, ingestion or creation: AWS updates
 * lastEventTimestamp only eventually), at most MAX_STREAMS of them.
 */
export async function listStreams(logs: LogReader, source: LogSource): Promise<string[]> {
  return newestStreams(await logs.listLogStreams(source.group, source.streamPrefix), MAX_STREAMS);
}

/** Stream names by their newest activity, newest first (pure). */
export function newestStreams(streams: readonly LogStream[], max: number): string[] {
  const last = (s: LogStream) => Math.max(s.lastEventTimestamp ?? 0, s.lastIngestionTime ?? 0, s.creationTime ?? 0);
  return [...streams]
    .filter((s) => s.logStreamName)
    .sort((a, b) => last(b) - last(a))
    .slice(0, max)
    .map((s) => s.logStreamName as string);
}

/** The events of the sources from startTime on (every one when undefined), oldest first. */
export async function readLogLines(
  logs: LogReader,
  sources: readonly LogSource[],
  startTime?: number,
): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for (const source of sources) {
    const streams = await listStreams(logs, source);
    if (streams.length === 0) continue;
    const events = await logs.filterLogEvents({
      group: source.group,
      streams,
      ...(startTime !== undefined ? { startTime } : {}),
    });
    lines.push(...events.flatMap((e) => toLogLine(source, e)));
  }
  return sortLines(lines);
}

function toLogLine(source: LogSource, e: FilteredLogEvent): LogLine[] {
  const stream = e.logStreamName ?? "";
  // An emulator may ignore the stream filter: keep only this source's streams.
  if (!stream.startsWith(source.streamPrefix)) return [];
  return [
    {
      service: source.service,
      timestamp: e.timestamp ?? 0,
      message: (e.message ?? "").replace(/\r?\n$/, ""),
      stream,
      eventId: e.eventId ?? `${stream}:${e.timestamp}:${e.message}`,
    },
  ];
}

/** Oldest first; events of one timestamp keep the order CloudWatch gave them (pure). */
export function sortLines(lines: readonly LogLine[]): LogLine[] {
  return [...lines].sort((a, b) => a.timestamp - b.timestamp);
}

/** The last `tail` lines (all with "all" or undefined), as `docker compose logs --tail` (pure). */
export function tailLines(lines: readonly LogLine[], tail: number | "all" | undefined): LogLine[] {
  if (tail === undefined || tail === "all") return [...lines];
  return tail === 0 ? [] : lines.slice(-tail);
}

/**
 * One line as `docker compose logs` prints it: the service and the task (`mlflow/1a2b3c4d`, as
 * compose's `mlflow-1`), a bar, with --timestamps the event's time, then the message (pure).
 */
export function formatLogLine(line: LogLine, options: { timestamps?: boolean; width?: number } = {}): string {
  const task = line.stream.split("/").pop() ?? "";
  const name = `${line.service}/${task.slice(0, 8)}`.padEnd(options.width ?? 0);
  const time = options.timestamps ? `${new Date(line.timestamp).toISOString()} ` : "";
  return `${name} | ${time}${line.message}`;
}

/** How far back each look of `--follow` reads again, for events that reach CloudWatch late. */
export const FOLLOW_LOOKBACK_MS = 30_000;

export interface FollowOptions {
  clock: Clock;
  intervalMs: number;
  /** Stops the loop (Ctrl-C, or a test). */
  signal?: AbortSignal;
  /** Where the first look starts (the newest event already shown, or the --since start). */
  fromMs: number;
  /** Events already shown, so the overlap of the first look is not printed twice. */
  shown: readonly LogLine[];
  onLines: (lines: LogLine[]) => void;
}

/** Keeps reading new events until the signal aborts; each look re-lists the streams, so new tasks appear. */
export async function followLogLines(
  logs: LogReader,
  sources: readonly LogSource[],
  options: FollowOptions,
): Promise<void> {
  const seen = new Map<string, number>(options.shown.map((l) => [l.eventId, l.timestamp]));
  let newest = Math.max(options.fromMs, ...options.shown.map((l) => l.timestamp));
  while (!options.signal?.aborted) {
    await options.clock.sleep(options.intervalMs);
    if (options.signal?.aborted) break;
    const lines = await readLogLines(logs, sources, Math.max(0, newest - FOLLOW_LOOKBACK_MS));
    const fresh = lines.filter((l) => !seen.has(l.eventId));
    for (const l of fresh) seen.set(l.eventId, l.timestamp);
    if (fresh.length > 0) {
      newest = Math.max(newest, ...fresh.map((l) => l.timestamp));
      options.onLines(fresh);
    }
    for (const [id, ts] of seen) if (ts < newest - 2 * FOLLOW_LOOKBACK_MS) seen.delete(id);
  }
}
