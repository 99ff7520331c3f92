import type { BackendListeners } from '../../contract/backend-listeners.ts';
import type { BackendStats, CancelResult, JobAdmin, JobPage, ListFilter, PruneRequest } from '../../contract/job-admin.ts';
import { listCursor, pageSize } from '../../contract/list-cursor.ts';
import { type BucketCount, bucketOf, buildStats, statsWindowMs, type WaitingForChildrenRow, type WaitingRow } from '../../contract/stats-window.ts';
import { InvalidStateError } from '../../domain/errors.ts';
import type { JobRecord } from '../../domain/job-record.ts';
import { hookPendingDescription } from '../../domain/job-record.ts';
import { type JobState, jobStates, terminalStates } from '../../domain/job-state.ts';
import type { RedisConnection } from './redis-backend.ts';
import { pairsToMap } from './redis-rows.ts';

/** The width of one priority's band of ready-set scores: 2^42 (lua/lib.lua's readyScore). */
const readyBand = 4398046511104;

/**
 * The administration role of the Redis backend: reads walk the state sets (`redis-keys.ts`)
 * and read jobs in pipelines; every change is one script call (`lua/`).
 */
export class RedisAdmin implements JobAdmin {
  constructor(
    private readonly connection: RedisConnection,
    private readonly listeners: BackendListeners,
  ) {}

  async get(id: string): Promise<JobRecord | null> {
    const [record] = await this.connection.records([id]);
    return record ?? null;
  }

  async findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]> {
    const { connection } = this;
    // Every job is in exactly one state's set (running jobs: the running set): the first `limit` of each, merged.
    const perState = await Promise.all(
      jobStates.map(async (state) =>
        state === 'running'
          ? (await this.runningIds('findByIdPrefix')).filter((id) => id.startsWith(prefix)).slice(0, limit)
          : connection.call('findByIdPrefix', () => connection.redis.zrangebylex(connection.keys.state(state), `[${prefix}`, `(${prefix}\xff`, 'LIMIT', 0, limit)),
      ),
    );
    const ids = perState.flat().sort().slice(0, limit);
    return (await connection.records(ids)).filter((record): record is JobRecord => record !== null);
  }

  async list(filter: ListFilter): Promise<JobPage> {
    const { connection } = this;
    const limit = pageSize(filter.limit);
    const after = listCursor.decode(filter.cursor);
    await this.promoteDue();
    const states = filter.state === undefined ? null : typeof filter.state === 'string' ? [filter.state] : [...filter.state];
    const page: JobRecord[] = [];
    let below = after;
    // Running jobs have no id-ordered set; their set (by lease expiry) holds one entry per
    // running job, so it is read once and ordered here.
    let running: Promise<string[]> | null = null;
    const newestBelow = async (state: JobState): Promise<string[]> => {
      if (state !== 'running') {
        return connection.call('list', () => connection.redis.zrevrangebylex(connection.keys.state(state), below === null ? '+' : `(${below}`, '-', 'LIMIT', 0, 200));
      }
      running ??= this.runningIds('list').then((ids) => ids.reverse());
      const bound = below;
      return (await running).filter((id) => bound === null || id < bound).slice(0, 200);
    };
    // Newest first, walking each state backwards in id order and merging; filters on queue
    // and name are applied as we go, in chunks so a selective filter does not read everything.
    for (;;) {
      const chunks = await Promise.all((states ?? jobStates).map(newestBelow));
      const ids = [...new Set(chunks.flat())].sort().reverse().slice(0, 200);
      if (ids.length === 0) break;
      const records = await connection.records(ids);
      for (const record of records) {
        if (!record) continue;
        if (filter.queue !== undefined && record.queue !== filter.queue) continue;
        if (filter.name !== undefined && record.name !== filter.name) continue;
        page.push(record);
        if (page.length > limit) break;
      }
      if (page.length > limit) break;
      below = ids.at(-1)!;
    }
    const jobs = page.slice(0, limit);
    return { jobs, nextCursor: page.length > limit ? listCursor.encode(jobs.at(-1)!.id) : null };
  }

  async cancel(id: string): Promise<CancelResult> {
    const outcome = (await this.connection.script('cancel', id, this.connection.clock.now())) as string;
    if (outcome === 'none') return { outcome: 'not-found' };
    const job = (await this.get(id))!;
    if (outcome === 'finished') return { outcome: 'already-finished', job };
    if (outcome === 'requested') {
      this.listeners.emit({ type: 'cancel-requested', id });
      return { outcome: 'cancel-requested', job };
    }
    this.listeners.emit({ type: 'settled', id, state: 'cancelled' });
    return { outcome: 'cancelled', job };
  }

  async retry(id: string): Promise<JobRecord> {
    const outcome = (await this.connection.script('retry', id, this.connection.clock.now())) as string;
    if (outcome === 'none') throw new InvalidStateError(id, 'missing', 'retry');
    if (outcome.startsWith('key:')) throw new InvalidStateError(id, `finished, and its key "${outcome.slice(4)}" is held by another active job`, 'retry');
    if (outcome === 'hook-pending') throw new InvalidStateError(id, hookPendingDescription, 'retry');
    if (outcome !== 'ok') throw new InvalidStateError(id, outcome, 'retry');
    const record = (await this.get(id))!;
    this.listeners.emit({ type: 'enqueued', queue: record.queue, runAt: record.runAt });
    return record;
  }

  async delete(id: string): Promise<boolean> {
    const outcome = (await this.connection.script('remove', id, this.connection.clock.now())) as string;
    if (outcome === 'running') throw new InvalidStateError(id, 'running', 'delete (cancel it first)');
    if (outcome === 'hook-pending') throw new InvalidStateError(id, hookPendingDescription, 'delete');
    return outcome === 'deleted';
  }

  async prune(request: PruneRequest): Promise<number> {
    const now = this.connection.clock.now();
    const states = request.states ?? terminalStates;
    return (await this.connection.script(
      'prune',
      now,
      request.finishedBy ?? '',
      request.expired ? '1' : '0',
      states.length,
      ...states,
      bucketOf(now - statsWindowMs),
    )) as number;
  }

  async stats(): Promise<BackendStats> {
    const { connection } = this;
    await this.promoteDue();
    const now = connection.clock.now();
    const queueFlags = pairsToMap(await connection.call('stats', () => connection.redis.hgetall(connection.keys.queues)));
    const last = pairsToMap(await connection.call('stats', () => connection.redis.hgetall(connection.keys.lastProcessed)));
    const pipeline = connection.redis.pipeline();
    const queues = [...queueFlags.keys()];
    for (const queue of queues) {
      pipeline.hgetall(connection.keys.count(queue));
      pipeline.hgetall(connection.keys.done(queue));
    }
    const replies = (await connection.call('stats', () => pipeline.exec())) ?? [];
    const counts: Array<{ queue: string; state: JobState; count: number }> = [];
    const buckets: BucketCount[] = [];
    const parents: WaitingForChildrenRow[] = [];
    queues.forEach((queue, index) => {
      const perState = (replies[index * 2]?.[1] ?? {}) as Record<string, string>;
      for (const state of jobStates) if (perState[state]) counts.push({ queue, state, count: Number(perState[state]) });
      // Kept beside the states by the scripts (lua/lib.lua, leftWaiting).
      if (perState.waitingForChildren) parents.push({ queue, count: Number(perState.waitingForChildren) });
      const done = (replies[index * 2 + 1]?.[1] ?? {}) as Record<string, string>;
      const byBucket = new Map<number, BucketCount>();
      for (const [field, value] of Object.entries(done)) {
        const bucket = Number(field.slice(2));
        const row = byBucket.get(bucket) ?? { queue, bucket, completed: 0, failed: 0 };
        if (field.startsWith('c:')) row.completed += Number(value);
        else row.failed += Number(value);
        byBucket.set(bucket, row);
      }
      buckets.push(...byBucket.values());
    });
    const waiting: WaitingRow[] = [];
    for (const queue of queues) {
      const runAt = await this.oldestQueued(queue);
      if (runAt !== null) waiting.push({ queue, runAt });
    }
    return buildStats(
      now,
      counts,
      queues.map((queue) => ({ queue, paused: queueFlags.get(queue) === '1', lastProcessedAt: last.has(queue) ? Number(last.get(queue)) : null })),
      buckets,
      waiting,
      parents,
    );
  }

  async pause(queue: string): Promise<void> {
    await this.connection.script('pause', queue, '1');
  }

  async resume(queue: string): Promise<void> {
    await this.connection.script('pause', queue, '0');
    this.listeners.emit({ type: 'resumed', queue });
  }

  /**
   * The earliest runAt in a queue's ready set. Its score is (1000 − priority) · 2^42 + runAt,
   * so runAt is ordered only within one priority: the first member of each priority band in
   * use is read, jumping from band to band (a few reads, however many jobs wait).
   */
  private async oldestQueued(queue: string): Promise<number | null> {
    const { connection } = this;
    let from = '-inf';
    let oldest: number | null = null;
    for (;;) {
      const [, score] = await connection.call('stats', () => connection.redis.zrangebyscore(connection.keys.ready(queue), from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1));
      if (score === undefined) return oldest;
      const band = Math.floor(Number(score) / readyBand);
      const runAt = Number(score) - band * readyBand;
      if (oldest === null || runAt < oldest) oldest = runAt;
      from = String((band + 1) * readyBand);
    }
  }

  private async promoteDue(): Promise<void> {
    await this.connection.script('promote', this.connection.clock.now());
  }

  /** Every running job's id, in id order. */
  private async runningIds(operation: string): Promise<string[]> {
    return (await this.connection.call(operation, () => this.connection.redis.zrange(this.connection.keys.running, '0', '-1'))).sort();
  }
}
