import { type ClientRequest, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { TransportError } from "./errors.ts";

/**
 * Where a service answers. Requests carry `url`'s host as the Host header (and TLS server name)
 * and go to `via` when it is set, like curl's --connect-to:
 * - on AWS with a domain, via is the load balancer itself, so promote reaches the service (and
 *   checks the certificate against the domain) before the domain's DNS record points there;
 * - behind an emulator, via is the emulator: its load-balancer data plane picks the load balancer
 *   by the Host header and the listener by the Host header's port, over plain HTTP, so an
 *   https:// URL is sent with an explicit :443 (TLS itself is not emulated).
 */
export interface HttpTarget {
  url: string;
  via?: string;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface SendOptions {
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** The whole exchange, connection to last byte (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The service at `serviceUrl`, reached through the emulator or, before DNS points there, its load balancer. */
export function targetFor(serviceUrl: string, endpointUrl: string | undefined, loadBalancerDns?: string): HttpTarget {
  if (endpointUrl) return { url: serviceUrl, via: endpointUrl };
  const service = new URL(serviceUrl);
  if (loadBalancerDns && service.hostname !== loadBalancerDns)
    return { url: serviceUrl, via: `${service.protocol}//${loadBalancerDns}${service.port ? `:${service.port}` : ""}` };
  return { url: serviceUrl };
}

/** The Host header: the service's, with the HTTPS port spelled out when it travels over plain HTTP. */
function hostHeader(service: URL, dial: URL): string {
  return service.protocol === "https:" && dial.protocol === "http:" && !service.port
    ? `${service.hostname}:443`
    : service.host;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * One HTTP exchange: `path` (with its query) below the target URL's path. Resolves with any
 * status; rejects with a TransportError when no answer came. A keep-alive connection the server
 * had already closed is retried once at once, whatever the method (the request never reached it).
 */
export async function send(
  target: HttpTarget,
  method: string,
  path: string,
  options: SendOptions = {},
): Promise<HttpResponse> {
  try {
    return await sendOnce(target, method, path, options);
  } catch (e) {
    if (!(e instanceof StaleSocket)) throw e;
    return sendOnce(target, method, path, options).catch((again: unknown) => {
      throw again instanceof StaleSocket ? again.error : again;
    });
  }
}

/** A reset on a reused keep-alive socket: the server closed it while idle. */
class StaleSocket extends Error {
  readonly error: TransportError;
  constructor(error: TransportError) {
    super(error.message);
    this.error = error;
  }
}

function sendOnce(target: HttpTarget, method: string, path: string, options: SendOptions): Promise<HttpResponse> {
  const service = new URL(target.url);
  const dial = new URL(target.via ?? target.url);
  const basePath = service.pathname.replace(/\/$/, "");
  const shown = `${target.url.replace(/\/$/, "")}${path}`;
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const request = dial.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      reject(e);
    };
    const transportError = (e: NodeJS.ErrnoException) =>
      new TransportError(method, shown, e.message, { ...(e.code ? { code: e.code } : {}), cause: e });
    const req: ClientRequest = request(
      {
        protocol: dial.protocol,
        hostname: dial.hostname,
        port: dial.port || (dial.protocol === "https:" ? 443 : 80),
        method,
        path: `${basePath}${path}`,
        headers: {
          host: hostHeader(service, dial),
          ...(body ? { "content-length": String(body.length) } : {}),
          ...options.headers,
        },
        ...(target.via && dial.protocol === "https:" ? { servername: service.hostname } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on("error", (e) => fail(transportError(e)));
      },
    );
    const timer = setTimeout(
      () =>
        req.destroy(
          new TransportError(method, shown, `no answer within ${timeoutMs / 1000}s`, {
            code: "ETIMEDOUT",
            timedOut: true,
          }),
        ),
      timeoutMs,
    );
    const onAbort = () =>
      req.destroy(options.signal?.reason instanceof Error ? options.signal.reason : new Error("aborted"));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (e instanceof TransportError || e === options.signal?.reason) return fail(e);
      const error = transportError(e);
      fail(req.reusedSocket && e.code === "ECONNRESET" ? new StaleSocket(error) : error);
    });
    if (body) req.write(body);
    req.end();
  });
}
