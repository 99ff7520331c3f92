import { createServer, type Server, type Socket, connect } from 'node:net';

/**
 * A TCP proxy in front of a store that can lose one reply on purpose: the request that
 * matches reaches the server and runs there, and the server's answer is dropped and the
 * client's connection cut before any of it arrives, as when the network or the server's
 * host fails right after a write. The client then cannot tell whether its call ran, which
 * is the case a store call must answer the same way when it is sent again.
 *
 * Written by hand: the fault has to land between "the server ran it" and "the client heard",
 * which no general fault-injection proxy we could start from a test controls that precisely.
 */
export class ReplyCuttingProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private cutWhen: ((request: string) => boolean) | null = null;
  /** Requests whose reply was dropped, in order. */
  readonly cut: string[] = [];

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.server = server;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<ReplyCuttingProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port');
    const proxy = new ReplyCuttingProxy(server, address.port);
    server.on('connection', (client) => proxy.pipe(client, targetPort, targetHost));
    return proxy;
  }

  /** The next request (on any connection) whose bytes, read as UTF-8, satisfy `match` loses its reply. */
  cutNextReply(match: (request: string) => boolean): void {
    this.cutWhen = match;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket, targetPort: number, targetHost: string): void {
    const upstream = connect(targetPort, targetHost);
    this.sockets.add(client).add(upstream);
    let dropReplies = false;
    client.on('data', (chunk: Buffer) => {
      const request = chunk.toString('utf8');
      if (this.cutWhen?.(request)) {
        this.cutWhen = null;
        this.cut.push(request);
        dropReplies = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!dropReplies) {
        client.write(chunk);
        return;
      }
      // The server answered the cut request: it ran. Drop the answer and both connections.
      client.destroy();
      upstream.destroy();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }
}
