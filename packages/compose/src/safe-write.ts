import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomHex } from "@mlflow-dev/kernel/random";

/**
 * A file mlflow-dev will not write (or read before writing): a link, something that is not a
 * regular file, or an operating system error. `invalidInput` when the target itself is wrong.
 */
export class FileWriteError extends Error {
  readonly hint: string;
  readonly invalidInput: boolean;
  constructor(message: string, hint: string, invalidInput = false) {
    super(message);
    this.name = "FileWriteError";
    this.hint = hint;
    this.invalidInput = invalidInput;
  }
}

export interface FileToWrite {
  path: string;
  text: string;
  mode?: number;
}

const OS_REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is used up",
  EISDIR: "it is a directory",
  ENOTDIR: "a part of the path is not a directory",
  ENOENT: "a part of the path does not exist",
  EEXIST: "it exists and is not a directory",
  ENAMETOOLONG: "the name is too long",
};

function osError(e: unknown, what: string): FileWriteError {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  const reason = OS_REASONS[code] ?? (e as Error).message;
  return new FileWriteError(
    `cannot write ${what}: ${reason}${code ? ` (${code})` : ""}`,
    "Choose a path you can write to. Nothing was written.",
  );
}

/** The target's kind, refusing a symbolic link or anything but a regular file; undefined when absent. */
function checkTarget(path: string): "file" | undefined {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw osError(e, path);
  }
  if (st.isSymbolicLink())
    throw new FileWriteError(
      `${path} is a symbolic link: mlflow-dev neither reads nor writes files through links`,
      "Remove the link, or write to another directory. Nothing was written.",
      true,
    );
  if (!st.isFile())
    throw new FileWriteError(
      `${path} exists and is not a regular file (${st.isDirectory() ? "a directory" : "a device, FIFO or socket"})`,
      "Move it away, or write to another directory. Nothing was written.",
      true,
    );
  return "file";
}

/** The text of a file mlflow-dev is about to rewrite, or undefined when absent; never through a link. */
export function readOwnFile(path: string): string | undefined {
  if (checkTarget(path) === undefined) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw osError(e, path);
  }
}

/**
 * Creates a directory and its missing parents for output, one level at a time (a recursive mkdir
 * can spin forever where the file system refuses a new entry, as in /proc), with clear errors.
 */
export function ensureDirectory(dir: string): void {
  const missing: string[] = [];
  let at = dir;
  try {
    for (;;) {
      const st = statSync(at, { throwIfNoEntry: false });
      if (st?.isDirectory()) break;
      if (st !== undefined) throw Object.assign(new Error("not a directory"), { code: "EEXIST" });
      missing.unshift(at);
      const parent = dirname(at);
      if (parent === at) break;
      at = parent;
    }
    for (const d of missing) mkdirSync(d);
  } catch (e) {
    throw osError(e, `the directory ${dir}`);
  }
}

/**
 * Writes every file or none: each target must be absent or a regular file (never a link); each is
 * written to a new temporary file beside it, and only when all are written are they renamed over
 * their targets, so a reader never sees a half-written file.
 */
export function writeFilesAtomically(files: readonly FileToWrite[]): void {
  for (const f of files) checkTarget(f.path);
  const written: { temp: string; path: string }[] = [];
  try {
    for (const f of files) {
      const temp = join(dirname(f.path), `.${basename(f.path)}.${randomHex(6)}.tmp`);
      writeFileSync(temp, f.text, { flag: "wx", mode: f.mode ?? 0o644 });
      written.push({ temp, path: f.path });
    }
    for (const w of written) renameSync(w.temp, w.path);
  } catch (e) {
    for (const w of written) rmSync(w.temp, { force: true });
    throw e instanceof FileWriteError ? e : osError(e, files.map((f) => f.path).join(", "));
  }
}
