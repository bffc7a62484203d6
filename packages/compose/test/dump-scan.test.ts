import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { DumpRefused, escapeForTerminal, PlainDumpScanner, plainDumpFilter } from "../src/runtime/dump-scan.ts";

/** What psql would read of `dump`, fed in chunks of `size` bytes. */
async function filtered(dump: string, size = 7): Promise<string> {
  const bytes = Buffer.from(dump);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  let out = "";
  await pipeline(
    Readable.from(chunks),
    plainDumpFilter(),
    new Writable({
      write(c: Buffer, _e, done) {
        out += c.toString();
        done();
      },
    }),
  );
  return out;
}

const refusal = (dump: string) =>
  filtered(dump).then(
    () => undefined,
    (e: Error) => e,
  );

const HEADER = `--
-- PostgreSQL database dump
--

\\restrict AbC123xyz

SET statement_timeout = 0;
SET standard_conforming_strings = on;
`;

describe("the plain dump scanner", () => {
  it("passes SQL and COPY data (backslashes in data included), drops pg_dump's restrict lines", async () => {
    const dump = `${HEADER}CREATE TABLE public.metrics (key character varying(250), "timestamp" bigint);
COPY public.metrics (key, "timestamp") FROM stdin;
a\\tb\t1
\\N\t2
\\.
\\unrestrict AbC123xyz
`;
    const out = await filtered(dump);
    expect(out).not.toContain("restrict");
    expect(out).toContain("a\\tb\t1\n\\N\t2\n\\.\n");
    expect(out).toContain('COPY public.metrics (key, "timestamp") FROM stdin;');
  });

  it("refuses a shell escape, naming the line, before passing it on", async () => {
    const e = await refusal(`${HEADER}\\! touch /tmp/owned\n`);
    expect(e).toBeInstanceOf(DumpRefused);
    expect((e as DumpRefused).line).toBe(9);
    expect(e?.message).toContain("\\! touch /tmp/owned");
  });

  it("refuses a meta-command after SQL on the same line and inside a string", async () => {
    expect(await refusal("SELECT 1; \\! id\n")).toBeInstanceOf(DumpRefused);
    expect(await refusal("SELECT 'a\\! id';\n")).toBeInstanceOf(DumpRefused);
    expect(await refusal("SELECT 1 \\g /tmp/x\n")).toBeInstanceOf(DumpRefused);
  });

  it("does not treat a COPY line inside a string, comment or pending statement as the start of data", async () => {
    for (const before of ["SELECT '\n", "/*\n", "SELECT $x$\n", "SELECT\n", 'SELECT "\n'])
      expect(await refusal(`${before}COPY t (a) FROM stdin;\n\\! id\n`), before).toBeInstanceOf(DumpRefused);
    // A quote left open on the COPY line itself: psql would not send it.
    expect(await refusal('COPY t ("a) FROM stdin;\n\\! id\n')).toBeInstanceOf(DumpRefused);
    // Not one whole statement on the line.
    expect(await refusal("COPY t (a) FROM stdin; -- x\n\\! id\n")).toBeInstanceOf(DumpRefused);
    expect(await refusal("COPY t (a) TO stdout;\n\\! id\n")).toBeInstanceOf(DumpRefused);
  });

  it("keeps a restrict line inside a string, where it is not pg_dump's", async () => {
    expect(await refusal("SELECT '\n\\restrict abc\n';\n")).toBeInstanceOf(DumpRefused);
  });

  it("refuses a dump that ends inside COPY data or a string", async () => {
    expect((await refusal("COPY t (a) FROM stdin;\n1\n"))?.message).toContain("inside COPY data");
    expect((await refusal("SELECT 'abc\n"))?.message).toContain("inside a string");
  });

  it("leaves psql in the same place after dollar quotes, comments and doubled quotes", () => {
    const s = new PlainDumpScanner();
    for (const l of ["CREATE FUNCTION f() RETURNS int AS $body$", "SELECT ';'; /* */", "$body$ LANGUAGE sql;"])
      s.line(l);
    s.line("/* a /* nested */ comment */ SELECT 'it''s', \"a\"\"b\", x$y;");
    expect(s.line("COPY t (a) FROM stdin;")).toBe("COPY t (a) FROM stdin;");
    expect(s.line("\\x")).toBe("\\x");
    expect(s.line("\\.")).toBe("\\.");
    expect(() => s.line("\\x")).toThrow(DumpRefused);
  });
});

describe("escaping text from a backup for the terminal", () => {
  it("escapes control characters, C1 and bidirectional overrides, and leaves the rest", () => {
    expect(escapeForTerminal("mlflow/1/\u001b[2J\u001b]0;x\u0007.bin")).toBe(
      "mlflow/1/\\u{1b}[2J\\u{1b}]0;x\\u{7}.bin",
    );
    expect(escapeForTerminal("a\nb\rc\u009bd\u202ee")).toBe("a\\u{a}b\\u{d}c\\u{9b}d\\u{202e}e");
    expect(escapeForTerminal("mlflow/1/ünïcode model.bin")).toBe("mlflow/1/ünïcode model.bin");
    expect(escapeForTerminal(escapeForTerminal("\u001b"))).toBe("\\u{1b}");
  });
});
