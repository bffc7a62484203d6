import type { Clock } from "./clock.ts";

/** How long a wait may take, how often it looks, and the clock it reads. */
export interface WaitOptions {
  pollMs: number;
  timeoutMs: number;
  clock: Clock;
}

export interface PollOptions<T> {
  clock: Clock;
  intervalMs: number;
  timeoutMs: number;
  /** At most this many looks (default: until the time is up). */
  maxAttempts?: number;
  /**
   * Streams what happened since the last look (events, progress lines); runs before every check,
   * so watching the operation is apart from deciding when it is done.
   */
  onTick?: () => Promise<void> | void;
  /** One look: a value ends the wait; undefined looks again; a throw stops it with that error. */
  check: () => Promise<T | undefined> | T | undefined;
  /** The error when the time is up (or the attempts are used up); without it, poll returns undefined. */
  onTimeout?: () => Promise<Error> | Error;
}

/**
 * The one polling loop of the deploy runners: tick (stream), check, and sleep until the check
 * answers or the time is up. The deadline is read after a check, so a slow last look still counts.
 */
export async function poll<T>(options: PollOptions<T> & { onTimeout: () => Promise<Error> | Error }): Promise<T>;
export async function poll<T>(options: PollOptions<T>): Promise<T | undefined>;
export async function poll<T>(options: PollOptions<T>): Promise<T | undefined> {
  const { clock } = options;
  return clock.waiting ? clock.waiting(() => pollLoop(options)) : pollLoop(options);
}

async function pollLoop<T>(options: PollOptions<T>): Promise<T | undefined> {
  const { clock } = options;
  const deadline = clock.now() + options.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    await options.onTick?.();
    const value = await options.check();
    if (value !== undefined) return value;
    if (clock.now() > deadline || (options.maxAttempts !== undefined && attempt >= options.maxAttempts)) {
      if (!options.onTimeout) return undefined;
      throw await options.onTimeout();
    }
    await clock.sleep(options.intervalMs);
  }
}
