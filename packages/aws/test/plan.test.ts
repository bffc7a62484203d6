import { afterEach, describe, expect, it } from "vitest";
import { defaultWaits, formatPlan, plan, promote } from "../src/deploy/index.ts";
import { FakeAws, recordedChanges } from "./fake-aws.ts";
import { fakeClock } from "./fake-clock.ts";
import { exampleModel, memoryReporter, PASSING_CHECKS, withImage } from "./helpers.ts";
import { withEngine } from "./in-memory-engine.ts";

/** plan against the in-memory AWS (fake-aws.ts): what each stack status lets it show, and the steps promote runs. */

const model = exampleModel("basic", "staging");
const pulled = withImage(model, "ghcr.io/mlflow/mlflow:v3.17.2-full");

let aws: FakeAws | undefined;
afterEach(() => {
  aws?.restore();
  aws = undefined;
});

function options() {
  return { report: memoryReporter(), waits: defaultWaits(undefined), clock: fakeClock(), specDir: "." };
}

describe("plan", () => {
  it("a new stack: every resource to add, and the steps promote will run", async () => {
    aws = await FakeAws.start({ model: pulled });
    const p = await plan(pulled, ...withEngine(aws.clients, options()));
    expect(p.stackAction).toBe("create");
    expect(p.rollout.map((s) => s.step)).toEqual([
      "secrets",
      "infrastructure",
      "image",
      "migrate",
      "register",
      "update-service",
      "wait-steady",
      "smoke-test",
    ]);
    expect(formatPlan(p)).toContain("  3. image: ghcr.io/mlflow/mlflow:v3.17.2-full");
    expect(aws.sent("CreateChangeSet")).toEqual([]);
    // The monthly cost rides along (in --json too), computed from the price table alone.
    expect(p.cost.region).toBe("eu-west-1");
    expect(p.cost.total).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(p)).cost.lines.length).toBe(p.cost.lines.length);
    expect(formatPlan(p)).toMatch(/\nmonthly cost \(an estimate/);
  });

  it("after a promote: nothing would change, and the change set it computed is gone", async () => {
    aws = await FakeAws.start({ model: pulled });
    await promote(
      pulled,
      ...withEngine(aws.clients, {
        ...options(),
        serviceChecks: PASSING_CHECKS,
      }),
    );
    const p = await plan(pulled, ...withEngine(aws.clients, options()));
    expect(p).toMatchObject({ stackAction: "update", upToDate: true, service: { action: "unchanged" } });
    expect(aws.changeSets.size).toBe(0);
  });

  it.each([
    ["ROLLBACK_COMPLETE", "create"],
    ["UPDATE_IN_PROGRESS", "blocked"],
    ["UPDATE_ROLLBACK_FAILED", "blocked"],
  ])("a stack in %s: %s", async (status, action) => {
    aws = await FakeAws.start({ model: pulled });
    aws.givenStack(status);
    const p = await plan(pulled, ...withEngine(aws.clients, options()));
    expect(p.stackAction).toBe(action);
    expect(aws.sent("CreateChangeSet")).toEqual([]);
  });

  it("a replacement of the database: shown with its spec key, and refused unless --allow-replace names it", async () => {
    aws = await FakeAws.start({ model: pulled });
    await promote(pulled, ...withEngine(aws.clients, { ...options(), serviceChecks: PASSING_CHECKS }));
    aws.infraChanges = recordedChanges("backend-user");
    const p = await plan(pulled, ...withEngine(aws.clients, options()));
    expect(p.stateful.map((s) => [s.logicalId, s.kind, s.causes])).toEqual([
      ["Database", "replace", ["backend.user (MasterUsername)"]],
    ]);
    expect(p.refused.map((s) => s.logicalId)).toEqual(["Database"]);
    expect(formatPlan(p)).toContain("promote refuses it without --allow-replace Database");
    const allowed = await plan(pulled, ...withEngine(aws.clients, { ...options(), allowReplace: ["Database"] }));
    expect(allowed.refused).toEqual([]);
    expect(formatPlan(allowed)).toContain("Allowed by --allow-replace.");
    expect(aws.changeSets.size).toBe(0);
  });
});
