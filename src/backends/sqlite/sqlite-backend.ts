import type { BackendEvent } from '../../contract/backend.ts';
import type { BackendCapability } from '../../contract/capabilities.ts';
import { ComposedBackend } from '../../contract/composed-backend.ts';
import { type Clock, systemClock } from '../../domain/clock.ts';
import { SqliteAdmin } from './sqlite-admin.ts';
import { SqliteConnection } from './sqlite-connection.ts';
import { SqliteFlows } from './sqlite-flows.ts';
import { hubFor, releaseHub } from './sqlite-event-hub.ts';
import { SqliteQueue } from './sqlite-queue.ts';
import { SqliteSchedules } from './sqlite-schedules.ts';
import { SqliteSteps } from './sqlite-steps.ts';
import type { SqliteSettings, SqliteSynchronous } from './sqlite-url.ts';
import { OtherProcessWatch } from './sqlite-watch.ts';
import { SqliteWorkers } from './sqlite-workers.ts';

export interface SqliteBackendOptions {
  /** The database file; `:memory:` for a private in-memory database. */
  path: string;
  /**
   * `full` (default): an acknowledged enqueue or completion survives power loss.
   * `normal`: several times faster commits in WAL mode; a power loss (not a process
   * crash) may roll back the last transactions.
   */
  synchronous?: SqliteSynchronous;
  /**
   * How long a call waits for another process's write lock before it fails with a transient
   * `StoreError`. The wait is on a timer: the event loop keeps running meanwhile. @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * How often to look for commits by other processes while a worker or waiter listens, when
   * none came in the last second; while they keep coming, the watch looks every millisecond
   * (sqlite-watch.ts). 0 turns the watch off. @default 10
   */
  watchIntervalMs?: number;
  clock?: Clock;
}

/**
 * The embedded default: one SQLite file in WAL mode, shared by any number of worker
 * processes. Every write is a `BEGIN IMMEDIATE` transaction, so two processes never
 * claim the same row; claims and completions are batched, one transaction each.
 * A call that finds the file locked by another process waits on a timer, not inside
 * SQLite (see sqlite-lock-wait.ts), and every call first lets the event loop turn.
 *
 * The roles (sqlite-queue.ts, sqlite-admin.ts, sqlite-schedules.ts, sqlite-workers.ts,
 * sqlite-steps.ts, sqlite-flows.ts) share one
 * `SqliteConnection` (sqlite-connection.ts); their SQL is in `sql/`, the schema's in
 * `migrations/`. This class holds the lifecycle and the watch of the file for other
 * processes' commits.
 */
export class SqliteBackend extends ComposedBackend {
  /** What this backend can do beyond the three roles (see `BackendCapability`). */
  readonly capabilities: ReadonlySet<BackendCapability> = new Set<BackendCapability>(['change-events', 'live-workers', 'durable-steps', 'flows']);
  readonly kind = 'sqlite';
  override readonly inProcess = true;
  private readonly connection: SqliteConnection;
  private readonly ownListeners = new Set<(event: BackendEvent) => void>();
  /** The watch of the file for other processes' commits, running while anyone listens. */
  private readonly watch: OtherProcessWatch;

  constructor(options: SqliteBackendOptions) {
    const connection = new SqliteConnection({
      path: options.path,
      synchronous: options.synchronous ?? 'full',
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      clock: options.clock ?? systemClock,
    });
    const workers = new SqliteWorkers(connection);
    // The queue and admin roles resolve flows in their own writes (a child that finishes, a parent cancelled).
    const flows = new SqliteFlows(connection);
    const queue = new SqliteQueue(connection, workers, flows);
    super({ queue, admin: new SqliteAdmin(connection, flows), schedules: new SqliteSchedules(connection, queue), workers, steps: new SqliteSteps(connection), flows });
    this.connection = connection;
    this.watch = new OtherProcessWatch(connection, options.watchIntervalMs ?? 10);
  }

  async open(): Promise<void> {
    await this.connection.open();
  }

  async close(): Promise<void> {
    if (this.connection.isClosed) return;
    this.watch.stop();
    const hub = hubFor(this.connection.hubKey);
    for (const listener of this.ownListeners) hub.delete(listener);
    releaseHub(this.connection.hubKey);
    this.connection.close();
  }

  now(): number {
    return this.connection.clock.now();
  }

  override subscribe(listener: (event: BackendEvent) => void): () => void {
    hubFor(this.connection.hubKey).add(listener);
    this.ownListeners.add(listener);
    this.watch.start();
    return () => {
      hubFor(this.connection.hubKey).delete(listener);
      this.ownListeners.delete(listener);
      if (this.ownListeners.size === 0) this.watch.stop();
    };
  }

  /**
   * The open better-sqlite3 handle, or null: for tests that shrink the file's room
   * (`max_page_count`) under a running backend. Not part of the API.
   */
  private get db(): SqliteConnection['current'] {
    return this.connection.current;
  }

  /** Read-only connection settings, for diagnostics and tests. The backend must be open. */
  settings(): SqliteSettings {
    return this.connection.settings();
  }
}
