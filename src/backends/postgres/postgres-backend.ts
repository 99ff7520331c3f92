import type pg from 'pg';
import type { BackendEvent } from '../../contract/backend.ts';
import { BackendListeners } from '../../contract/backend-listeners.ts';
import type { BackendCapability } from '../../contract/capabilities.ts';
import { ComposedBackend } from '../../contract/composed-backend.ts';
import { type Clock, systemClock } from '../../domain/clock.ts';
import { InvalidOptionError } from '../../domain/errors.ts';
import { agreedSetting } from '../agreed-setting.ts';
import { PostgresAdmin } from './postgres-admin.ts';
import { PostgresConnection, pgDriver } from './postgres-connection.ts';
import { toStoreError } from './postgres-errors.ts';
import { PostgresListener } from './postgres-listener.ts';
import { applyPostgresMigrations } from './postgres-migrations.ts';
import { PostgresQueue } from './postgres-queue.ts';
import { PostgresSchedules } from './postgres-schedules.ts';
import { PostgresWorkers } from './postgres-workers.ts';
import { PostgresSteps } from './postgres-steps.ts';
import { postgresUrlParts } from './postgres-url.ts';
import { PostgresFlows } from './postgres-flows.ts';

export type { PgQueryable } from './postgres-connection.ts';

export interface PostgresBackendOptions {
  /** A connection string, or… */
  connectionString?: string;
  /** …a pool you already have. Jobsmith does not end a pool it was given. */
  pool?: pg.Pool;
  /** The schema that holds every Jobsmith table. @default 'jobsmith' */
  schema?: string;
  /** Connections in the pool Jobsmith makes. @default 10 */
  poolSize?: number;
  /** Apply migrations at open. Turn off to migrate separately, with the rights that takes. @default true */
  migrate?: boolean;
  /**
   * Send the statements run on every enqueue and claim as named prepared statements, planned
   * once per connection. Turn off behind a pooler that cannot keep them across transactions
   * (PgBouncer in transaction mode before 1.21, or without `max_prepared_statements`).
   * Never used on the connection of a transactional enqueue (`{ tx }`), which is yours.
   * @default true
   */
  preparedStatements?: boolean;
  clock?: Clock;
}

/**
 * The backend for many workers on many machines. Claims are one round trip to a
 * server-side function using `FOR UPDATE SKIP LOCKED`; outcomes are written in batches,
 * one statement each; idle workers wake through `LISTEN/NOTIFY` with a slow poll as a
 * fallback. A lost connection is a transient `StoreError`: the pool reconnects and
 * workers retry.
 *
 * The roles (postgres-queue.ts, postgres-admin.ts, postgres-schedules.ts, postgres-workers.ts,
 * postgres-steps.ts, postgres-flows.ts) share one
 * `PostgresConnection` (postgres-connection.ts); their SQL is in `sql/`, the schema's in
 * `migrations/`.
 */
export class PostgresBackend extends ComposedBackend {
  /** What this backend can do beyond the three roles (see `BackendCapability`). */
  readonly capabilities: ReadonlySet<BackendCapability> = new Set<BackendCapability>(['change-events', 'transactional-enqueue', 'live-workers', 'durable-steps', 'flows']);
  readonly kind = 'postgres';
  readonly schema: string;
  private readonly connection: PostgresConnection;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly listeners: BackendListeners;
  private listener: PostgresListener | null = null;
  private readonly connectionString: string | undefined;

  constructor(options: PostgresBackendOptions) {
    const driver = pgDriver(); // without pg, fail here rather than at the first query
    const fromUrl = options.connectionString ? postgresUrlParts(options.connectionString) : undefined;
    const schema = agreedSetting('schema', options.schema, fromUrl?.schema) ?? 'jobsmith';
    const poolSize = agreedSetting('poolSize', options.poolSize, fromUrl?.poolSize);
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new InvalidOptionError('schema', options.schema, 'a lower-case SQL identifier');
    let pool: pg.Pool;
    if (options.pool) {
      pool = options.pool;
    } else {
      if (!options.connectionString) throw new InvalidOptionError('connectionString', options.connectionString, 'a postgres:// URL or a pool');
      pool = new driver.Pool({ connectionString: fromUrl!.connectionString, max: poolSize ?? 10 });
    }
    const listeners = new BackendListeners();
    const migrate = agreedSetting('migrate', options.migrate, fromUrl?.migrate) ?? true;
    const connection: PostgresConnection = new PostgresConnection({
      pool,
      schema,
      clock: options.clock ?? systemClock,
      prepare: agreedSetting('preparedStatements', options.preparedStatements, fromUrl?.preparedStatements) ?? true,
      listeners,
      setUp: () => applyPostgresMigrations(connection, migrate),
    });
    const queue = new PostgresQueue(connection);
    const flows = new PostgresFlows(connection);
    super({
      queue,
      admin: new PostgresAdmin(connection, flows),
      schedules: new PostgresSchedules(connection, queue),
      workers: new PostgresWorkers(connection),
      steps: new PostgresSteps(connection),
      flows,
    });
    this.schema = schema;
    this.connection = connection;
    this.pool = pool;
    this.ownsPool = options.pool === undefined;
    this.listeners = listeners;
    this.connectionString = fromUrl?.connectionString;
    // An idle client's error (the server restarted) would otherwise be an uncaught exception.
    // The pool drops that client and the next query reconnects; subscribers hear of it.
    this.pool.on('error', (error) => this.connection.emit({ type: 'connection-error', error: toStoreError('idle connection', error, this.schema) }));
  }

  open(): Promise<void> {
    return this.connection.open();
  }

  async close(): Promise<void> {
    if (!this.connection.markClosed()) return;
    this.listeners.clear();
    await this.listener?.close();
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
  }

  now(): number {
    return this.connection.clock.now();
  }

  override subscribe(listener: (event: BackendEvent) => void): () => void {
    const unsubscribe = this.listeners.add(listener);
    this.listener ??= new PostgresListener({
      connect: () => this.listenConnection(),
      channel: this.connection.channel,
      onMessage: (payload) => this.onNotification(payload),
      onReconnect: () => this.connection.emit({ type: 'changed' }),
      onDrop: (error) => this.connection.emit({ type: 'connection-error', error: toStoreError('listen', error, this.schema) }),
    });
    this.listener.start();
    return unsubscribe;
  }

  private async listenConnection(): Promise<pg.Client> {
    const { Client } = pgDriver();
    const client = this.connectionString ? new Client({ connectionString: this.connectionString }) : new Client(this.pool.options);
    await client.connect();
    return client;
  }

  private onNotification(payload: string): void {
    const clock = this.connection.clock;
    if (payload.startsWith('q:')) this.connection.emit({ type: 'enqueued', queue: payload.slice(2), runAt: clock.now() });
    else if (payload.startsWith('c:')) this.connection.emit({ type: 'cancel-requested', id: payload.slice(2) });
  }
}
