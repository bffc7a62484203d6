import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MlflowClient, MlflowRestError } from "../src/index.ts";

/**
 * Artifacts streamed between a file and a real HTTP server on loopback: the bytes arrive whole,
 * the size and sha256 are those of the bytes, the credentials travel in the header, and a status
 * other than 2xx is an MlflowRestError.
 */
let server: Server;
let base: string;
let dir: string;
const stored = new Map<string, Buffer>();
const auth: string[] = [];
const DATA = randomBytes(3 * 2 ** 20 + 17);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "stream-test-"));
  server = createServer((req, res) => {
    auth.push(req.headers.authorization ?? "");
    const key = decodeURIComponent(req.url ?? "");
    if (req.method === "PUT") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        stored.set(key, Buffer.concat(chunks));
        res.writeHead(200).end("{}");
      });
      return;
    }
    const body = stored.get(key);
    if (!body) res.writeHead(404).end('{"error_code":"RESOURCE_DOES_NOT_EXIST"}');
    else res.writeHead(200).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("artifacts streamed through files", () => {
  it("uploads a file and downloads it back byte for byte, with its size and sha256", async () => {
    const client = new MlflowClient(base, { credentials: { username: "u", password: "secret-pw" } });
    auth.length = 0; // this test's requests only, whichever test ran before it
    const src = join(dir, "src.bin");
    writeFileSync(src, DATA);
    const sent = await client.uploadArtifactFromFile("1/run/artifacts/w.bin", src);
    expect(sent).toEqual({ bytes: DATA.length, sha256: sha(DATA) });
    expect(stored.get("/api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/w.bin")?.equals(DATA)).toBe(true);
    const dst = join(dir, "dst.bin");
    const got = await client.downloadArtifactToFile("1/run/artifacts/w.bin", dst);
    expect(got).toEqual({ bytes: DATA.length, sha256: sha(DATA) });
    expect(readFileSync(dst).equals(DATA)).toBe(true);
    expect(auth.every((a) => a === `Basic ${Buffer.from("u:secret-pw").toString("base64")}`)).toBe(true);
  });

  it("a missing artifact is an MlflowRestError with its status", async () => {
    const client = new MlflowClient(base);
    const e = await client.downloadArtifactToFile("nothing/here", join(dir, "x")).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MlflowRestError);
    expect((e as MlflowRestError).status).toBe(404);
  });
});
