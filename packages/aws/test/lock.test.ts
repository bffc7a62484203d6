import type { SSM } from "@aws-sdk/client-ssm";
import type { SignalHost } from "@mlflow-dev/kernel/signals";
import { describe, expect, it } from "vitest";
import { withLock } from "../src/deploy/engine/lock.ts";
import { lockParameterName } from "../src/render/names.ts";
import { exampleModel } from "./helpers.ts";

/** An SSM parameter store in memory: PutParameter with Overwrite=false refuses an existing name. */
function fakeSsm() {
  const params = new Map<string, string>();
  const ssm = {
    putParameter: async (p: { Name: string; Value: string; Overwrite: boolean }) => {
      if (params.has(p.Name) && !p.Overwrite)
        throw Object.assign(new Error("exists"), { name: "ParameterAlreadyExists" });
      params.set(p.Name, p.Value);
      return {};
    },
    getParameter: async (p: { Name: string }) => {
      const v = params.get(p.Name);
      if (v === undefined) throw Object.assign(new Error("not found"), { name: "ParameterNotFound" });
      return { Parameter: { Value: v } };
    },
    deleteParameter: async (p: { Name: string }) => {
      if (!params.delete(p.Name)) throw Object.assign(new Error("not found"), { name: "ParameterNotFound" });
      return {};
    },
  };
  return { ssm: ssm as unknown as SSM, params };
}

/** Signals sent by the test; exits recorded instead of taken. */
function fakeHost() {
  const handlers = new Map<string, () => void>();
  const exits: number[] = [];
  const warnings: string[] = [];
  let exited: () => void = () => {};
  const exitedOnce = new Promise<void>((r) => {
    exited = r;
  });
  const host: SignalHost = {
    on: (s, h) => handlers.set(s, h),
    off: (s, h) => {
      if (handlers.get(s) === h) handlers.delete(s);
    },
    exit: (code) => {
      exits.push(code);
      exited();
    },
    warn: (m) => warnings.push(m),
  };
  return { host, handlers, exits, warnings, exitedOnce, send: (s: string) => handlers.get(s)?.() };
}

describe("the deploy lock and signals", () => {
  const model = exampleModel("basic", "staging");
  const name = lockParameterName(model);

  it("Ctrl-C during a promote releases the lock, then exits 130", async () => {
    const { ssm, params } = fakeSsm();
    const h = fakeHost();
    let started: () => void = () => {};
    const running = new Promise<void>((r) => {
      started = r;
    });
    void withLock(
      ssm,
      model,
      "promote",
      async () => {
        started();
        await new Promise(() => {}); // a promote that is still waiting on AWS
      },
      h.host,
    );
    await running;
    expect(params.has(name)).toBe(true);
    h.send("SIGINT");
    await h.exitedOnce;
    expect(params.has(name)).toBe(false);
    expect(h.exits).toEqual([130]);
    expect(h.warnings.join("")).toContain("SIGINT: promote staging interrupted; releasing its deploy lock");
  });

  it("SIGTERM exits 143 after the release; a second signal exits at once", async () => {
    const { ssm } = fakeSsm();
    const h = fakeHost();
    let started: () => void = () => {};
    const running = new Promise<void>((r) => {
      started = r;
    });
    void withLock(
      ssm,
      model,
      "destroy",
      async () => {
        started();
        await new Promise(() => {});
      },
      h.host,
    );
    await running;
    h.send("SIGTERM");
    h.send("SIGTERM");
    expect(h.exits).toEqual([143]);
  });

  it("after the command, the handlers are gone and the lock released", async () => {
    const { ssm, params } = fakeSsm();
    const h = fakeHost();
    expect(await withLock(ssm, model, "promote", async () => 7, h.host)).toBe(7);
    expect(h.handlers.size).toBe(0);
    expect(params.size).toBe(0);
    await expect(
      withLock(ssm, model, "promote", async () => Promise.reject(new Error("failed")), h.host),
    ).rejects.toThrow("failed");
    expect(h.handlers.size).toBe(0);
    expect(params.size).toBe(0);
  });
});
