import { afterEach, describe, expect, it } from "vitest";
import { defaultWaits, destroy, memoryReporter } from "../src/deploy/index.ts";
import { FakeAws } from "./fake-aws.ts";
import { fakeClock } from "./fake-clock.ts";
import { exampleModel } from "./helpers.ts";

/** destroy against the in-memory AWS (fake-aws.ts): what each stack status lets it do. */

const model = exampleModel("basic", "staging");

let aws: FakeAws | undefined;
afterEach(() => {
  aws?.restore();
  aws = undefined;
});

function options() {
  const report = memoryReporter();
  return {
    report,
    waits: defaultWaits(undefined),
    clock: fakeClock(),
    skipFinalSnapshot: false,
    deleteData: false,
  };
}

describe("destroy", () => {
  it("a stack another operation runs on is refused, and nothing is deleted", async () => {
    aws = await FakeAws.start({ model });
    aws.givenStack("UPDATE_IN_PROGRESS");
    const error = await destroy(model, aws.clients, options()).then(
      () => undefined,
      (e: Error & { hint?: string }) => e,
    );
    expect(error?.message).toBe(
      "the stack mlflow-dev-tracking-staging is UPDATE_IN_PROGRESS: another operation is running on it",
    );
    expect(error?.hint).toBe("Wait until it finishes, then run destroy again.");
    expect(aws.sent("DeleteStack")).toEqual([]);
    expect(aws.lock).toBeUndefined();
  });

  it("an empty stack a failed creation left (ROLLBACK_COMPLETE) is deleted as it is, without a teardown change set", async () => {
    aws = await FakeAws.start({ model });
    aws.givenStack("ROLLBACK_COMPLETE");
    const o = options();
    const r = await destroy(model, aws.clients, o);
    expect(r).toMatchObject({ stackDeleted: true, bucketKept: "tracking-staging-artifacts-123456789012" });
    expect(o.report.lines).toContain("  the stack is ROLLBACK_COMPLETE: deleted as it is");
    expect(aws.sent("CreateChangeSet")).toEqual([]);
    expect(aws.sent("DeleteStack")).toHaveLength(1);
    expect(aws.stack).toBeUndefined();
    // The wait for the deletion ran on the fake clock.
    expect(o.clock.slept.length).toBeGreaterThan(0);
  });

  it("no stack: nothing to delete", async () => {
    aws = await FakeAws.start({ model });
    const o = options();
    const r = await destroy(model, aws.clients, o);
    expect(r.stackDeleted).toBe(false);
    expect(o.report.lines).toContain("  no stack");
    expect(o.report.lines).toContain("  nothing to delete");
  });
});
