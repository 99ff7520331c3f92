import type { BackendEvent, Client, Logger } from '../index.ts';

export interface LiveEventsOptions {
  /** A comment line to every open stream this often, so proxies keep it open and the page sees it is alive. @default 15000 */
  heartbeatMs?: number;
  /** Stats are compared this often, for changes no event reports (another process on a store without change events). @default 5000 */
  pollMs?: number;
  /** Events within this window are sent as one `change`. @default 250 */
  coalesceMs?: number;
}

interface Connection {
  controller: ReadableStreamDefaultController<Uint8Array>;
  close(): void;
}

/** A stream whose reader has fallen this many messages behind is dropped; the page reconnects. */
const maxQueuedMessages = 100;
const encoder = new TextEncoder();

/**
 * The one server-sent events endpoint's state: every open page shares a single backend
 * subscription and a single pair of timers, taken when the first page connects and let go
 * when the last one leaves (by closing the tab, navigating, or a dropped connection), so a
 * page left open for hours holds one stream and nothing accumulates.
 */
export class LiveEvents {
  private readonly connections = new Set<Connection>();
  private unsubscribe: (() => void) | null = null;
  /** Bumped whenever the subscription is let go, so a subscribe still opening knows it is stale. */
  private generation = 0;
  private timers: NodeJS.Timeout[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private changedIds = new Set<string>();
  private pending = false;
  private lastFingerprint: string | null = null;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly coalesceMs: number;

  constructor(
    private readonly client: Client,
    private readonly logger: Logger,
    options: LiveEventsOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.pollMs = options.pollMs ?? 5_000;
    this.coalesceMs = options.coalesceMs ?? 250;
  }

  /** Open streams. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** True while the backend subscription is held. */
  get subscribed(): boolean {
    return this.unsubscribe !== null;
  }

  /** A `text/event-stream` response that lives until `signal` aborts or the reader cancels. */
  open(signal: AbortSignal): Response {
    let connection: Connection | null = null;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        let closed = false;
        connection = {
          controller,
          close: () => {
            if (closed) return;
            closed = true;
            signal.removeEventListener('abort', onAbort);
            this.remove(connection!);
            try {
              controller.close();
            } catch {
              // Already closed or errored by the reader going away.
            }
          },
        };
        const onAbort = () => connection?.close();
        signal.addEventListener('abort', onAbort, { once: true });
        this.add(connection);
        this.send(connection, `retry: 3000\nevent: hello\ndata: ${JSON.stringify({ connections: this.connections.size })}\n\n`);
        if (signal.aborted) connection.close();
      },
      cancel: () => connection?.close(),
    });
    return new Response(stream, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' },
    });
  }

  /** Ends every stream and lets go of the subscription. */
  close(): void {
    for (const connection of [...this.connections]) connection.close();
    this.release();
  }

  private add(connection: Connection): void {
    this.connections.add(connection);
    if (this.connections.size === 1) this.acquire();
  }

  private remove(connection: Connection): void {
    if (!this.connections.delete(connection)) return;
    if (this.connections.size === 0) this.release();
  }

  private acquire(): void {
    const generation = this.generation;
    this.client
      .backend()
      .then((backend) => {
        if (generation !== this.generation || this.connections.size === 0) return;
        const unsubscribe = backend.subscribe?.((event) => this.onBackendEvent(event));
        this.unsubscribe = unsubscribe ?? (() => {});
      })
      .catch((error: unknown) => this.logger.error({ err: error }, 'dashboard: live events could not subscribe'));
    const heartbeat = setInterval(() => this.broadcast(`event: heartbeat\ndata: ${Date.now()}\n\n`), this.heartbeatMs);
    const poll = setInterval(() => void this.pollStats(), this.pollMs);
    heartbeat.unref();
    poll.unref();
    this.timers = [heartbeat, poll];
  }

  private release(): void {
    this.generation++;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.pending = false;
    this.changedIds.clear();
    this.lastFingerprint = null;
  }

  private onBackendEvent(event: BackendEvent): void {
    if (event.type === 'connection-error') return;
    if ((event.type === 'settled' || event.type === 'cancel-requested') && this.changedIds.size < 50) this.changedIds.add(event.id);
    this.changed();
  }

  private changed(): void {
    this.pending = true;
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      if (!this.pending) return;
      this.pending = false;
      const ids = [...this.changedIds];
      this.changedIds.clear();
      this.broadcast(`event: change\ndata: ${JSON.stringify({ ids })}\n\n`);
    }, this.coalesceMs);
    this.flushTimer.unref();
  }

  private async pollStats(): Promise<void> {
    try {
      const stats = await this.client.stats();
      const fingerprint = JSON.stringify([stats.counts, stats.waitingForChildren, stats.queues.map((queue) => [queue.queue, queue.paused, queue.counts, queue.waitingForChildren])]);
      if (this.lastFingerprint !== null && fingerprint !== this.lastFingerprint) this.changed();
      this.lastFingerprint = fingerprint;
    } catch (error) {
      this.logger.warn({ err: error }, 'dashboard: reading stats for live updates failed');
    }
  }

  private broadcast(message: string): void {
    for (const connection of [...this.connections]) this.send(connection, message);
  }

  private send(connection: Connection, message: string): void {
    const { controller } = connection;
    if (controller.desiredSize !== null && controller.desiredSize < -maxQueuedMessages) return connection.close();
    try {
      controller.enqueue(encoder.encode(message));
    } catch {
      connection.close();
    }
  }
}
