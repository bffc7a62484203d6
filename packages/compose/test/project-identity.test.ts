import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@mlflow-dev/test-support/temp-dir";
import { describe, expect, it } from "vitest";
import {
  checkoutProjectName,
  decideProjectIdentity,
  type IdentityFacts,
  portClash,
  projectIdentity,
  recordProjectIdentity,
} from "../src/runtime/index.ts";

const facts = (f: Partial<IdentityFacts> = {}): IdentityFacts => ({
  name: "demo",
  checkout: "/home/u/proj",
  recorded: undefined,
  recordedCheckoutHoldsIt: false,
  hasEnvFile: false,
  previousContainersFrom: [],
  previousVolume: false,
  stateDir: "/home/u/proj/.mlflow-dev",
  ...f,
});

describe("the project of a checkout", () => {
  it("is the spec's name and 8 hex digits of the checkout's path: two checkouts differ", () => {
    const a = checkoutProjectName("demo", "/home/u/a/proj");
    const b = checkoutProjectName("demo", "/home/u/b/proj");
    expect(a).toMatch(/^mlflow-dev-demo-[0-9a-f]{8}$/);
    expect(b).toMatch(/^mlflow-dev-demo-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(checkoutProjectName("demo", "/home/u/a/proj")).toBe(a);
  });

  it("a new checkout gets its own, to be recorded", () => {
    const id = decideProjectIdentity(facts());
    expect(id).toMatchObject({ from: "new", project: checkoutProjectName("demo", "/home/u/proj") });
    expect(id.record).toEqual({ name: "demo", project: id.project, checkout: "/home/u/proj" });
  });

  it("the recorded project is kept, nothing to write", () => {
    const recorded = { name: "demo", project: "mlflow-dev-demo-00000000", checkout: "/home/u/proj" };
    expect(decideProjectIdentity(facts({ recorded }))).toEqual({
      project: "mlflow-dev-demo-00000000",
      from: "recorded",
      checkout: "/home/u/proj",
    });
  });

  it("a moved checkout keeps its project (the old directory is gone); a copy gets its own", () => {
    const recorded = { name: "demo", project: "mlflow-dev-demo-00000000", checkout: "/home/u/old" };
    const moved = decideProjectIdentity(facts({ recorded }));
    expect(moved).toMatchObject({ from: "moved", project: "mlflow-dev-demo-00000000" });
    expect(moved.record).toEqual({ name: "demo", project: "mlflow-dev-demo-00000000", checkout: "/home/u/proj" });
    const copied = decideProjectIdentity(facts({ recorded, recordedCheckoutHoldsIt: true }));
    expect(copied).toMatchObject({ from: "copied", project: checkoutProjectName("demo", "/home/u/proj") });
  });

  it("a renamed spec gets a new project", () => {
    const recorded = { name: "old-name", project: "mlflow-dev-old-name-00000000", checkout: "/home/u/proj" };
    expect(decideProjectIdentity(facts({ recorded }))).toMatchObject({ from: "new" });
  });

  it("a stack an earlier version started from this checkout stays its own", () => {
    const fromHere = decideProjectIdentity(
      facts({ hasEnvFile: true, previousContainersFrom: ["/home/u/proj/.mlflow-dev"], previousVolume: true }),
    );
    expect(fromHere).toMatchObject({ from: "previous-version", project: "mlflow-dev-demo" });
    expect(fromHere.record).toEqual({ name: "demo", project: "mlflow-dev-demo", checkout: "/home/u/proj" });
    // Stopped (containers removed, data kept): the volume and this checkout's .env.
    expect(decideProjectIdentity(facts({ hasEnvFile: true, previousVolume: true }))).toMatchObject({
      project: "mlflow-dev-demo",
    });
  });

  it("another checkout's earlier stack, or one without this checkout's .env, is not taken over", () => {
    expect(
      decideProjectIdentity(
        facts({ hasEnvFile: true, previousContainersFrom: ["/home/u/other/.mlflow-dev"], previousVolume: true }),
      ),
    ).toMatchObject({ from: "new" });
    expect(decideProjectIdentity(facts({ previousVolume: true }))).toMatchObject({ from: "new" });
    expect(decideProjectIdentity(facts({ hasEnvFile: true }))).toMatchObject({ from: "new" });
  });
});

describe("projectIdentity on real directories", () => {
  const engine = { volumeExists: async () => false, projectWorkingDirs: async () => [] };

  it("records on up; a copy with its .mlflow-dev gets its own; a link names the real directory", async () => {
    const root = realpathSync(tempDir("identity-"));
    const a = join(root, "a");
    mkdirSync(join(a, ".mlflow-dev"), { recursive: true });
    const first = await projectIdentity({ name: "demo", specDir: a, stateDir: join(a, ".mlflow-dev"), docker: engine });
    expect(first.from).toBe("new");
    recordProjectIdentity(join(a, ".mlflow-dev"), first);
    const again = await projectIdentity({ name: "demo", specDir: a, stateDir: join(a, ".mlflow-dev"), docker: engine });
    expect(again).toMatchObject({ from: "recorded", project: first.project });
    // A copy of the whole directory, its record included.
    const b = join(root, "b");
    mkdirSync(join(b, ".mlflow-dev"), { recursive: true });
    writeFileSync(join(b, ".mlflow-dev", "project.json"), JSON.stringify(first.record));
    const copy = await projectIdentity({ name: "demo", specDir: b, stateDir: join(b, ".mlflow-dev"), docker: engine });
    expect(copy).toMatchObject({ from: "copied", project: checkoutProjectName("demo", b) });
    // The same checkout through a symbolic link is the same checkout.
    symlinkSync(a, join(root, "link"));
    const linked = join(root, "link");
    expect(
      await projectIdentity({ name: "demo", specDir: linked, stateDir: join(linked, ".mlflow-dev"), docker: engine }),
    ).toMatchObject({ from: "recorded", project: first.project });
  });

  it("asks the engine about the earlier project only when this checkout has an earlier .env", async () => {
    const a = realpathSync(tempDir("identity-"));
    mkdirSync(join(a, ".mlflow-dev"));
    const asked: string[] = [];
    const spy = {
      volumeExists: async (n: string) => {
        asked.push(n);
        return true;
      },
      projectWorkingDirs: async (p: string) => {
        asked.push(p);
        return [join(a, ".mlflow-dev")];
      },
    };
    expect(
      (await projectIdentity({ name: "demo", specDir: a, stateDir: join(a, ".mlflow-dev"), docker: spy })).from,
    ).toBe("new");
    expect(asked).toEqual([]);
    writeFileSync(join(a, ".mlflow-dev", ".env"), "X=1\n");
    const id = await projectIdentity({ name: "demo", specDir: a, stateDir: join(a, ".mlflow-dev"), docker: spy });
    expect(id).toMatchObject({ from: "previous-version", project: "mlflow-dev-demo" });
    expect(asked).toEqual(["mlflow-dev-demo", "mlflow-dev-demo_postgres-data"]);
  });
});

describe("ports held by someone else", () => {
  const taken = [{ address: "127.0.0.1", port: 5050, key: "mlflow" }];

  it("another checkout's stack: names the stack and the checkout, and both fixes", () => {
    const { message, hint } = portClash(taken, [
      {
        ip: "127.0.0.1",
        port: 5050,
        container: "mlflow-dev-demo-1a2b3c4d-mlflow-1",
        project: "mlflow-dev-demo-1a2b3c4d",
        service: "mlflow",
        workingDir: "/home/u/a/proj/.mlflow-dev",
      },
    ]);
    expect(message).toBe(
      "port already in use:\n  127.0.0.1:5050 (environments.local.ports.mlflow): held by the local stack mlflow-dev-demo-1a2b3c4d of the checkout /home/u/a/proj",
    );
    expect(hint).toContain("`mlflow-dev down` in /home/u/a/proj");
    expect(hint).toContain("environments.local.ports");
    expect(hint).toContain("Nothing was started.");
  });

  it("another container, or a program outside Docker", () => {
    const { message, hint } = portClash(
      [...taken, { address: "127.0.0.1", port: 5432, key: "postgres" }],
      [{ ip: "0.0.0.0", port: 5432, container: "pg", project: "shop", service: "db" }],
    );
    expect(message).toContain("127.0.0.1:5050 (environments.local.ports.mlflow): in use by a program outside Docker");
    expect(message).toContain(
      "127.0.0.1:5432 (environments.local.ports.postgres): held by the container pg (compose project shop, service db)",
    );
    expect(hint).toMatch(/^Stop whatever listens there/);
  });
});
