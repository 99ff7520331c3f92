import type {
  ClaimedJob,
  ClaimRequest,
  ClaimResult,
  EnqueueCallOptions,
  EnqueueResult,
  JobQueue,
  LeaseRef,
  LeaseRequest,
  LeaseStatus,
  NewJob,
  Settlement,
  SettleResult,
} from '../../contract/job-queue.ts';
import type { PresenceRenewal } from '../../contract/worker-registry.ts';
import { followUpsOf, sameStoredSettings } from '../../contract/job-queue.ts';
import { bucketOf } from '../../contract/stats-window.ts';
import { InvalidStateError, LeaseLostError, StoreError } from '../../domain/errors.ts';
import type { JobLogEntry, JobProgress } from '../../domain/job-record.ts';
import { recordLimits } from '../../domain/job-record.ts';
import type { JobState } from '../../domain/job-state.ts';
import { type PgQueryable, type PostgresConnection, loadStatements, q } from './postgres-connection.ts';
import { numberArrayLiteral, textArrayLiteral } from './postgres-array-literals.ts';
import { type HotStatement, hotStatement } from './postgres-hot-statements.ts';
import { type PgJobRow, claimOrder, pgRowFromClaimedValues, pgRowToClaimed } from './postgres-rows.ts';
import { registrationArguments } from './postgres-workers.ts';

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

const queueStatements = ['insertJobs', 'insertKeylessJobs', 'insertSharedJobs', 'storedJobsById', 'settleAndClaim', 'findActiveJobByKey', 'startJob', 'renewLeases', 'recordProgress', 'appendLog'] as const;

/** The JobQueue role: enqueue, claim and settle, and an attempt's writes under its lease. */
export class PostgresQueue implements JobQueue {
  private readonly sql: Record<(typeof queueStatements)[number], string>;
  private readonly insertStatement: HotStatement;
  private readonly insertKeylessStatement: HotStatement;
  private readonly insertSharedStatement: HotStatement;
  private readonly settleStatement: HotStatement;
  /**
   * Queues whose row an enqueue of this backend committed (a queue's row is never deleted):
   * a keyless batch into these needs no queue rows written (`insertKeylessJobs`). Added only
   * after the enqueue's own statement committed, never inside a caller's transaction.
   */
  private readonly recordedQueues = new Set<string>();

  constructor(private readonly connection: PostgresConnection) {
    this.sql = loadStatements(new URL('./sql/queue.sql', import.meta.url), queueStatements, connection);
    this.insertStatement = hotStatement('insert', this.sql.insertJobs);
    this.insertKeylessStatement = hotStatement('insert_keyless', this.sql.insertKeylessJobs);
    this.insertSharedStatement = hotStatement('insert_shared', this.sql.insertSharedJobs);
    this.settleStatement = hotStatement('settle_and_claim', this.sql.settleAndClaim);
  }

  async enqueue(jobs: readonly NewJob[], options: EnqueueCallOptions = {}): Promise<EnqueueResult[]> {
    if (jobs.length === 0) return [];
    // One statement, so one round trip and one commit: atomic without BEGIN/COMMIT around it.
    const results =
      options.tx === undefined
        ? await this.connection.run('enqueue', (db) => this.insertOrRecognize(db, jobs, options.resent === true))
        : await this.connection.inTransaction(options.tx, 'enqueue', (db) => this.insertJobs(db, jobs, false));
    if (options.tx === undefined) for (const [index, job] of jobs.entries()) if (results[index]!.created) this.recordedQueues.add(job.queue);
    this.connection.emitEnqueued(jobs, results);
    return results;
  }

  async enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }> {
    return this.connection.inTransaction(undefined, 'enqueue', async (db) => {
      const [inserted] = await this.insertJobs(db, [job], this.connection.prepare);
      if (!inserted!.created) return { created: false as const, id: inserted!.id };
      const now = this.connection.clock.now();
      const { rows } = await q<PgJobRow>(db, this.sql.startJob, [now, lease.workerId, now + lease.leaseMs, job.id]);
      return { created: true as const, job: pgRowToClaimed(rows[0]!) };
    });
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    // settle_and_claim() with no outcomes: the claim and the next delayed job's time in one round trip.
    const { claimed } = await this.connection.run('claim', (db) => this.settleAndClaim(db, [], request));
    return claimed ?? { jobs: [], nextRunAt: null };
  }

  async settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult> {
    if (settlements.length === 0) return { applied: [], claimed: next ? await this.claim(next) : null };
    const { applied, claimed, added } = settlements.some((settlement) => followUpsOf(settlement).length > 0)
      ? await this.connection.inTransaction(undefined, 'settle', (db) => this.settleWithFollowUps(db, settlements, next))
      : { ...(await this.connection.run('settle', (db) => this.settleAndClaim(db, settlements, next))), added: null };
    // Only once the outcomes are committed: a failed call changed nothing, and the worker sends them again.
    if (added) this.connection.emitEnqueued(added.jobs, added.results);
    for (const row of applied) {
      if (!row.fresh) continue;
      if (row.kind === 'retry') this.connection.emit({ type: 'enqueued', queue: row.queue, runAt: row.run_at });
      else this.connection.emit({ type: 'settled', id: row.id, state: settledStates[row.kind] });
    }
    const appliedIds = new Set(applied.map((row) => row.id));
    return { applied: settlements.map((settlement) => appliedIds.has(settlement.id)), claimed };
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number, presence?: PresenceRenewal): Promise<LeaseStatus[]> {
    if (leases.length === 0 && !presence) return [];
    const now = this.connection.clock.now();
    const { rows } = await this.connection.run('renewLeases', (db) =>
      q<{ id: string | null; cancel_requested: boolean | null }>(db, this.sql.renewLeases, [
        now + leaseMs,
        leases.map((lease) => lease.id),
        leases.map((lease) => lease.token),
        ...(presence ? registrationArguments(presence.worker, now, presence.ttlMs) : new Array<null>(10).fill(null)),
      ]),
    );
    // The registration's row has no id.
    const held = new Map(rows.flatMap((row) => (row.id === null ? [] : [[row.id, row.cancel_requested === true] as const])));
    return leases.map(({ id }) => ({ id, held: held.has(id), cancelRequested: held.get(id) ?? false }));
  }

  async recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void> {
    const { rowCount } = await this.connection.run('recordProgress', (db) =>
      q(db, this.sql.recordProgress, [lease.id, lease.token, JSON.stringify(progress), recordLimits.maxProgressHistory]),
    );
    if (rowCount === 0) throw new LeaseLostError(lease.id);
  }

  async appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void> {
    const { rowCount } = await this.connection.run('appendLog', (db) =>
      q(db, this.sql.appendLog, [lease.id, lease.token, JSON.stringify(entry), recordLimits.maxLogEntries]),
    );
    if (rowCount === 0) throw new LeaseLostError(lease.id);
  }

  /**
   * Inserts jobs outside any transaction of the caller's, and answers a batch sent again as it
   * was answered the first time. The INSERT is one statement, so it committed whole or not at
   * all; when its reply is lost (the connection dropped after the commit), the caller sees a
   * transient error and may send the same jobs again (the client does, see `enqueueRetries`).
   * Their ids are then taken, and the statement fails on the primary key. If every job of the
   * batch is stored under its id with its name and creation time, or is a keyed job that
   * left no row (its key turned it away the first time), the batch is that first call: each
   * stored job answers `created: true` and a turned-away one names the key's holder again.
   * Any other taken id is a real clash and fails the call, which wrote nothing. Checked only
   * when the INSERT fails, so an ordinary enqueue costs nothing more.
   *
   * A job that ran and finished meanwhile has moved to `finished_jobs`, where the primary key
   * of `jobs` does not reach, so its id would be taken again without a conflict. A call sent
   * again (`resent`) therefore looks for its ids in both tables before it inserts.
   */
  private async insertOrRecognize(db: PgQueryable, jobs: readonly NewJob[], resent: boolean): Promise<EnqueueResult[]> {
    if (resent) {
      const earlier = await this.recognizeStored(db, jobs);
      if (earlier !== null) return earlier;
    }
    try {
      return await this.insertJobs(db, jobs, this.connection.prepare);
    } catch (error) {
      if ((error as { code?: string; constraint?: string }).code !== '23505' || (error as { constraint?: string }).constraint !== 'jobs_pkey') throw error;
      const earlier = await this.recognizeStored(db, jobs, error);
      if (earlier === null) throw error;
      return earlier;
    }
  }

  /**
   * The answers of an earlier call that stored `jobs`, or null when none of their ids is
   * stored. Throws `StoreError` when some id is stored under another job (a real clash).
   */
  private async recognizeStored(db: PgQueryable, jobs: readonly NewJob[], cause?: unknown): Promise<EnqueueResult[] | null> {
    const { rows } = await q<{ id: string; name: string; created_at: number }>(db, this.sql.storedJobsById, [jobs.map((job) => job.id)]);
    if (rows.length === 0) return null;
    const stored = new Map(rows.map((row) => [row.id, row]));
    const clash = jobs.find((job) => {
      const row = stored.get(job.id);
      return row === undefined ? job.key === null : row.name !== job.name || row.created_at !== job.createdAt;
    });
    if (clash !== undefined) throw new StoreError(`Job "${clash.id}" was not stored: its id is taken by another job`, { details: { id: clash.id }, cause });
    const results: EnqueueResult[] = [];
    for (const job of jobs) {
      if (stored.has(job.id)) {
        results.push({ id: job.id, created: true });
        continue;
      }
      const holder = (await q<{ id: string }>(db, this.sql.findActiveJobByKey, [job.name, job.key])).rows[0]?.id;
      if (holder === undefined) throw new StoreError(`Job "${job.id}" was not stored and no job holds its key`, { details: { id: job.id }, cause });
      results.push({ id: holder, created: false });
    }
    return results;
  }

  /** Inserts jobs in one statement; a key held by an active job returns that job instead. */
  async insertJobs(db: PgQueryable, jobs: readonly NewJob[], prepare: boolean): Promise<EnqueueResult[]> {
    const now = this.connection.clock.now();
    const keyless = jobs.every((job) => job.key === null && this.recordedQueues.has(job.queue));
    // Alike keyless jobs bind their shared columns once (insertSharedJobs).
    const shared = keyless && jobs.every((job) => sameStoredSettings(jobs[0]!, job));
    const statement = shared ? this.insertSharedStatement : keyless ? this.insertKeylessStatement : this.insertStatement;
    const values = shared ? sharedInsertValues(jobs, now) : insertValues(jobs, now);
    const { rows } = await q<{ id: string }>(db, statement.text, values, prepare ? statement.name : undefined);
    // The plain INSERT stored every row, or failed.
    if (keyless) return jobs.map((job) => ({ id: job.id, created: true }));
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
      const existing = batchKeys.get(keyOf) ?? (await q<{ id: string }>(db, this.sql.findActiveJobByKey, [job.name, job.key])).rows[0]?.id;
      if (existing === undefined) throw new InvalidStateError(job.id, `its key "${job.key}" was held and released while enqueueing`, 'enqueue');
      results.push({ id: existing, created: false });
    }
    return results;
  }

  /**
   * Outcomes some of which carry follow-up jobs: settle_and_claim() and the follow-ups of the
   * outcomes it wrote afresh, in one transaction, so they commit (or roll back) together.
   */
  private async settleWithFollowUps(db: PgQueryable, settlements: readonly Settlement[], next: ClaimRequest | undefined) {
    const settled = await this.settleAndClaim(db, settlements, next);
    const fresh = new Set(settled.applied.flatMap((row) => (row.fresh ? [row.id] : [])));
    const jobs = settlements.flatMap((settlement) => (fresh.has(settlement.id) ? followUpsOf(settlement) : []));
    const results = jobs.length > 0 ? await this.insertJobs(db, jobs, false) : [];
    return { ...settled, added: { jobs, results } };
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
    const now = this.connection.clock.now();
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
    const { rows } = await q<{ applied: AppliedSettlement[]; claimed: unknown[][] | null; next_run_at: number | null }>(
      db,
      this.settleStatement.text,
      [JSON.stringify(input), now, bucketOf(now), next?.queues ?? null, next?.names ?? null, next?.limit ?? null, next?.workerId ?? null, next?.leaseMs ?? null],
      this.connection.prepare ? this.settleStatement.name : undefined,
    );
    const { applied, claimed, next_run_at } = rows[0]!;
    if (!next || claimed === null) return { applied, claimed: null };
    const claimedRows = claimed.map(pgRowFromClaimedValues).sort(claimOrder);
    return { applied, claimed: { jobs: claimedRows.map(pgRowToClaimed), nextRunAt: next_run_at } };
  }
}

/** The parameters of `insertJobs` and `insertKeylessJobs`: an array literal per column. */
function insertValues(jobs: readonly NewJob[], now: number): string[] {
  const texts = (pick: (job: NewJob) => string | null) => textArrayLiteral(jobs.map(pick));
  const numbers = (pick: (job: NewJob) => number | null) => numberArrayLiteral(jobs.map(pick));
  return [
    texts((job) => job.id),
    texts((job) => job.name),
    texts((job) => job.queue),
    texts((job) => (job.runAt > now ? 'scheduled' : 'queued')),
    texts((job) => job.payload),
    texts((job) => JSON.stringify(job.metadata)),
    numbers((job) => job.priority),
    texts((job) => job.key),
    numbers((job) => job.maxAttempts),
    texts((job) => (job.backoff === null ? null : JSON.stringify(job.backoff))),
    numbers((job) => job.timeoutMs),
    numbers((job) => job.keepCompletedMs),
    numbers((job) => job.keepFailedMs),
    numbers((job) => job.runAt),
    numbers((job) => job.createdAt),
  ];
}

/** The parameters of `insertSharedJobs`: ids, payloads and run times as arrays, the first job's other columns once. */
function sharedInsertValues(jobs: readonly NewJob[], now: number): Array<string | number | null> {
  const first = jobs[0]!;
  return [
    textArrayLiteral(jobs.map((job) => job.id)),
    textArrayLiteral(jobs.map((job) => job.payload)),
    numberArrayLiteral(jobs.map((job) => job.runAt)),
    first.name,
    first.queue,
    JSON.stringify(first.metadata),
    first.priority,
    first.maxAttempts,
    first.backoff === null ? null : JSON.stringify(first.backoff),
    first.timeoutMs,
    first.keepCompletedMs,
    first.keepFailedMs,
    now,
    first.createdAt,
  ];
}
