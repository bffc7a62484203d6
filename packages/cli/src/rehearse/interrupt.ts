import { processSignals, type SignalHost } from "@mlflow-dev/kernel/signals";

/**
 * Ctrl-C (SIGINT) or SIGTERM during `rehearse`: the step that runs (a child mlflow-dev, in a process
 * group of its own) gets the signal once and ends its own way (promote releases its deploy lock;
 * what the twin was asked to do goes on), then the rehearsal tears down what it started (unless
 * --keep) and exits 128 + the signal's number (130 for Ctrl-C). A second signal exits at once.
 */

/** 128 + the signal's number, as shells report it. */
export const SIGNAL_EXIT: Readonly<Record<"SIGINT" | "SIGTERM", number>> = { SIGINT: 130, SIGTERM: 143 };
type Handled = keyof typeof SIGNAL_EXIT;

/** Thrown by `check()` once a signal arrived: the rehearsal's `finally` tears down, its caller exits. */
export class RehearsalInterrupted extends Error {
  readonly signal: Handled;
  readonly exitCode: number;
  constructor(signal: Handled) {
    super(`interrupted by ${signal}`);
    this.signal = signal;
    this.exitCode = SIGNAL_EXIT[signal];
  }
}

interface Killable {
  kill(signal: NodeJS.Signals): boolean;
}

export class Interrupt {
  /** The first signal that arrived. */
  received: Handled | undefined;
  private child: Killable | undefined;
  private teardown = false;
  private readonly handlers: [Handled, () => void][] = [];

  private readonly leftover: () => string[];
  private readonly host: SignalHost;

  /** `leftover()`: what a second signal leaves behind, for its message. */
  constructor(leftover: () => string[], host: SignalHost = processSignals) {
    this.leftover = leftover;
    this.host = host;
  }

  install(): this {
    for (const signal of Object.keys(SIGNAL_EXIT) as Handled[]) {
      const handler = () => this.onSignal(signal);
      this.host.on(signal, handler);
      this.handlers.push([signal, handler]);
    }
    return this;
  }

  dispose(): void {
    for (const [signal, handler] of this.handlers) this.host.off(signal, handler);
    this.handlers.length = 0;
  }

  /** The running step's process: a signal is passed on to it. */
  track(child: Killable): void {
    this.child = child;
    if (this.received && !this.teardown) child.kill(this.received);
  }

  /** The step ended: no process to pass a signal on to. */
  untrack(): void {
    this.child = undefined;
  }

  /** The teardown runs: a first signal no longer stops the running step (a second still exits). */
  tearingDown(): void {
    this.teardown = true;
  }

  /** Throws RehearsalInterrupted once a signal arrived. */
  check(): void {
    if (this.received) throw new RehearsalInterrupted(this.received);
  }

  private onSignal(signal: Handled): void {
    if (this.received) {
      this.child?.kill(signal);
      const left = this.leftover();
      this.host.warn(
        `\n[rehearse] second ${signal}: exiting at once${left.length ? `; left behind: ${left.join("; ")}` : ""}\n`,
      );
      this.host.exit(SIGNAL_EXIT[signal]);
      return;
    }
    this.received = signal;
    if (this.teardown) {
      this.host.warn(`\n[rehearse] ${signal}: tearing down already (a second ${signal} exits at once)\n`);
      return;
    }
    this.host.warn(
      `\n[rehearse] ${signal}: stopping the running step, then tearing down what the rehearsal started (a second ${signal} exits at once)\n`,
    );
    this.child?.kill(signal);
  }
}
