import { Transform, type TransformCallback } from "node:stream";
import { StringDecoder } from "node:string_decoder";

/**
 * What a restore checks in a plain SQL dump before psql reads it: no psql meta-command (`\!`,
 * `\copy`, `\o`, `\i`, ...) outside the data of a `COPY ... FROM stdin;` block. The rule is
 * stricter than psql: a backslash anywhere outside COPY data (in a string too) refuses the dump;
 * pg_dump writes none there for MLflow's schema. A COPY block starts only after a line that is one
 * whole `COPY <table> (<columns>) FROM stdin;` statement at the top level and ends at the line `\.`,
 * as psql reads them. The `\restrict <key>` and `\unrestrict <key>` lines newer pg_dump versions
 * write at the top level are dropped: the restore puts psql into restricted mode itself, with a key
 * of its own.
 */

/** A dump the scanner refuses: `line` is 1-based. */
export class DumpRefused extends Error {
  readonly line: number;
  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`);
    this.line = line;
  }
}

const RESTRICT_LINE = /^\\(?:un)?restrict [A-Za-z0-9]+$/;
const COPY_FROM_STDIN = /^COPY [^;\\'$]+ FROM stdin;$/;
const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

export class PlainDumpScanner {
  private lineNo = 0;
  private copy = false;
  private single = false;
  private double = false;
  private dollar: string | undefined;
  private block = 0;
  /** Code since the last top-level `;`. */
  private pending = false;

  private clean(): boolean {
    return !this.single && !this.double && this.dollar === undefined && this.block === 0 && !this.pending;
  }

  /** The line to hand to psql (without its newline), or undefined to drop it; throws DumpRefused. */
  line(text: string): string | undefined {
    this.lineNo++;
    if (this.copy) {
      if (text === "\\.") this.copy = false;
      return text;
    }
    const atTop = this.clean();
    if (atTop && RESTRICT_LINE.test(text)) return undefined;
    const slash = text.indexOf("\\");
    if (slash >= 0)
      throw new DumpRefused(
        this.lineNo,
        `a backslash outside COPY data (${escapeForTerminal(text.slice(slash, slash + 40))}): psql would read it as a meta-command`,
      );
    this.lex(text);
    if (atTop && COPY_FROM_STDIN.test(text) && this.clean() && !text.includes("--") && !text.includes("/*"))
      this.copy = true;
    return text;
  }

  /** At the end of the dump: refuses one that stops inside a COPY block, string or comment. */
  end(): void {
    if (this.copy) throw new DumpRefused(this.lineNo, "the dump ends inside COPY data (no `\\.` line)");
    if (this.single || this.double || this.dollar !== undefined || this.block > 0)
      throw new DumpRefused(this.lineNo, "the dump ends inside a string, identifier or comment");
  }

  private lex(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      const next = text[i + 1];
      if (this.block > 0) {
        if (c === "*" && next === "/") {
          this.block--;
          i++;
        } else if (c === "/" && next === "*") {
          this.block++;
          i++;
        }
        continue;
      }
      if (this.dollar !== undefined) {
        if (text.startsWith(this.dollar, i)) {
          i += this.dollar.length - 1;
          this.dollar = undefined;
        }
        continue;
      }
      if (this.single) {
        if (c === "'") {
          if (next === "'") i++;
          else this.single = false;
        }
        continue;
      }
      if (this.double) {
        if (c === '"') {
          if (next === '"') i++;
          else this.double = false;
        }
        continue;
      }
      if (c === "-" && next === "-") return;
      if (c === "/" && next === "*") {
        this.block++;
        i++;
        continue;
      }
      if (c === ";") {
        this.pending = false;
        continue;
      }
      if (/\s/.test(c)) continue;
      this.pending = true;
      if (c === "'") this.single = true;
      else if (c === '"') this.double = true;
      else if (c === "$" && (i === 0 || !IDENT_CHAR.test(text[i - 1]!))) {
        const tag = DOLLAR_TAG.exec(text.slice(i));
        if (tag) {
          this.dollar = tag[0];
          i += tag[0].length - 1;
        }
      }
    }
  }
}

/** A Transform from dump text to the lines psql may read (newline-terminated); fails with DumpRefused. */
export function plainDumpFilter(scanner = new PlainDumpScanner()): Transform {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  const emit = (t: Transform, lines: string[]) => {
    const out: string[] = [];
    for (const l of lines) {
      const kept = scanner.line(l);
      if (kept !== undefined) out.push(`${kept}\n`);
    }
    if (out.length > 0) t.push(out.join(""));
  };
  return new Transform({
    transform(chunk: Buffer, _e, done: TransformCallback) {
      try {
        const lines = (rest + decoder.write(chunk)).split("\n");
        rest = lines.pop()!;
        emit(this, lines);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        const tail = rest + decoder.end();
        if (tail !== "") emit(this, [tail]);
        scanner.end();
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
}

/**
 * Text from a backup (object keys, versions, psql's messages) as it may be printed: control
 * characters (C0, DEL, C1) and bidirectional overrides become `\u{..}` escapes, so a crafted name
 * cannot move the cursor, recolour or rewrite the terminal.
 */
export function escapeForTerminal(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters escaped
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
}
