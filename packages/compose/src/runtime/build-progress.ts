/**
 * Pure: the steps of an image build, read from the builder's output as `docker compose build`
 * prints it: the classic builder's `Step 3/12 : RUN ...`, or BuildKit's plain progress
 * `#7 [2/6] RUN ...` (`#7 [stage 2/6] ...` in a multi-stage build). Every other line is the
 * step's own output (a package manager's, say).
 */

export interface BuildStep {
  n: number;
  of: number;
  /** The Dockerfile instruction, as the builder shows it. */
  instruction: string;
  /** BuildKit's stage name, in a multi-stage build. */
  stage?: string;
}

const CLASSIC = /^Step (\d+)\/(\d+) : (.+)$/;
const BUILDKIT = /^#\d+ \[(?:([\w.-]+) )?(\d+)\/(\d+)\] (.+)$/;
/** compose's prefix on a service's build output (`mlflow  | ...`, or ` => ` in some versions). */
const PREFIX = /^\s*(?:[\w.-]+\s+\|\s)?/;

export function buildStep(line: string): BuildStep | undefined {
  const text = line.replace(PREFIX, "").trimEnd();
  const classic = CLASSIC.exec(text);
  if (classic) return { n: Number(classic[1]), of: Number(classic[2]), instruction: classic[3] ?? "" };
  const kit = BUILDKIT.exec(text);
  if (kit)
    return {
      n: Number(kit[2]),
      of: Number(kit[3]),
      instruction: kit[4] ?? "",
      ...(kit[1] ? { stage: kit[1] } : {}),
    };
  return undefined;
}

/** At most `max` characters of an instruction or output line, on one line. */
export function shorten(text: string, max = 100): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

/** A step as a progress line: `step 3/12: RUN pip install ...` (BuildKit repeats a step's line when it finishes: the caller prints each step once). */
export function describeStep(s: BuildStep): string {
  return `step ${s.n}/${s.of}${s.stage ? ` (${s.stage})` : ""}: ${shorten(s.instruction)}`;
}
