import { FileWriteError } from "@mlflow-dev/compose/files";
import { LocalStackError } from "@mlflow-dev/compose/runtime";
import { SpecError } from "@mlflow-dev/spec";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EXIT, UserError } from "../src/errors.ts";
import * as known from "../src/known-errors.ts";
import { asUserError } from "../src/local.ts";
import { reportError } from "../src/main.ts";

/** Errors are told apart by class: an unrelated error that merely carries a known name is a bug. */
describe("errors by class, not by name", () => {
  afterEach(() => vi.restoreAllMocks());
  const quiet = () => vi.spyOn(process.stderr, "write").mockImplementation(() => true);

  it("a SpecError is invalid input; an Error named SpecError is an internal error", () => {
    quiet();
    expect(reportError(new SpecError([]), known)).toBe(EXIT.invalidInput);
    expect(reportError(Object.assign(new Error("x"), { name: "SpecError" }), known)).toBe(EXIT.internal);
  });

  it("a FileWriteError reports its hint; an Error named FileWriteError is an internal error", () => {
    const err = quiet();
    expect(reportError(new FileWriteError("cannot write", "fix it", true), known)).toBe(EXIT.invalidInput);
    expect(err.mock.calls.join("")).toContain("fix it");
    const impostor = Object.assign(new Error("x"), { name: "FileWriteError", hint: "h", invalidInput: true });
    expect(reportError(impostor, known)).toBe(EXIT.internal);
  });

  it("a LocalStackError becomes a UserError; an Error named LocalStackError stays as it is", () => {
    const mapped = asUserError(new LocalStackError("it failed", "do this", [], { invalidInput: true }));
    expect(mapped).toBeInstanceOf(UserError);
    expect((mapped as UserError).exitCode).toBe(EXIT.invalidInput);
    const impostor = Object.assign(new Error("x"), { name: "LocalStackError", hint: "h" });
    expect(asUserError(impostor)).toBe(impostor);
  });
});
