import type { SignalHost } from "@mlflow-dev/kernel/signals";
import { describe, expect, it } from "vitest";
import { Interrupt, RehearsalInterrupted } from "../src/rehearse/interrupt.ts";

/** A signal source and sink without the process: handlers by signal, exits and warnings recorded. */
function fakeHost() {
  const handlers = new Map<string, () => void>();
  const exits: number[] = [];
  const warnings: string[] = [];
  const host: SignalHost = {
    on: (s, h) => handlers.set(s, h),
    off: (s) => handlers.delete(s),
    exit: (code) => exits.push(code),
    warn: (m) => warnings.push(m),
  };
  return { host, handlers, exits, warnings, send: (s: "SIGINT" | "SIGTERM") => handlers.get(s)?.() };
}

function fakeChild() {
  const signals: string[] = [];
  return { signals, kill: (s: NodeJS.Signals) => signals.push(s) > 0 };
}

describe("rehearse's interrupt", () => {
  it("a first Ctrl-C stops the running step once; the rehearsal then throws to tear down, exit 130", () => {
    const f = fakeHost();
    const interrupt = new Interrupt(() => [], f.host).install();
    const child = fakeChild();
    interrupt.track(child);
    expect(() => interrupt.check()).not.toThrow();
    f.send("SIGINT");
    expect(child.signals).toEqual(["SIGINT"]);
    expect(f.exits).toEqual([]);
    expect(f.warnings.join("")).toContain("tearing down what the rehearsal started");
    let thrown: unknown;
    try {
      interrupt.check();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(RehearsalInterrupted);
    expect((thrown as RehearsalInterrupted).exitCode).toBe(130);
    interrupt.dispose();
    expect(f.handlers.size).toBe(0);
  });

  it("a signal before the next step starts reaches that step as soon as it runs", () => {
    const f = fakeHost();
    const interrupt = new Interrupt(() => [], f.host).install();
    f.send("SIGTERM");
    const child = fakeChild();
    interrupt.track(child);
    expect(child.signals).toEqual(["SIGTERM"]);
    expect(() => interrupt.check()).toThrow(RehearsalInterrupted);
    try {
      interrupt.check();
    } catch (e) {
      expect((e as RehearsalInterrupted).exitCode).toBe(143);
    }
  });

  it("a first signal before the teardown does not stop the teardown's steps", () => {
    const f = fakeHost();
    const interrupt = new Interrupt(() => [], f.host).install();
    interrupt.track(fakeChild());
    f.send("SIGINT");
    interrupt.untrack();
    interrupt.tearingDown();
    const destroy = fakeChild();
    interrupt.track(destroy);
    expect(destroy.signals).toEqual([]);
  });

  it("during the teardown a first signal stops nothing; a second exits at once naming what is left", () => {
    const f = fakeHost();
    const interrupt = new Interrupt(() => ["the local stack (mlflow-dev down)"], f.host).install();
    const destroy = fakeChild();
    interrupt.tearingDown();
    interrupt.track(destroy);
    f.send("SIGINT");
    expect(destroy.signals).toEqual([]);
    // The next teardown step starts after the first signal: it runs too.
    const down = fakeChild();
    interrupt.track(down);
    expect(down.signals).toEqual([]);
    interrupt.track(destroy);
    expect(f.exits).toEqual([]);
    f.send("SIGINT");
    expect(destroy.signals).toEqual(["SIGINT"]);
    expect(f.exits).toEqual([130]);
    expect(f.warnings.at(-1)).toContain(
      "second SIGINT: exiting at once; left behind: the local stack (mlflow-dev down)",
    );
  });

  it("a finished step is not signalled", () => {
    const f = fakeHost();
    const interrupt = new Interrupt(() => [], f.host).install();
    const child = fakeChild();
    interrupt.track(child);
    interrupt.untrack();
    f.send("SIGINT");
    expect(child.signals).toEqual([]);
  });
});
