/**
 * Where a command's signals come from and where it exits: the process, or a fake in unit tests.
 * The deploy lock (released on Ctrl-C) and the rehearsal (torn down on Ctrl-C) both take one.
 */
export interface SignalHost {
  on(signal: NodeJS.Signals, handler: () => void): unknown;
  off(signal: NodeJS.Signals, handler: () => void): unknown;
  exit(code: number): void;
  warn(message: string): void;
}

/** This process's signals, its exit and its standard error. */
export const processSignals: SignalHost = {
  on: (s, h) => process.on(s, h),
  off: (s, h) => process.off(s, h),
  exit: (code) => process.exit(code),
  warn: (m) => process.stderr.write(m),
};
