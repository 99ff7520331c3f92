import type pg from 'pg';
import type { BackendEvent, EnqueueResult, NewJob } from '../../contract/backend.ts';
import { type BackendListeners, enqueuedEvents } from '../../contract/backend-listeners.ts';
import type { Clock } from '../../domain/clock.ts';
import { ClosedError, InvalidOptionError } from '../../domain/errors.ts';
import { loadDriver } from '../load-driver.ts';
import { readNamedStatements } from '../statement-files.ts';
import { toStoreError } from './postgres-errors.ts';

/** Something that runs a query: a `pg.Pool`, a `pg.Client`, or a pool client inside the user's transaction. */
export interface PgQueryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/** The `pg` package, loaded when a backend is built (see load-driver.ts). */
export const pgDriver = (): typeof pg => loadDriver<typeof pg>('postgres');

// bigint columns hold epoch milliseconds, well inside Number's exact range; pg would hand them back as strings.
const int8AsNumber: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    const { types } = pgDriver();
    return oid === types.builtins.INT8 ? (value: string) => Number(value) : types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** Runs one statement; with a `name`, as a prepared statement that each connection parses and plans once. */
export function q<R extends pg.QueryResultRow = pg.QueryResultRow>(db: PgQueryable, text: string, values?: unknown[], name?: string): Promise<pg.QueryResult<R>> {
  return db.query<R>({ text, ...(values ? { values } : {}), ...(name === undefined ? {} : { name }), types: int8AsNumber });
}

/** The names a backend's SQL files and migrations leave open, one pair per schema. */
export interface SchemaNames {
  /** The quoted schema name, for `:SCHEMA`. */
  readonly S: string;
  /** The LISTEN/NOTIFY channel, for `:CHANNEL`. */
  readonly channel: string;
}

/** The one place `:SCHEMA` and `:CHANNEL` in the shipped SQL (statements and migrations) become a schema's names. */
export function fillPlaceholders(sql: string, names: SchemaNames): string {
  return sql.replace(/:(SCHEMA|CHANNEL)\b/g, (_, placeholder: string) => (placeholder === 'SCHEMA' ? names.S : names.channel));
}

const statementFiles = new Map<string, Readonly<Record<string, string>>>();

/**
 * The statements of one of the `sql/*.sql` files, for one schema. Each file is read once per
 * process; each role fills it in once, at construction. A name the code needs and the file
 * lacks throws here, not at the first call.
 */
export function loadStatements<N extends string>(url: URL, names: readonly N[], schema: SchemaNames): Record<N, string> {
  let file = statementFiles.get(url.href);
  if (!file) statementFiles.set(url.href, (file = readNamedStatements(url)));
  const statements = {} as Record<N, string>;
  for (const name of names) {
    const text = file[name];
    if (text === undefined) throw new Error(`${url.pathname} has no statement "${name}"`);
    statements[name] = fillPlaceholders(text, schema);
  }
  return statements;
}

export interface PostgresConnectionOptions {
  pool: pg.Pool;
  schema: string;
  clock: Clock;
  prepare: boolean;
  listeners: BackendListeners;
  /** What opening does: migrate, or check the server answers. Runs once; again after a failure. */
  setUp: () => Promise<void>;
}

/**
 * What the backend's roles share: the pool, the schema, the clock, and running a call on the
 * pool or in a transaction with driver failures mapped to `StoreError`. Every call opens the
 * backend first, so the roles need no lifecycle of their own.
 */
export class PostgresConnection implements SchemaNames {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly S: string;
  readonly channel: string;
  readonly clock: Clock;
  /** Send the hot statements as named prepared statements (the `preparedStatements` option). */
  readonly prepare: boolean;
  private readonly listeners: BackendListeners;
  private readonly setUp: () => Promise<void>;
  private opening: Promise<void> | null = null;
  private closed = false;

  constructor(options: PostgresConnectionOptions) {
    this.pool = options.pool;
    this.schema = options.schema;
    this.S = `"${options.schema}"`;
    this.channel = `jobsmith_${options.schema}`;
    this.clock = options.clock;
    this.prepare = options.prepare;
    this.listeners = options.listeners;
    this.setUp = options.setUp;
  }

  open(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('The PostgreSQL backend'));
    // A failed open may be retried (the server was down): forget it.
    this.opening ??= this.setUp().catch((error: unknown) => {
      this.opening = null;
      throw error;
    });
    return this.opening;
  }

  /** Marks the connection closed; false when it already was. */
  markClosed(): boolean {
    if (this.closed) return false;
    this.closed = true;
    return true;
  }

  /** Runs `fn` on the pool; driver failures become `StoreError` (transient where a retry may help). */
  async run<T>(operation: string, fn: (db: PgQueryable) => Promise<T>): Promise<T> {
    await this.assertUsable(operation);
    try {
      return await fn(this.pool);
    } catch (error) {
      throw toStoreError(operation, error, this.schema);
    }
  }

  /** Runs `fn` in a transaction: the caller's own when `tx` is given (it commits or rolls back), else one of ours. */
  async inTransaction<T>(tx: unknown, operation: string, fn: (db: PgQueryable) => Promise<T>): Promise<T> {
    if (tx !== undefined) {
      if (!isQueryable(tx)) throw new InvalidOptionError('tx', tx, 'a pg client (or anything with query()) inside your transaction');
      if (operation !== 'enqueue') await this.assertUsable(operation);
      try {
        return await fn(tx);
      } catch (error) {
        throw toStoreError(operation, error, this.schema);
      }
    }
    await this.assertUsable(operation);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toStoreError(operation, error, this.schema);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw toStoreError(operation, error, this.schema);
    } finally {
      client.release(broken);
    }
  }

  emit(event: BackendEvent): void {
    this.listeners.emit(event);
  }

  emitEnqueued(jobs: readonly NewJob[], results: readonly EnqueueResult[]): void {
    for (const event of enqueuedEvents(jobs, results)) this.emit(event);
  }

  private async assertUsable(operation: string): Promise<void> {
    if (this.closed) throw new ClosedError('The PostgreSQL backend');
    if (operation !== 'migrate' && operation !== 'open') await this.open();
  }
}

function isQueryable(value: unknown): value is PgQueryable {
  return typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function';
}
