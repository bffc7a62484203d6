/**
 * Progress lines that reassure during long waits (an RDS instance, an image build, a server's first
 * start): each step says how long the one before it took, and when nothing has been printed for
 * HEARTBEAT_MS a heartbeat line says what is still going on and for how long. Lines go to stderr;
 * stdout carries only data.
 */

/** How long a wait may stay silent before a heartbeat line. */
export const HEARTBEAT_MS = 15_000;

export interface ProgressOptions {
  write?: (text: string) => void;
  now?: () => number;
  heartbeatMs?: number;
}

export interface Progress {
  /** A new step: the previous one's time is printed first. */
  step(line: string, label: string): void;
  /** A detail line of the current step; `label`, when given, is what a heartbeat says is still going on. */
  line(text: string, label?: string): void;
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
  const now = options.now ?? Date.now;
  const every = options.heartbeatMs ?? HEARTBEAT_MS;
  let label: string | undefined;
  let stepStarted = now();
  let lastWrite = now();
  const out = (text: string) => {
    write(text);
    lastWrite = now();
  };
  const timer = setInterval(
    () => {
      if (label === undefined || now() - lastWrite < every) return;
      out(`  ... still ${label} (${seconds(now() - stepStarted)})\n`);
    },
    Math.min(every, 1000),
  );
  timer.unref();
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
    stop() {
      clearInterval(timer);
    },
  };
}
