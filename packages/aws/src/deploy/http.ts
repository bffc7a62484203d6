import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/**
 * Where a service answers. On AWS, `url` is all there is. Behind an emulator the load balancer's
 * DNS name does not resolve: requests go to the emulator (`via`) with the load balancer's name as
 * the Host header, which is how the emulator's load-balancer data plane picks the target.
 */
export interface HttpTarget {
  url: string;
  via?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function targetFor(serviceUrl: string, endpointUrl: string | undefined): HttpTarget {
  return endpointUrl ? { url: serviceUrl, via: endpointUrl } : { url: serviceUrl };
}

export function send(
  target: HttpTarget,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Uint8Array | string; timeoutMs?: number } = {},
): Promise<HttpResponse> {
  const service = new URL(target.url);
  const dial = new URL(target.via ?? target.url);
  const basePath = service.pathname.replace(/\/$/, "");
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const request = dial.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        protocol: dial.protocol,
        hostname: dial.hostname,
        port: dial.port || (dial.protocol === "https:" ? 443 : 80),
        method,
        path: `${basePath}${path}`,
        headers: {
          host: service.host,
          ...(body ? { "content-length": String(body.length) } : {}),
          ...options.headers,
        },
        ...(target.via && dial.protocol === "https:" ? { servername: service.hostname } : {}),
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(
        new Error(`${method} ${target.url}${path}: no answer within ${(options.timeoutMs ?? 30_000) / 1000}s`),
      ),
    );
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}
