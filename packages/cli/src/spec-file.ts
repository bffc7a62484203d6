import { existsSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { findUpStop, findUpSync } from "find-up";

/** The spec's file name: what init writes and what every other command looks for. */
export const SPEC_FILE = "mlflow-dev.yaml";

/**
 * The spec a command reads when no -f is given, as git and docker compose find theirs:
 * mlflow-dev.yaml in `cwd` or the nearest parent directory that has one. The search ends at a
 * directory holding `.git` (a repository's root; a spec above it belongs to another project) or at
 * the filesystem root. Returns the path relative to `cwd` (`mlflow-dev.yaml`, `../mlflow-dev.yaml`),
 * or undefined when there is none.
 */
export function findSpec(cwd: string = process.cwd()): string | undefined {
  const found = findUpSync(
    (dir) => {
      if (statSync(join(dir, SPEC_FILE), { throwIfNoEntry: false })?.isFile()) return SPEC_FILE;
      return existsSync(join(dir, ".git")) ? findUpStop : undefined;
    },
    { cwd },
  );
  return found === undefined ? undefined : relative(cwd, found) || SPEC_FILE;
}

/** The `-f <spec>` to repeat in a suggested command: none for ./mlflow-dev.yaml, quoted for the shell. */
export function fileFlag(file: string): string {
  if (file === SPEC_FILE || file === `./${SPEC_FILE}`) return "";
  return ` -f ${/^[A-Za-z0-9_@%+=:,./-]+$/.test(file) ? file : `'${file.replaceAll("'", "'\\''")}'`}`;
}

/** The commands that read the spec, so a suggestion to run one needs the -f of the current one. */
const READS_SPEC = "validate|render|up|down|status|logs|doctor|plan|promote|destroy|unlock|parity";
const CODE_COMMAND = new RegExp(`^mlflow-dev (?:${READS_SPEC})\\b`);
const PROSE_COMMAND = new RegExp(`\\bmlflow-dev (${READS_SPEC})\\b(?!/)`, "g");

/**
 * A message or hint with every suggested mlflow-dev command made to work from the current
 * directory: `-f <spec>` added unless the spec is ./mlflow-dev.yaml. A command in backquotes gets
 * the flag at its end; one in prose right after the command name. Help and --live commands, and
 * commands that already pass -f, are left as they are.
 */
export function withSpecFlag(text: string, file: string): string {
  const flag = fileFlag(file);
  if (flag === "") return text;
  return text
    .split("`")
    .map((part, i) => {
      if (i % 2 === 1)
        return CODE_COMMAND.test(part) && !/(^| )(--help|-h|--live|-f|--file)( |$)/.test(part)
          ? `${part}${flag}`
          : part;
      return part.replace(PROSE_COMMAND, (m) => `${m}${flag}`);
    })
    .join("`");
}
