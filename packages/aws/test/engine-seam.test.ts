import type { Service, Task } from "@aws-sdk/client-ecs";
import { afterEach, describe, expect, it } from "vitest";
import type { AwsEngine } from "../src/deploy/engine/engine.ts";
import type { StackInfo } from "../src/deploy/engine/stack-info.ts";
import { destroy, promote, readEnvironmentStatus, type StatusReader } from "../src/deploy/index.ts";
import { placeholderContext } from "../src/render/context.ts";
import { rolloutStages, toRolloutPlan } from "../src/render/rollout-steps.ts";
import { FakeAws } from "./fake-aws.ts";
import { exampleModel, promoteOptions, withImage } from "./helpers.ts";
import { inMemoryEngine } from "./in-memory-engine.ts";

/**
 * The operations are functions of an engine (deploy/engine/engine.ts): they reach AWS through the
 * engine they are given and nothing else. Here they get the in-memory engine (the engine's verbs
 * over fake-aws.ts) behind a recorder, or a hand-written engine with no SDK at all.
 */

const model = withImage(exampleModel("basic", "staging"), "ghcr.io/mlflow/mlflow:v3.17.2-full");

let aws: FakeAws | undefined;
afterEach(() => {
  aws?.restore();
  aws = undefined;
});

/** The engine with every verb call recorded by name, in order. */
function recording(engine: AwsEngine): { engine: AwsEngine; verbs: string[] } {
  const verbs: string[] = [];
  const wrap = (e: AwsEngine): AwsEngine =>
    new Proxy(e, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== "function" || typeof key !== "string") return value;
        return (...args: unknown[]) => {
          verbs.push(key);
          const out = value.apply(target, args);
          // promote meters its waits on withClock's engine: that one records too.
          return key === "withClock" ? wrap(out as AwsEngine) : out;
        };
      },
    });
  return { engine: wrap(engine), verbs };
}

describe("operations on an engine", () => {
  it("promote reaches AWS only through the engine it is given, and runs the plan's stages in the table's order", async () => {
    aws = await FakeAws.start({ model });
    const { opts, report } = promoteOptions();
    const { engine, verbs } = recording(inMemoryEngine(aws.clients, opts));
    const result = await promote(model, engine, opts);
    expect(result.changed).toBe(true);
    // Every SDK call the fake saw came through a verb: without them there would be none.
    expect(aws.calls.length).toBeGreaterThan(0);
    expect(verbs.slice(0, 3)).toEqual(["withClock", "preflight", "accountPreflight"]);
    for (const verb of [
      "withLock",
      "ensureSecrets",
      "prepareChangeSet",
      "executeChangeSet",
      "resolveImage",
      "runMigrationTask",
      "registerTaskDefinition",
      "waitForDeployment",
    ])
      expect(verbs).toContain(verb);
    // The order of the verbs follows the plan: secrets, stack, image, migration, revision, service.
    const order = ["ensureSecrets", "resolveImage", "runMigrationTask", "registerTaskDefinition", "waitForDeployment"];
    expect(order.map((v) => verbs.indexOf(v))).toEqual([...order.map((v) => verbs.indexOf(v))].sort((a, b) => a - b));
    const headings = report.lines
      .filter((l) => /^\[\d+\/\d+\]/.test(l))
      .map((l) => l.replace(/^\[\d+\/\d+\] |:.*$/g, ""));
    expect(headings).toEqual(["checks", ...rolloutStages(toRolloutPlan(model, placeholderContext(model)))]);
  });

  it("destroy with nothing asked keeps the data: the bucket, a final snapshot and the secrets it needs", async () => {
    aws = await FakeAws.start({ model });
    const first = promoteOptions();
    await promote(model, inMemoryEngine(aws.clients, first.opts), first.opts);
    // The final snapshot RDS takes when the stack deletes the database.
    aws.snapshots.push("tracking-staging-db-final");
    const { opts } = promoteOptions();
    const options = { ...opts, skipFinalSnapshot: false, deleteData: false };
    const { engine, verbs } = recording(inMemoryEngine(aws.clients, options));
    const r = await destroy(model, engine, options);
    expect(r.stackDeleted).toBe(true);
    expect(r.bucketKept).toBe(model.artifacts.bucket);
    expect(r.finalSnapshot).toBe("tracking-staging-db-final");
    expect(r.secrets).toEqual([]);
    expect(r.secretsKept?.length).toBeGreaterThan(0);
    expect(verbs).not.toContain("emptyPrefix");
    expect(verbs).not.toContain("deleteSecrets");
  });
});

describe("status on a hand-written engine (no SDK)", () => {
  const stack: StackInfo = {
    name: "mlflow-dev-tracking-staging",
    id: "arn:stack",
    status: "UPDATE_COMPLETE",
    outputs: { ServiceUrl: "http://tracking.example.test" },
    parameters: {},
  };
  const arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mlflow-dev-tracking-staging-mlflow:3";
  const service: Service = {
    serviceName: "tracking-mlflow",
    status: "ACTIVE",
    taskDefinition: arn,
    desiredCount: 2,
    runningCount: 2,
    pendingCount: 0,
    deployments: [{ status: "PRIMARY", rolloutState: "COMPLETED" }],
  };
  const task = (id: string, health: string): Task => ({
    taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/cluster/${id}`,
    lastStatus: "RUNNING",
    healthStatus: health as "HEALTHY",
    taskDefinitionArn: arn,
  });

  function engine(reads: { stack?: StackInfo; service?: Service; tasks?: Task[] }): StatusReader & { asked: string[] } {
    const asked: string[] = [];
    return {
      asked,
      describeStack: async (name) => {
        asked.push(`stack ${name}`);
        return reads.stack;
      },
      describeService: async () => {
        asked.push("service");
        return reads.service;
      },
      describeTaskDefinition: async (ref) => {
        asked.push(`task definition ${ref.split("/").pop()}`);
        return { containerDefinitions: [{ image: "ghcr.io/mlflow/mlflow:v3.17.2-full" }] };
      },
      runningTasks: async () => {
        asked.push("tasks");
        return reads.tasks ?? [];
      },
    };
  }

  it("no stack: undefined, and nothing else is read", async () => {
    const e = engine({});
    expect(await readEnvironmentStatus(model, e)).toBeUndefined();
    expect(e.asked).toEqual(["stack mlflow-dev-tracking-staging"]);
  });

  it("a healthy service: its tasks, image and URL", async () => {
    const e = engine({ stack, service, tasks: [task("a1", "HEALTHY"), task("b2", "HEALTHY")] });
    const s = await readEnvironmentStatus(model, e);
    expect(s).toMatchObject({
      healthy: true,
      problems: [],
      url: "http://tracking.example.test",
      image: "ghcr.io/mlflow/mlflow:v3.17.2-full",
      service: { desired: 2, running: 2, taskDefinition: "mlflow-dev-tracking-staging-mlflow:3" },
    });
    expect(s?.tasks.map((t) => t.id)).toEqual(["a1", "b2"]);
    expect(e.asked).toEqual([
      "stack mlflow-dev-tracking-staging",
      "service",
      "task definition mlflow-dev-tracking-staging-mlflow:3",
      "tasks",
    ]);
  });

  it("an unhealthy task and a stack without a service are problems; no service means no task read", async () => {
    const unhealthy = await readEnvironmentStatus(
      model,
      engine({ stack, service, tasks: [task("a1", "HEALTHY"), task("b2", "UNHEALTHY")] }),
    );
    expect(unhealthy?.healthy).toBe(false);
    expect(unhealthy?.problems).toEqual(["task(s) not HEALTHY: b2 RUNNING/UNHEALTHY"]);
    const e = engine({ stack });
    const bare = await readEnvironmentStatus(model, e);
    expect(bare?.problems).toEqual(["the stack has no running ECS service"]);
    expect(e.asked).not.toContain("tasks");
  });
});
