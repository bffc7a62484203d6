import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import Dockerode from "dockerode";
import { describe, expect, it } from "vitest";
import {
  buildStep,
  DockerEngine,
  describePull,
  describePulled,
  describeStep,
  formatBytes,
  type PullMessage,
  PullProgress,
} from "../src/runtime/index.ts";

/** Streams in the engine's format (POST /images/create: one CreateImageInfo object a line). */
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
const messages = (name: string): PullMessage[] =>
  fixture(name)
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe("an image pull's progress, from the engine's stream", () => {
  it("counts the bytes and layers as they come: a cached layer is counted, not downloaded", () => {
    const pull = new PullProgress();
    const seen: string[] = [];
    for (const m of messages("pull-stream.ndjson")) {
      pull.update(m);
      seen.push(describePull("postgres:17", pull.summary()));
    }
    expect(seen[1]).toBe("postgres:17: resolving, 1 layer(s) already there");
    // Three layers to fetch, their sizes not known yet.
    expect(seen[4]).toBe("postgres:17: waiting for the layers' sizes, 0 of 3 layers downloaded");
    // Two downloads under way (540,672 + 32,768 bytes), the third layer's size still unknown.
    expect(seen[7]).toBe("postgres:17: 573 kB of at least 109 MB, 0 of 3 layers downloaded");
    expect(seen[8]).toBe("postgres:17: 52.5 MB of at least 109 MB, 0 of 3 layers downloaded");
    // The small layer is downloaded without a Downloading line: every size the pull will learn is known.
    expect(seen[11]).toBe("postgres:17: 56.6 MB of 109 MB, 2 of 3 layers downloaded");
    expect(seen[15]).toBe("postgres:17: 109 MB of 109 MB, 3 of 3 layers downloaded, extracting 1 of 3");
    expect(seen[20]).toBe("postgres:17: 109 MB of 109 MB, 3 of 3 layers downloaded, extracting 3 of 3");
    expect(seen.at(-1)).toBe("postgres:17: 109 MB of 109 MB, 3 of 3 layers downloaded");
    const end = pull.summary();
    expect(end).toEqual({
      layers: 3,
      downloaded: 3,
      done: 3,
      cached: 1,
      bytesDone: 104857600 + 4194304,
      bytesTotal: 104857600 + 4194304,
      totalKnown: true,
      error: undefined,
    });
    expect(describePulled("postgres:17", end, 83_400)).toBe(
      "pulled postgres:17: 109 MB in 3 layers (1 already there), 1 min 23 s",
    );
  });

  it("a pull that fails midway carries the engine's error", () => {
    const pull = new PullProgress();
    for (const m of messages("pull-stream-failed.ndjson")) pull.update(m);
    expect(pull.summary().error).toBe("read tcp 172.17.0.1:41234->10.0.0.1:443: read: connection reset by peer");
    expect(pull.summary().bytesDone).toBe(540672);
  });

  it("the engine client rejects a pull whose stream ends in an error (the answer was 200), passing every message on", async () => {
    const docker = new Dockerode({ socketPath: "/nonexistent.sock" });
    const stub = (name: string) => {
      docker.pull = (async () => Readable.from([Buffer.from(fixture(name))])) as unknown as typeof docker.pull;
    };
    const engine = new DockerEngine(docker);
    stub("pull-stream-failed.ndjson");
    const got: PullMessage[] = [];
    await expect(engine.pullImage("postgres:17", (m) => got.push(m))).rejects.toThrow(/connection reset by peer/);
    expect(got).toHaveLength(4);
    stub("pull-stream.ndjson");
    const all: PullMessage[] = [];
    await engine.pullImage("postgres:17", (m) => all.push(m));
    expect(all).toHaveLength(messages("pull-stream.ndjson").length);
  });

  it("bytes in decimal units, as docker prints them", () => {
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(540_672)).toBe("541 kB");
    expect(formatBytes(4_194_304)).toBe("4.2 MB");
    expect(formatBytes(2_500_000_000)).toBe("2.5 GB");
  });
});

describe("an image build's steps, from compose's output", () => {
  it("the classic builder's and BuildKit's step lines; other lines are the steps' output", () => {
    expect(buildStep("Step 3/12 : RUN pip install --require-hashes -r /tmp/requirements.txt")).toEqual({
      n: 3,
      of: 12,
      instruction: "RUN pip install --require-hashes -r /tmp/requirements.txt",
    });
    expect(buildStep("#7 [2/6] RUN apt-get update")).toEqual({ n: 2, of: 6, instruction: "RUN apt-get update" });
    expect(buildStep("#9 [builder 4/5] COPY requirements.txt /tmp/")).toEqual({
      n: 4,
      of: 5,
      instruction: "COPY requirements.txt /tmp/",
      stage: "builder",
    });
    expect(buildStep("#7 DONE 3.2s")).toBeUndefined();
    expect(buildStep(" ---> Running in 0a1b2c3d4e5f")).toBeUndefined();
    expect(buildStep("Collecting boto3")).toBeUndefined();
    expect(describeStep({ n: 2, of: 6, instruction: "RUN apt-get update", stage: "builder" })).toBe(
      "step 2/6 (builder): RUN apt-get update",
    );
    expect(describeStep({ n: 1, of: 2, instruction: `RUN ${"x".repeat(200)}` })).toHaveLength(
      "step 1/2: ".length + 100,
    );
  });
});
