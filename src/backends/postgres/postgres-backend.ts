import type { BackendCapability } from '../../contract/capabilities.ts';
import type pg from 'pg';
import type {
  Backend,
  BackendEvent,
  BackendStats,
  CancelResult,
  ClaimedJob,
  ClaimRequest,
  ClaimResult,
  EnqueueCallOptions,
  EnqueueResult,
  FireResult,
  JobPage,
  LeaseRef,
  LeaseRequest,
  LeaseStatus,
  ListFilter,
  NewJob,
  PruneRequest,
  ScheduleInput,
  ScheduleRecord,
  ScheduleTick,
  Settlement,
  SettleResult,
} from '../../contract/backend.ts';
import { BackendListeners, enqueuedEvents } from '../../contract/backend-listeners.ts';
import { listCursor, pageSize } from '../../contract/list-cursor.ts';
import { canonicalJson } from '../../contract/schedule-spec-equality.ts';
import { type BucketCount, bucketOf, buildStats, statsWindowMs } from '../../contract/stats-window.ts';
import { type Clock, systemClock } from '../../domain/clock.ts';
import { ClosedError, InvalidOptionError, InvalidStateError, LeaseLostError } from '../../domain/errors.ts';
import type { FailedHookState, JobLogEntry, JobProgress, JobRecord } from '../../domain/job-record.ts';
import { hookPendingDescription, recordLimits } from '../../domain/job-record.ts';
import { type JobState, terminalStates } from '../../domain/job-state.ts';
import { type HotStatement, hotStatement } from './postgres-hot-statements.ts';
import { PostgresListener } from './postgres-listener.ts';
import { postgresMigrations } from './postgres-migrations.ts';
import { toStoreError } from './postgres-errors.ts';
import { loadDriver } from '../load-driver.ts';
import { type PgJobRow, type PgScheduleRow, claimOrder, pgRowToClaimed, pgRowToRecord, pgRowToSchedule } from './postgres-rows.ts';

/** Something that runs a query: a `pg.Pool`, a `pg.Client`, or a pool client inside the user's transaction. */
export interface PgQueryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

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

const activeStates = "('scheduled','queued','running')";

/**
 * An outcome settle_and_claim() reports applied (a fenced one is absent): `fresh` when
 * written by this call, with its queue and kind; else a hook-done, or an outcome written
 * before under the same lease whose reply was lost.
 */
type AppliedSettlement =
  | { id: string; fresh: true; queue: string; kind: Exclude<Settlement['kind'], 'hook-done'>; run_at: number }
  | { id: string; fresh: false };

const settledStates = { complete: 'completed', fail: 'failed', cancel: 'cancelled' } as const satisfies Record<
  Exclude<Settlement['kind'], 'retry' | 'hook-done'>,
  JobState
>;

// bigint columns hold epoch milliseconds, well inside Number's exact range; pg would hand them back as strings.
const int8AsNumber: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    const { types } = pgDriver();
    return oid === types.builtins.INT8 ? (value: string) => Number(value) : types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** The `pg` package, loaded when a backend is built (see load-driver.ts). */
const pgDriver = (): typeof pg => loadDriver<typeof pg>('postgres');

/**
 * The backend for many workers on many machines. Claims are one round trip to a
 * server-side function using `FOR UPDATE SKIP LOCKED`; outcomes are written in batches,
 * one statement each; idle workers wake through `LISTEN/NOTIFY` with a slow poll as a
 * fallback. A lost connection is a transient `StoreError`: the pool reconnects and
 * workers retry.
 */
export class PostgresBackend implements Backend {
  /** What this backend can do beyond the three roles (see `BackendCapability`). */
  readonly capabilities: ReadonlySet<BackendCapability> = new Set<BackendCapability>(['change-events', 'transactional-enqueue']);
  readonly kind = 'postgres';
  readonly schema: string;
  private readonly S: string;
  private readonly channel: string;
  private readonly clock: Clock;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly migrateOnOpen: boolean;
  private opening: Promise<void> | null = null;
  private closed = false;
  private readonly listeners = new BackendListeners();
  private listener: PostgresListener | null = null;
  private readonly connectionString: string | undefined;
  private readonly prepare: boolean;
  private readonly insertStatement: HotStatement;
  private readonly settleStatement: HotStatement;

  constructor(options: PostgresBackendOptions) {
    const driver = pgDriver(); // without pg, fail here rather than at the first query
    this.schema = options.schema ?? 'jobsmith';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema)) throw new InvalidOptionError('schema', options.schema, 'a lower-case SQL identifier');
    this.S = `"${this.schema}"`;
    this.channel = `jobsmith_${this.schema}`;
    this.clock = options.clock ?? systemClock;
    this.migrateOnOpen = options.migrate ?? true;
    this.prepare = options.preparedStatements ?? true;
    this.insertStatement = hotStatement(
      'insert',
      `WITH ins AS (INSERT INTO ${this.S}.jobs (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms,
         keep_completed_ms, keep_failed_ms, run_at, created_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::int[], $8::text[], $9::int[],
         $10::jsonb[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])
       ON CONFLICT (name, key) WHERE key IS NOT NULL AND state IN ${activeStates} DO NOTHING
       RETURNING id, queue),
       queues AS (INSERT INTO ${this.S}.queues (name) SELECT DISTINCT queue FROM ins ON CONFLICT (name) DO NOTHING)
       SELECT id FROM ins`,
    );
    this.settleStatement = hotStatement(
      'settle_and_claim',
      `SELECT applied, claimed, next_run_at FROM ${this.S}.settle_and_claim($1::jsonb, $2, $3, $4::text[], $5::text[], $6, $7, $8)`,
    );
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      if (!options.connectionString) throw new InvalidOptionError('connectionString', options.connectionString, 'a postgres:// URL or a pool');
      this.pool = new driver.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10 });
      this.ownsPool = true;
    }
    this.connectionString = options.connectionString;
    // An idle client's error (the server restarted) would otherwise be an uncaught exception.
    // The pool drops that client and the next query reconnects; subscribers hear of it.
    this.pool.on('error', (error) => this.emit({ type: 'connection-error', error: toStoreError('idle connection', error, this.schema) }));
  }

  open(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('The PostgreSQL backend'));
    // A failed open may be retried (the server was down): forget it.
    this.opening ??= this.migrate().catch((error: unknown) => {
      this.opening = null;
      throw error;
    });
    return this.opening;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.listener?.close();
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  now(): number {
    return this.clock.now();
  }

  subscribe(listener: (event: BackendEvent) => void): () => void {
    const unsubscribe = this.listeners.add(listener);
    this.listener ??= new PostgresListener({
      connect: () => this.listenConnection(),
      channel: this.channel,
      onMessage: (payload) => this.onNotification(payload),
      onReconnect: () => this.emit({ type: 'changed' }),
      onDrop: (error) => this.emit({ type: 'connection-error', error: toStoreError('listen', error, this.schema) }),
    });
    this.listener.start();
    return unsubscribe;
  }

  async enqueue(jobs: readonly NewJob[], options: EnqueueCallOptions = {}): Promise<EnqueueResult[]> {
    if (jobs.length === 0) return [];
    // One statement, so one round trip and one commit: atomic without BEGIN/COMMIT around it.
    const results =
      options.tx === undefined
        ? await this.run('enqueue', (db) => this.insertJobs(db, jobs, this.prepare))
        : await this.inTransaction(options.tx, 'enqueue', (db) => this.insertJobs(db, jobs, false));
    this.emitEnqueued(jobs, results);
    return results;
  }

  async enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }> {
    return this.inTransaction(undefined, 'enqueue', async (db) => {
      const [inserted] = await this.insertJobs(db, [job], this.prepare);
      if (!inserted!.created) return { created: false as const, id: inserted!.id };
      const now = this.clock.now();
      const { rows } = await q<PgJobRow>(
        db,
        `UPDATE ${this.S}.jobs SET state = 'running', started_at = $1, lease_token = gen_random_uuid()::text, lease_worker = $2,
           lease_expires_at = $3, lease_recovered = false WHERE id = $4 RETURNING *`,
        [now, lease.workerId, now + lease.leaseMs, job.id],
      );
      return { created: true as const, job: pgRowToClaimed(rows[0]!) };
    });
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    // settle_and_claim() with no outcomes: the claim and the next delayed job's time in one round trip.
    const { claimed } = await this.run('claim', (db) => this.settleAndClaim(db, [], request));
    return claimed ?? { jobs: [], nextRunAt: null };
  }

  async settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult> {
    if (settlements.length === 0) return { applied: [], claimed: next ? await this.claim(next) : null };
    const { applied, claimed } = await this.run('settle', (db) => this.settleAndClaim(db, settlements, next));
    // Only once the outcomes are committed: a failed call changed nothing, and the worker sends them again.
    for (const row of applied) {
      if (!row.fresh) continue;
      if (row.kind === 'retry') this.emit({ type: 'enqueued', queue: row.queue, runAt: row.run_at });
      else this.emit({ type: 'settled', id: row.id, state: settledStates[row.kind] });
    }
    const appliedIds = new Set(applied.map((row) => row.id));
    return { applied: settlements.map((settlement) => appliedIds.has(settlement.id)), claimed };
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number): Promise<LeaseStatus[]> {
    if (leases.length === 0) return [];
    const { rows } = await this.run('renewLeases', (db) =>
      q<{ id: string; cancel_requested: boolean }>(
        db,
        // Rows are locked in id order, as settle_and_claim() locks them: a heartbeat and a
        // settle of the same jobs on two connections never wait on each other in a cycle.
        `WITH l AS (SELECT * FROM unnest($2::uuid[], $3::text[]) AS l(id, token)),
         locked AS (SELECT l.* FROM ${this.S}.jobs j JOIN l ON j.id = l.id AND j.lease_token = l.token ORDER BY j.id FOR UPDATE OF j)
         UPDATE ${this.S}.jobs j SET lease_expires_at = $1
           FROM locked l
          WHERE j.id = l.id AND (j.state = 'running' OR j.failed_hook = 'pending') AND j.lease_token = l.token
          RETURNING j.id, j.cancel_requested`,
        [this.clock.now() + leaseMs, leases.map((lease) => lease.id), leases.map((lease) => lease.token)],
      ),
    );
    const held = new Map(rows.map((row) => [row.id, row.cancel_requested]));
    return leases.map(({ id }) => ({ id, held: held.has(id), cancelRequested: held.get(id) ?? false }));
  }

  async recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void> {
    const { rowCount } = await this.run('recordProgress', (db) =>
      q(
        db,
        `UPDATE ${this.S}.jobs SET progress = $3::jsonb,
           progress_history = CASE WHEN jsonb_array_length(progress_history) >= $4 THEN (progress_history - 0) || jsonb_build_array($3::jsonb)
                                   ELSE progress_history || jsonb_build_array($3::jsonb) END
         WHERE id = $1 AND state = 'running' AND lease_token = $2`,
        [lease.id, lease.token, JSON.stringify(progress), recordLimits.maxProgressHistory],
      ),
    );
    if (rowCount === 0) throw new LeaseLostError(lease.id);
  }

  async appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void> {
    const { rowCount } = await this.run('appendLog', (db) =>
      q(
        db,
        `UPDATE ${this.S}.jobs SET logs = CASE WHEN jsonb_array_length(logs) >= $4 THEN (logs - 0) || jsonb_build_array($3::jsonb)
                                              ELSE logs || jsonb_build_array($3::jsonb) END
         WHERE id = $1 AND state = 'running' AND lease_token = $2`,
        [lease.id, lease.token, JSON.stringify(entry), recordLimits.maxLogEntries],
      ),
    );
    if (rowCount === 0) throw new LeaseLostError(lease.id);
  }

  async get(id: string): Promise<JobRecord | null> {
    if (!isUuid(id)) return null;
    const { rows } = await this.run('get', (db) => q<PgJobRow>(db, `SELECT * FROM ${this.S}.jobs WHERE id = $1`, [id]));
    return rows[0] ? pgRowToRecord(rows[0]) : null;
  }

  async findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]> {
    // uuid sorts by its bytes as text does by hex digits, so a prefix is a range.
    const low = `${prefix}${'00000000-0000-0000-0000-000000000000'.slice(prefix.length)}`;
    const high = `${prefix}${'ffffffff-ffff-ffff-ffff-ffffffffffff'.slice(prefix.length)}`;
    if (!isUuid(low) || !isUuid(high)) return [];
    const { rows } = await this.run('findByIdPrefix', (db) =>
      q<PgJobRow>(db, `SELECT * FROM ${this.S}.jobs WHERE id BETWEEN $1 AND $2 ORDER BY id LIMIT $3`, [low, high, limit]),
    );
    return rows.map(pgRowToRecord);
  }

  async list(filter: ListFilter): Promise<JobPage> {
    const limit = pageSize(filter.limit);
    const after = listCursor.decode(filter.cursor);
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (value: unknown) => {
      values.push(value);
      return `$${values.length}`;
    };
    if (filter.state !== undefined) where.push(`state = ANY (${param(typeof filter.state === 'string' ? [filter.state] : [...filter.state])}::text[])`);
    if (filter.queue !== undefined) where.push(`queue = ${param(filter.queue)}`);
    if (filter.name !== undefined) where.push(`name = ${param(filter.name)}`);
    if (after !== null) where.push(`id < ${param(after)}`);
    await this.promoteDue();
    const { rows } = await this.run('list', (db) =>
      q<PgJobRow>(db, `SELECT * FROM ${this.S}.jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${param(limit + 1)}`, values),
    );
    const page = rows.slice(0, limit).map(pgRowToRecord);
    return { jobs: page, nextCursor: rows.length > limit ? listCursor.encode(page.at(-1)!.id) : null };
  }

  async cancel(id: string): Promise<CancelResult> {
    if (!isUuid(id)) return { outcome: 'not-found' };
    const now = this.clock.now();
    const result = await this.inTransaction(undefined, 'cancel', async (db): Promise<CancelResult> => {
      const { rows } = await q<PgJobRow>(db, `SELECT * FROM ${this.S}.jobs WHERE id = $1 FOR UPDATE`, [id]);
      const row = rows[0];
      if (!row) return { outcome: 'not-found' };
      if (terminalStates.includes(row.state)) return { outcome: 'already-finished', job: pgRowToRecord(row) };
      if (row.state === 'running') {
        const updated = await q<PgJobRow>(db, `UPDATE ${this.S}.jobs SET cancel_requested = true WHERE id = $1 RETURNING *`, [id]);
        // Tells the worker that runs it, wherever it is, at once.
        await q(db, 'SELECT pg_notify($1, $2)', [this.channel, `c:${id}`]);
        return { outcome: 'cancel-requested', job: pgRowToRecord(updated.rows[0]!) };
      }
      const updated = await q<PgJobRow>(
        db,
        `UPDATE ${this.S}.jobs SET state = 'cancelled', finished_at = $2,
           expires_at = CASE WHEN keep_failed_ms IS NULL THEN NULL ELSE $2 + keep_failed_ms END WHERE id = $1 RETURNING *`,
        [id, now],
      );
      await q(db, `UPDATE ${this.S}.queues SET last_processed_at = $2 WHERE name = $1`, [row.queue, now]);
      return { outcome: 'cancelled', job: pgRowToRecord(updated.rows[0]!) };
    });
    if (result.outcome === 'cancel-requested') this.emit({ type: 'cancel-requested', id });
    if (result.outcome === 'cancelled') this.emit({ type: 'settled', id, state: 'cancelled' });
    return result;
  }

  async retry(id: string): Promise<JobRecord> {
    const record = await this.inTransaction(undefined, 'retry', async (db) => {
      const { rows } = isUuid(id) ? await q<PgJobRow>(db, `SELECT * FROM ${this.S}.jobs WHERE id = $1 FOR UPDATE`, [id]) : { rows: [] };
      const row = rows[0];
      if (!row) throw new InvalidStateError(id, 'missing', 'retry');
      if (row.state !== 'failed' && row.state !== 'cancelled') throw new InvalidStateError(id, row.state, 'retry');
      if (row.failed_hook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'retry');
      const clash = row.key === null ? [] : (await q(db, `SELECT 1 FROM ${this.S}.jobs WHERE name = $1 AND key = $2 AND state IN ${activeStates}`, [row.name, row.key])).rows;
      if (clash.length > 0) throw new InvalidStateError(id, `${row.state}, and its key "${row.key}" is held by another active job`, 'retry');
      const updated = await q<PgJobRow>(
        db,
        `UPDATE ${this.S}.jobs SET state = 'queued', attempts = 0, crashes = 0, run_at = $2, finished_at = NULL, expires_at = NULL,
           cancel_requested = false, failed_hook = NULL WHERE id = $1 RETURNING *`,
        [id, this.clock.now()],
      );
      // An UPDATE fires no insert trigger: wake idle workers here.
      await q(db, 'SELECT pg_notify($1, $2)', [this.channel, `q:${row.queue}`]);
      return pgRowToRecord(updated.rows[0]!);
    });
    this.emit({ type: 'enqueued', queue: record.queue, runAt: record.runAt });
    return record;
  }

  async delete(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    return this.inTransaction(undefined, 'delete', async (db) => {
      const { rows } = await q<{ state: JobState; failed_hook: FailedHookState }>(
        db,
        `SELECT state, failed_hook FROM ${this.S}.jobs WHERE id = $1 FOR UPDATE`,
        [id],
      );
      if (!rows[0]) return false;
      if (rows[0].state === 'running') throw new InvalidStateError(id, 'running', 'delete (cancel it first)');
      if (rows[0].failed_hook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'delete');
      await q(db, `DELETE FROM ${this.S}.jobs WHERE id = $1`, [id]);
      return true;
    });
  }

  async prune(request: PruneRequest): Promise<number> {
    const now = this.clock.now();
    return this.run('prune', async (db) => {
      let removed = 0;
      if (request.finishedBy !== undefined) {
        const result = await q(
          db,
          `DELETE FROM ${this.S}.jobs WHERE state = ANY ($1::text[]) AND state IN ('completed','failed','cancelled') AND finished_at <= $2
             AND failed_hook IS DISTINCT FROM 'pending'`,
          [[...(request.states ?? terminalStates)], request.finishedBy],
        );
        removed += result.rowCount ?? 0;
      }
      if (request.expired) {
        // A job whose failed hook is pending stays until the hook has run.
        const result = await q(
          db,
          `DELETE FROM ${this.S}.jobs WHERE expires_at <= $1 AND state IN ('completed','failed','cancelled') AND failed_hook IS DISTINCT FROM 'pending'`,
          [now],
        );
        removed += result.rowCount ?? 0;
      }
      await q(db, `DELETE FROM ${this.S}.counts WHERE bucket <= $1`, [now - statsWindowMs]);
      return removed;
    });
  }

  async stats(): Promise<BackendStats> {
    await this.promoteDue();
    const now = this.clock.now();
    return this.run('stats', async (db) => {
      const counts = await q<{ queue: string; state: JobState; count: number }>(
        db,
        `SELECT queue, state, count(*)::int AS count FROM ${this.S}.jobs GROUP BY state, queue`,
      );
      const queues = await q<{ name: string; paused: boolean; last_processed_at: number | null }>(
        db,
        `SELECT name, paused, last_processed_at FROM ${this.S}.queues`,
      );
      const buckets = await q<BucketCount>(
        db,
        `SELECT queue, bucket, sum(completed)::int AS completed, sum(failed)::int AS failed FROM ${this.S}.counts
          WHERE bucket > $1 GROUP BY queue, bucket`,
        [now - statsWindowMs],
      );
      return buildStats(
        now,
        counts.rows,
        queues.rows.map((row) => ({ queue: row.name, paused: row.paused, lastProcessedAt: row.last_processed_at })),
        buckets.rows,
      );
    });
  }

  async pause(queue: string): Promise<void> {
    await this.run('pause', (db) =>
      q(db, `INSERT INTO ${this.S}.queues (name, paused) VALUES ($1, true) ON CONFLICT (name) DO UPDATE SET paused = true`, [queue]),
    );
  }

  async resume(queue: string): Promise<void> {
    await this.run('resume', (db) =>
      q(
        db,
        `WITH r AS (INSERT INTO ${this.S}.queues (name, paused) VALUES ($1, false) ON CONFLICT (name) DO UPDATE SET paused = false)
         SELECT pg_notify($2, 'q:' || $1::text)`,
        [queue, this.channel],
      ),
    );
    this.emit({ type: 'resumed', queue });
  }

  async upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord> {
    const specText = canonicalJson(input.spec);
    return this.inTransaction(undefined, 'upsertSchedule', async (db) => {
      // Serialises concurrent registrations of one id, so "unchanged" is judged against the latest row.
      await q(db, 'SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.schema}:schedule:${input.id}`]);
      const { rows } = await q<PgScheduleRow & { spec_text: string }>(db, `SELECT * FROM ${this.S}.schedules WHERE id = $1`, [input.id]);
      const existing = rows[0];
      if (existing && existing.spec_text === specText) {
        if (input.enabled === undefined || existing.enabled === input.enabled) return pgRowToSchedule(existing);
        const updated = await q<PgScheduleRow>(
          db,
          `UPDATE ${this.S}.schedules SET enabled = $2, next_run_at = $3, updated_at = $4 WHERE id = $1 RETURNING *`,
          [input.id, input.enabled, input.enabled ? input.nextRunAt : existing.next_run_at, input.now],
        );
        return pgRowToSchedule(updated.rows[0]!);
      }
      const enabled = input.enabled ?? existing?.enabled ?? true;
      const upserted = await q<PgScheduleRow>(
        db,
        `INSERT INTO ${this.S}.schedules (id, spec, spec_text, enabled, next_run_at, created_at, updated_at)
         VALUES ($1, $2::jsonb, $6::text, $3, $4, $5, $5)
         ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, spec_text = excluded.spec_text, enabled = excluded.enabled,
           next_run_at = excluded.next_run_at, updated_at = excluded.updated_at
         RETURNING *`,
        [input.id, specText, enabled, input.nextRunAt, input.now, specText],
      );
      return pgRowToSchedule(upserted.rows[0]!);
    });
  }

  async getSchedule(id: string): Promise<ScheduleRecord | null> {
    const { rows } = await this.run('getSchedule', (db) => q<PgScheduleRow>(db, `SELECT * FROM ${this.S}.schedules WHERE id = $1`, [id]));
    return rows[0] ? pgRowToSchedule(rows[0]) : null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const { rows } = await this.run('listSchedules', (db) => q<PgScheduleRow>(db, `SELECT * FROM ${this.S}.schedules ORDER BY id`));
    return rows.map(pgRowToSchedule);
  }

  async removeSchedule(id: string): Promise<boolean> {
    const { rowCount } = await this.run('removeSchedule', (db) => q(db, `DELETE FROM ${this.S}.schedules WHERE id = $1`, [id]));
    return (rowCount ?? 0) > 0;
  }

  async setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null> {
    const { rows } = await this.run('setScheduleEnabled', (db) =>
      q<PgScheduleRow>(
        db,
        `WITH current AS (SELECT * FROM ${this.S}.schedules WHERE id = $1 FOR UPDATE),
              changed AS (UPDATE ${this.S}.schedules s SET enabled = $2, next_run_at = CASE WHEN $2 THEN $3 ELSE s.next_run_at END, updated_at = $4
                          FROM current WHERE s.id = current.id AND current.enabled <> $2 RETURNING s.*)
         SELECT * FROM changed UNION ALL SELECT * FROM current WHERE NOT EXISTS (SELECT 1 FROM changed)`,
        [id, enabled, nextRunAt, this.clock.now()],
      ),
    );
    return rows[0] ? pgRowToSchedule(rows[0]) : null;
  }

  async fireSchedule(tick: ScheduleTick): Promise<FireResult> {
    let results: EnqueueResult[] = [];
    const outcome = await this.inTransaction(undefined, 'fireSchedule', async (db): Promise<FireResult> => {
      // The compare-and-set: only the scheduler that still sees this fire time as next gets the row.
      const { rows } = await q<PgScheduleRow>(
        db,
        `SELECT * FROM ${this.S}.schedules WHERE id = $1 AND enabled AND next_run_at = $2 FOR UPDATE SKIP LOCKED`,
        [tick.id, tick.expectedNextRunAt],
      );
      const row = rows[0];
      if (!row) return { outcome: 'lost' };
      const now = this.clock.now();
      if (tick.overlap === 'skip' && row.last_job_id !== null) {
        const active = await q(db, `SELECT 1 FROM ${this.S}.jobs WHERE id = $1 AND state IN ${activeStates}`, [row.last_job_id]);
        if (active.rows.length > 0) {
          await q(db, `UPDATE ${this.S}.schedules SET next_run_at = $2, updated_at = $3 WHERE id = $1`, [tick.id, tick.nextRunAt, now]);
          return { outcome: 'skipped-overlap' };
        }
      }
      results = tick.jobs.length > 0 ? await this.insertJobs(db, tick.jobs, this.prepare) : [];
      await q(
        db,
        `UPDATE ${this.S}.schedules SET next_run_at = $2, last_run_at = coalesce($3, last_run_at), last_job_id = coalesce($4, last_job_id), updated_at = $5 WHERE id = $1`,
        [tick.id, tick.nextRunAt, tick.firedAt, results.at(-1)?.id ?? null, now],
      );
      return { outcome: 'fired', jobIds: results.map((result) => result.id) };
    });
    if (outcome.outcome === 'fired') this.emitEnqueued(tick.jobs, results);
    return outcome;
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private async migrate(): Promise<void> {
    if (!this.migrateOnOpen) {
      await this.run('open', (db) => q(db, 'SELECT 1'));
      return;
    }
    await this.inTransaction(undefined, 'migrate', async (db) => {
      // Ten processes starting at once: the first migrates, the rest wait here and find nothing to do.
      await q(db, 'SELECT pg_advisory_xact_lock(hashtext($1))', [`jobsmith:migrate:${this.schema}`]);
      await q(db, `CREATE SCHEMA IF NOT EXISTS ${this.S}`);
      await q(db, `CREATE TABLE IF NOT EXISTS ${this.S}.migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`);
      const { rows } = await q<{ version: number }>(db, `SELECT version FROM ${this.S}.migrations`);
      const applied = new Set(rows.map((row) => row.version));
      for (const migration of postgresMigrations(this.S, this.channel)) {
        if (applied.has(migration.version)) continue;
        await q(db, migration.sql);
        await q(db, `INSERT INTO ${this.S}.migrations (version, applied_at) VALUES ($1, $2)`, [migration.version, this.clock.now()]);
      }
    });
  }

  /** Inserts jobs in one statement; a key held by an active job returns that job instead. */
  private async insertJobs(db: PgQueryable, jobs: readonly NewJob[], prepare: boolean): Promise<EnqueueResult[]> {
    const now = this.clock.now();
    const column = <T>(pick: (job: NewJob) => T) => jobs.map(pick);
    const { rows } = await q<{ id: string }>(
      db,
      this.insertStatement.text,
      [
        column((job) => job.id),
        column((job) => job.name),
        column((job) => job.queue),
        column((job) => (job.runAt > now ? 'scheduled' : 'queued')),
        column((job) => job.payload),
        column((job) => JSON.stringify(job.metadata)),
        column((job) => job.priority),
        column((job) => job.key),
        column((job) => job.maxAttempts),
        column((job) => (job.backoff === null ? null : JSON.stringify(job.backoff))),
        column((job) => job.timeoutMs),
        column((job) => job.keepCompletedMs),
        column((job) => job.keepFailedMs),
        column((job) => job.runAt),
        column((job) => job.createdAt),
      ],
      prepare ? this.insertStatement.name : undefined,
    );
    const inserted = new Set(rows.map((row) => row.id));
    const results: EnqueueResult[] = [];
    const batchKeys = new Map<string, string>();
    for (const job of jobs) {
      const keyOf = `${job.name}\u0000${job.key}`;
      if (inserted.has(job.id)) {
        if (job.key !== null) batchKeys.set(keyOf, job.id);
        results.push({ id: job.id, created: true });
        continue;
      }
      if (job.key === null) throw new InvalidStateError(job.id, 'a duplicate id', 'enqueue');
      const existing =
        batchKeys.get(keyOf) ??
        (await q<{ id: string }>(db, `SELECT id FROM ${this.S}.jobs WHERE name = $1 AND key = $2 AND state IN ${activeStates}`, [job.name, job.key])).rows[0]?.id;
      if (existing === undefined) throw new InvalidStateError(job.id, `its key "${job.key}" was held and released while enqueueing`, 'enqueue');
      results.push({ id: existing, created: false });
    }
    return results;
  }

  /**
   * Writes the outcomes and claims the next jobs in one round trip to settle_and_claim()
   * (migration 3), so in one commit: if the claim fails, the outcomes roll back with it.
   * Each outcome is fenced by its lease token; the applied ones come back to be reported.
   */
  private async settleAndClaim(
    db: PgQueryable,
    settlements: readonly Settlement[],
    next: ClaimRequest | undefined,
  ): Promise<{ applied: AppliedSettlement[]; claimed: ClaimResult | null }> {
    const now = this.clock.now();
    const input = settlements.map((settlement) => ({
      id: settlement.id,
      token: settlement.token,
      kind: settlement.kind,
      result: settlement.kind === 'complete' ? settlement.result : null,
      error: settlement.kind === 'complete' || settlement.kind === 'hook-done' ? null : settlement.error,
      run_at: settlement.kind === 'retry' ? settlement.runAt : null,
      count_attempt: settlement.kind === 'complete' || ((settlement.kind === 'retry' || settlement.kind === 'fail') && settlement.countAttempt),
      expires_at: settlement.kind === 'retry' || settlement.kind === 'hook-done' ? null : settlement.expiresAt,
      hook_pending: settlement.kind === 'fail' && settlement.hookPending,
    }));
    const { rows } = await q<{ applied: AppliedSettlement[]; claimed: PgJobRow[] | null; next_run_at: number | null }>(
      db,
      this.settleStatement.text,
      [JSON.stringify(input), now, bucketOf(now), next?.queues ?? null, next?.names ?? null, next?.limit ?? null, next?.workerId ?? null, next?.leaseMs ?? null],
      this.prepare ? this.settleStatement.name : undefined,
    );
    const { applied, claimed, next_run_at } = rows[0]!;
    if (!next || claimed === null) return { applied, claimed: null };
    claimed.sort(claimOrder);
    return { applied, claimed: { jobs: claimed.map(pgRowToClaimed), nextRunAt: next_run_at } };
  }

  private async promoteDue(): Promise<void> {
    await this.run('promote', (db) =>
      q(
        db,
        `UPDATE ${this.S}.jobs SET state = 'queued' WHERE id IN (SELECT id FROM ${this.S}.jobs WHERE state = 'scheduled' AND run_at <= $1
           ORDER BY run_at LIMIT 10000 FOR UPDATE SKIP LOCKED)`,
        [this.clock.now()],
      ),
    );
  }

  /** Runs `fn` on the pool; driver failures become `StoreError` (transient where a retry may help). */
  private async run<T>(operation: string, fn: (db: PgQueryable) => Promise<T>): Promise<T> {
    await this.assertUsable(operation);
    try {
      return await fn(this.pool);
    } catch (error) {
      throw toStoreError(operation, error, this.schema);
    }
  }

  /** Runs `fn` in a transaction: the caller's own when `tx` is given (it commits or rolls back), else one of ours. */
  private async inTransaction<T>(tx: unknown, operation: string, fn: (db: PgQueryable) => Promise<T>): Promise<T> {
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

  private async assertUsable(operation: string): Promise<void> {
    if (this.closed) throw new ClosedError('The PostgreSQL backend');
    if (operation !== 'migrate' && operation !== 'open') await this.open();
  }

  private async listenConnection(): Promise<pg.Client> {
    const { Client } = pgDriver();
    const client = this.connectionString ? new Client({ connectionString: this.connectionString }) : new Client(this.pool.options);
    await client.connect();
    return client;
  }

  private onNotification(payload: string): void {
    if (payload.startsWith('q:')) this.emit({ type: 'enqueued', queue: payload.slice(2), runAt: this.clock.now() });
    else if (payload.startsWith('c:')) this.emit({ type: 'cancel-requested', id: payload.slice(2) });
  }

  private emitEnqueued(jobs: readonly NewJob[], results: readonly EnqueueResult[]): void {
    for (const event of enqueuedEvents(jobs, results)) this.emit(event);
  }

  private emit(event: BackendEvent): void {
    this.listeners.emit(event);
  }
}

/** Runs one statement; with a `name`, as a prepared statement that each connection parses and plans once. */
function q<R extends pg.QueryResultRow = pg.QueryResultRow>(db: PgQueryable, text: string, values?: unknown[], name?: string): Promise<pg.QueryResult<R>> {
  return db.query<R>({ text, ...(values ? { values } : {}), ...(name === undefined ? {} : { name }), types: int8AsNumber });
}

function isQueryable(value: unknown): value is PgQueryable {
  return typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function';
}

function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
