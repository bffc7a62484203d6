import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/**
 * Where a service answers. Requests carry `url`'s host as the Host header (and TLS server name)
 * and go to `via` when it is set:
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
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

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
          host: hostHeader(service, dial),
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
