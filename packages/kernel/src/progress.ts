import { heartbeat } from "./wait.ts";

/**
 * The one progress reporter of the commands. Progress lines that reassure during long waits (an RDS instance, an image build, a server's first
 * start): each step says how long the one before it took, and when nothing has been printed for
 * HEARTBEAT_MS a heartbeat line says what is still going on and for how long. Lines go to stderr;
 * stdout carries only data.
 */

/** Progress of a command as its steps see it: human lines on stderr, so stdout carries only data. */
export interface Reporter {
  /** A numbered step of the command ("secrets", "infrastructure", ...). */
  step(title: string): void;
  /** A detail line under the current step. */
  info(line: string): void;
  warn(line: string): void;
}

/** How long a wait may stay silent before a heartbeat line. */
export const HEARTBEAT_MS = 15_000;

export interface ProgressOptions {
  write?: (text: string) => void;
  now?: () => number;
  heartbeatMs?: number;
  /**
   * Whether the output is a terminal, where `status` redraws one line in place (default: stderr's,
   * when `write` is not given).
   */
  tty?: boolean;
  /** The terminal's width, for the status line (default stderr's, else 80). */
  columns?: number;
}

/** How often a status line is redrawn at most. */
export const STATUS_REDRAW_MS = 200;

export interface Progress {
  /** A new step: the previous one's time is printed first. */
  step(line: string, label: string): void;
  /** A detail line of the current step; `label`, when given, is what a heartbeat says is still going on. */
  line(text: string, label?: string): void;
  /**
   * What is going on right now (bytes of a pull, a build's last output line), replacing the previous
   * status: on a terminal one line redrawn in place, at most every STATUS_REDRAW_MS and cleared by
   * the next line; elsewhere nothing is written, and the next heartbeat names it instead of the label.
   */
  status(text: string): void;
  /** Stops the heartbeat (it never keeps the process alive on its own). */
  stop(): void;
}

export function seconds(ms: number): string {
  return ms < 60_000
    ? `${(ms / 1000).toFixed(1)} s`
    : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function progress(options: ProgressOptions = {}): Progress {
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const tty = options.tty ?? (options.write === undefined && process.stderr.isTTY === true);
  const columns = options.columns ?? (process.stderr.columns || 80);
  const now = options.now ?? Date.now;
  const every = options.heartbeatMs ?? HEARTBEAT_MS;
  let label: string | undefined;
  let current: string | undefined;
  let stepStarted = now();
  let lastWrite = now();
  let shown = false;
  let lastDraw: number | undefined;
  const out = (text: string) => {
    if (shown) write("\r\x1b[2K");
    shown = false;
    current = undefined;
    write(text);
    lastWrite = now();
  };
  const beat = heartbeat(Math.min(every, 1000), () => {
    const what = current ?? label;
    if (what === undefined || now() - lastWrite < every) return;
    out(`  ... still ${what} (${seconds(now() - stepStarted)})\n`);
  });
  return {
    step(line, newLabel) {
      if (label !== undefined) out(`  (${label}: ${seconds(now() - stepStarted)})\n`);
      label = newLabel;
      stepStarted = now();
      out(line);
    },
    line(text, newLabel) {
      if (newLabel !== undefined) label = newLabel;
      out(text);
    },
    status(text) {
      current = text;
      if (!tty || (lastDraw !== undefined && now() - lastDraw < STATUS_REDRAW_MS)) return;
      lastDraw = now();
      const line = `  ${text}`;
      write(`\r\x1b[2K${line.length < columns ? line : `${line.slice(0, Math.max(columns - 2, 1))}…`}`);
      shown = true;
      lastWrite = now();
    },
    stop() {
      if (shown) write("\r\x1b[2K");
      shown = false;
      beat.stop();
    },
  };
}

/** A Reporter on progress(): `<prefix>: <title>` per step, each with the time the previous one took, and a heartbeat. */
export function stepReporter(prefix: string, options: ProgressOptions = {}): Reporter {
  const p = progress(options);
  return {
    step: (title) => p.step(`${prefix}: ${title}\n`, title),
    info: (line) => p.line(`  ${line}\n`),
    warn: (line) => p.line(`  warning: ${line}\n`),
  };
}

/** The local runtime's progress: one call a line, each naming what a heartbeat says is still going on; `status` as progress()'s. */
export type LineReporter = ((line: string) => void) & { status(text: string): void };

export function lineReporter(options: ProgressOptions = {}): LineReporter {
  const p = progress(options);
  return Object.assign((m: string) => p.line(`  ${m}\n`, m), { status: (text: string) => p.status(text) });
}
