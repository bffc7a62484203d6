/** Progress of a deploy command: human lines on stderr, so stdout carries only data. */
export interface Reporter {
  /** A numbered step of the command ("secrets", "infrastructure", ...). */
  step(title: string): void;
  /** A detail line under the current step. */
  info(line: string): void;
  warn(line: string): void;
}
