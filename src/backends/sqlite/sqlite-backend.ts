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
  /** How often to look for commits by other processes while a worker or waiter listens; 0 turns it off. @default 10 */
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
  private readonly options: SqliteBackendOptions;
  private readonly connection: SqliteConnection;
  /** Lease tokens of running attempts with a cancel request, as last announced (see `announceCancelRequests`). */
  private announcedCancels = new Set<string>();
  private readonly ownListeners = new Set<(event: BackendEvent) => void>();
  private watchTimer: NodeJS.Timeout | null = null;

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
    this.options = options;
    this.connection = connection;
  }

  async open(): Promise<void> {
    await this.connection.open();
  }

  async close(): Promise<void> {
    if (this.connection.isClosed) return;
    this.stopWatching();
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
    this.watchOtherProcesses();
    return () => {
      hubFor(this.connection.hubKey).delete(listener);
      this.ownListeners.delete(listener);
      if (this.ownListeners.size === 0) this.stopWatching();
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

  /**
   * Commits by other processes are seen through `PRAGMA data_version`, which changes when
   * another connection commits: a read of a few microseconds, polled every
   * `watchIntervalMs` while anyone listens, instead of waiting for a worker's poll.
   * Real time on purpose: it is a polling cadence, not a delay a fake clock should drive.
   */
  private watchOtherProcesses(): void {
    if (this.watchTimer || this.connection.isClosed) return;
    const ms = this.options.watchIntervalMs ?? 10;
    if (ms <= 0) return;
    let version: number | null = null;
    let cancelsToRead = false;
    this.watchTimer = setInterval(() => {
      const db = this.connection.current;
      if (!db) return;
      let changed = false;
      let cancels: Array<{ id: string; lease_token: string }> | null = null;
      try {
        const current = db.pragma('data_version', { simple: true }) as number;
        changed = version !== null && current !== version;
        version = current;
        if (changed) cancelsToRead = true;
        if (cancelsToRead) cancels = this.connection.statements.cancelRequests.all() as Array<{ id: string; lease_token: string }>;
        cancelsToRead = false;
      } catch {
        // A failed look (the file busy for a moment) is tried again at the next tick; the
        // worker's poll and heartbeat cover anything missed meanwhile.
      }
      if (changed) this.connection.emit({ type: 'changed' });
      if (cancels) this.announceCancelRequests(cancels);
    }, ms);
    this.watchTimer.unref();
  }

  /**
   * Another process may have asked to cancel a running job: emits 'cancel-requested' for each
   * running attempt with a request (`requests`, read by the watch after another process
   * committed) not announced before, so a worker here
   * aborts its handler now rather than at its next heartbeat. Attempts of other processes
   * are announced too; a worker ignores ids it does not run.
   */
  private announceCancelRequests(requests: ReadonlyArray<{ id: string; lease_token: string }>): void {
    const announced = this.announcedCancels;
    this.announcedCancels = new Set(requests.map((row) => row.lease_token));
    for (const row of requests) if (!announced.has(row.lease_token)) this.connection.emit({ type: 'cancel-requested', id: row.id });
  }

  private stopWatching(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
  }
}
