import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TransportError } from "./errors.ts";
import type { HttpTarget } from "./transport.ts";

/**
 * Artifact bytes streamed between a file and the server, never held in memory whole: a download
 * goes to a file (hashed on the way), an upload is read from one. For copies of files larger than
 * the process should buffer (a model's weights).
 */

export interface StreamedFile {
  bytes: number;
  sha256: string;
}

function hashing(): { transform: Transform; result: () => StreamedFile } {
  const hash = createHash("sha256");
  let bytes = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { transform, result: () => ({ bytes, sha256: hash.digest("hex") }) };
}

interface StreamRequest {
  method: "GET" | "PUT";
  path: string;
  headers: Record<string, string>;
  /** Idle time without a byte either way before the exchange is given up. */
  idleTimeoutMs: number;
}

function open(target: HttpTarget, r: StreamRequest, bodyLength?: number) {
  const service = new URL(target.url);
  const dial = new URL(target.via ?? target.url);
  const basePath = service.pathname.replace(/\/$/, "");
  const shown = `${target.url.replace(/\/$/, "")}${r.path}`;
  const request = dial.protocol === "https:" ? httpsRequest : httpRequest;
  const host =
    service.protocol === "https:" && dial.protocol === "http:" && !service.port
      ? `${service.hostname}:443`
      : service.host;
  const req = request({
    protocol: dial.protocol,
    hostname: dial.hostname,
    port: dial.port || (dial.protocol === "https:" ? 443 : 80),
    method: r.method,
    path: `${basePath}${r.path}`,
    headers: {
      host,
      ...(bodyLength !== undefined
        ? { "content-length": String(bodyLength), "content-type": "application/octet-stream" }
        : {}),
      ...r.headers,
    },
    ...(target.via && dial.protocol === "https:" ? { servername: service.hostname } : {}),
  });
  req.setTimeout(r.idleTimeoutMs, () =>
    req.destroy(
      new TransportError(r.method, shown, `no data for ${r.idleTimeoutMs / 1000}s`, {
        code: "ETIMEDOUT",
        timedOut: true,
      }),
    ),
  );
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on("response", resolve);
    req.on("error", (e: NodeJS.ErrnoException) =>
      reject(
        e instanceof TransportError
          ? e
          : new TransportError(r.method, shown, e.message, { ...(e.code ? { code: e.code } : {}), cause: e }),
      ),
    );
  });
  return { req, response, shown };
}

async function readText(res: IncomingMessage, max = 300): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8").slice(0, max);
}

/** GET `path` into `file`; resolves with its size and sha256, or `{ status, text }` on a status other than 200. */
export async function downloadToFile(
  target: HttpTarget,
  path: string,
  file: string,
  headers: Record<string, string>,
  idleTimeoutMs = 120_000,
): Promise<StreamedFile | { status: number; text: string }> {
  const { req, response } = open(target, { method: "GET", path, headers, idleTimeoutMs });
  req.end();
  const res = await response;
  if (res.statusCode !== 200) return { status: res.statusCode ?? 0, text: await readText(res) };
  const h = hashing();
  await pipeline(res, h.transform, createWriteStream(file));
  return h.result();
}

/** PUT the bytes of `file` to `path`; resolves with the status, its text, and the size and sha256 sent. */
export async function uploadFromFile(
  target: HttpTarget,
  path: string,
  file: string,
  headers: Record<string, string>,
  idleTimeoutMs = 120_000,
): Promise<{ status: number; text: string; sent: StreamedFile }> {
  const size = (await stat(file)).size;
  const { req, response } = open(target, { method: "PUT", path, headers, idleTimeoutMs }, size);
  const h = hashing();
  const sending = pipeline(createReadStream(file), h.transform, req);
  const [res] = await Promise.all([response, sending]);
  return { status: res.statusCode ?? 0, text: await readText(res), sent: h.result() };
}
