/**
 * The one wait module: what time it is, how to pause, the one polling loop and the heartbeat of
 * long waits. Every wait of the project (the local runtime's, the AWS deploy's, the MLflow
 * client's readiness and retries) goes through here, on a `Clock` that tests replace with a fake
 * one that advances at once instead of sleeping. Node built-ins only, so every package may use it.
 */
import { setTimeout as timerSleep } from "node:timers/promises";

/** Time, as a waiting caller sees it: what time it is and how to pause. */
export interface Clock {
  now(): number;
  /** Pauses ms; a given signal ends the pause early with its reason (an AbortError). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs one wait (a poll loop, a health wait) and counts its time, when the clock meters them (WaitMeter). */
  waiting?<T>(wait: () => Promise<T>): Promise<T>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => timerSleep(ms, undefined, signal ? { signal } : {}),
};

/** Pauses ms on the real clock (a signal ends the pause early). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return realClock.sleep(ms, signal);
}

/**
 * A clock that adds up the time spent waiting (every poll loop and health wait run through
 * `waiting`), for promote's timings: the rest of a promote is mlflow-dev's own work and its API
 * calls. A wait inside a wait is counted once.
 */
export class WaitMeter implements Clock {
  private readonly inner: Clock;
  private depth = 0;
  waitedMs = 0;
  constructor(inner: Clock) {
    this.inner = inner;
  }
  now(): number {
    return this.inner.now();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.inner.sleep(ms, signal);
  }
  async waiting<T>(wait: () => Promise<T>): Promise<T> {
    const t0 = this.now();
    this.depth++;
    try {
      return await wait();
    } finally {
      this.depth--;
      if (this.depth === 0) this.waitedMs += this.now() - t0;
    }
  }
}

/** Seconds since t0, for progress lines (`12s`). */
export function secondsSince(clock: Clock, t0: number): string {
  return `${Math.round((clock.now() - t0) / 1000)}s`;
}

/** How long a wait may take, how often it looks, and the clock it reads. */
export interface WaitOptions {
  pollMs: number;
  timeoutMs: number;
  clock: Clock;
}

export interface PollOptions<T> {
  /** Default: the real clock. */
  clock?: Clock;
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
 * The one polling loop: tick (stream), check, and sleep until the check answers or the time is
 * up. The deadline is read after a check, so a slow last look still counts.
 */
export async function poll<T>(options: PollOptions<T> & { onTimeout: () => Promise<Error> | Error }): Promise<T>;
export async function poll<T>(options: PollOptions<T>): Promise<T | undefined>;
export async function poll<T>(options: PollOptions<T>): Promise<T | undefined> {
  const clock = options.clock ?? realClock;
  return clock.waiting ? clock.waiting(() => pollLoop(clock, options)) : pollLoop(clock, options);
}

async function pollLoop<T>(clock: Clock, options: PollOptions<T>): Promise<T | undefined> {
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

export interface Heartbeat {
  stop(): void;
}

/**
 * Calls `beat` every `everyMs` until stopped, for what a long, silent wait prints ("... still
 * waiting"). The timer never keeps the process alive on its own.
 */
export function heartbeat(everyMs: number, beat: () => void): Heartbeat {
  const timer = setInterval(beat, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
