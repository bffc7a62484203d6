import { createServer } from "node:net";

/** True when nothing listens on address:port (we could bind it ourselves). */
export function portIsFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
