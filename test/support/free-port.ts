/**
 * A loopback port nobody listens on right now. The kernel picks it (bind to port 0), so
 * parallel test workers do not pick the same one by chance; the port is released before
 * the server binds it, so callers still retry on "address in use".
 */
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** Ports of the machine's own services: never handed out, even if they look free. */
const RESERVED = new Set([5432, 6379]);

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen({ port: 0, host: LOOPBACK, exclusive: true }, () => {
        const address = server.address();
        const chosen = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(chosen));
      });
    });
    if (port > 0 && !RESERVED.has(port)) return port;
  }
}

/** Does this server log say its listen socket could not be bound? Then another port is worth a try. */
export function looksLikePortInUse(log: string): boolean {
  return /address already in use/i.test(log);
}
