import type pg from 'pg';

export interface PostgresListenerOptions {
  connect: () => Promise<pg.Client>;
  channel: string;
  onMessage: (payload: string) => void;
  /** Called after a reconnect: notifications may have been missed, so everyone should look again. */
  onReconnect: () => void;
  /**
   * Called when the connection breaks or cannot be made (connecting or LISTEN failed), once per
   * outage: the listener keeps trying on its own, every 2 s at most, and reports again only
   * after it was listening in between.
   */
  onDrop: (error: unknown) => void;
}

/**
 * A dedicated connection that LISTENs for new work, reconnecting with a capped backoff
 * whenever it drops (a restart, a terminated backend). While it is down, workers fall
 * back on their poll; nothing depends on a notification arriving.
 */
export class PostgresListener {
  private client: pg.Client | null = null;
  private running = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Failed or dropped connections since the last one that listened; above 0, the outage was reported. */
  private failures = 0;

  constructor(private readonly options: PostgresListenerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  async close(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (!this.running) return;
    let client: pg.Client | null = null;
    try {
      client = await this.options.connect();
      client.on('error', (error) => this.dropped(client!, error));
      client.on('end', () => this.dropped(client!, new Error('the notification connection closed')));
      client.on('notification', (message) => {
        if (message.channel === this.options.channel && message.payload !== undefined) this.options.onMessage(message.payload);
      });
      await client.query(`LISTEN "${this.options.channel}"`);
      if (!this.running) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      if (this.failures > 0) this.options.onReconnect();
      this.failures = 0;
    } catch (error) {
      // A connect that fails after close() is no outage.
      if (this.running) this.reportOutage(error);
      // The connection failed already (reported above); ending it only frees what is left of it.
      await client?.end().catch(() => undefined);
      this.retry();
    }
  }

  private dropped(client: pg.Client, error: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    this.reportOutage(error);
    client.end().catch(() => undefined);
    this.failures++;
    this.retry();
  }

  /** Reports the first failure of an outage: the one met while `failures` is still 0. */
  private reportOutage(error: unknown): void {
    if (this.failures === 0) this.options.onDrop(error);
  }

  private retry(): void {
    if (!this.running || this.retryTimer) return;
    this.failures = Math.max(1, this.failures + 1);
    const delay = Math.min(2000, 50 * 2 ** Math.min(this.failures, 6));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}
