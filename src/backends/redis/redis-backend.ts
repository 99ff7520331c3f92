import type { BackendCapability } from '../../contract/capabilities.ts';
import type { Redis, RedisOptions } from 'ioredis';
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
import { BackendListeners } from '../../contract/backend-listeners.ts';
import { listCursor, pageSize } from '../../contract/list-cursor.ts';
import { canonicalJson } from '../../contract/schedule-spec-equality.ts';
import { type BucketCount, bucketOf, buildStats, statsWindowMs } from '../../contract/stats-window.ts';
import { type Clock, systemClock } from '../../domain/clock.ts';
import { ClosedError, InvalidOptionError, InvalidStateError, LeaseLostError, StoreError } from '../../domain/errors.ts';
import type { JobLogEntry, JobProgress, JobRecord } from '../../domain/job-record.ts';
import { hookPendingDescription, recordLimits } from '../../domain/job-record.ts';
import { newLeaseToken } from '../../domain/ids.ts';
import { type JobState, jobStates, terminalStates } from '../../domain/job-state.ts';
import { type RedisScriptName, redisScripts } from './redis-scripts.ts';
import { loadDriver } from '../load-driver.ts';
import { fieldsToRecord, flatToFields, pairsToMap, scheduleFromFields } from './redis-rows.ts';

export interface RedisBackendOptions {
  /** A `redis://` URL, or… */
  url?: string;
  /** …an ioredis connection you already have (Jobsmith duplicates it for pub/sub and does not close it). */
  redis?: Redis;
  /** Every key starts with `{prefix}:`; the braces make it a Cluster hash tag, so one prefix lives in one slot. @default 'jobsmith' */
  prefix?: string;
  /** Called with a loud warning, such as a `maxmemory-policy` that may evict jobs. @default process.emitWarning */
  onWarning?: (message: string) => void;
  clock?: Clock;
}

type ScriptCall = (key: string, ...args: Array<string | number>) => Promise<unknown>;

/** Jobs per enqueue script call: bounds how long one call holds Redis, and what its EXISTS unpacks at once. */
const enqueueChunk = 1000;

/**
 * The Redis backend: every state move is one Lua script, ordering comes from sorted sets,
 * idle workers wake through pub/sub, and every attempt's writes are fenced by its lease
 * token inside the script that makes them.
 */
export class RedisBackend implements Backend {
  /** What this backend can do beyond the three roles (see `BackendCapability`). */
  readonly capabilities: ReadonlySet<BackendCapability> = new Set<BackendCapability>(['change-events']);
  readonly kind = 'redis';
  readonly prefix: string;
  private readonly P: string;
  private readonly clock: Clock;
  private readonly redis: Redis;
  private readonly ownsConnection: boolean;
  private readonly onWarning: (message: string) => void;
  /** The server's host:port (or socket path), never the password: every error names it. */
  private readonly address: string;
  /** Why the connection last failed; ioredis's own rejection then says only "Connection is closed.". */
  private lastConnectionError: unknown = null;
  private subscriber: Redis | null = null;
  private opening: Promise<void> | null = null;
  private closed = false;
  private readonly listeners = new BackendListeners();

  constructor(options: RedisBackendOptions) {
    const driver = loadDriver<typeof import('ioredis')>('redis'); // without ioredis, fail here
    this.prefix = options.prefix ?? 'jobsmith';
    if (!/^[\w.:-]{1,64}$/.test(this.prefix)) throw new InvalidOptionError('prefix', options.prefix, 'letters, digits, _ . : or -, at most 64');
    this.P = `{${this.prefix}}:`;
    this.clock = options.clock ?? systemClock;
    this.onWarning = options.onWarning ?? ((message) => process.emitWarning(message, 'JobsmithWarning'));
    const connection: RedisOptions = {
      // Fail a call after one retry, so the worker reports it and backs off itself;
      // reconnect quickly and forever, so it resumes within a second of Redis coming back.
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      lazyConnect: true,
    };
    if (options.redis) {
      this.redis = options.redis;
      this.ownsConnection = false;
    } else {
      if (!options.url) throw new InvalidOptionError('url', options.url, 'a redis:// URL or an ioredis connection');
      this.redis = new driver.Redis(options.url, connection);
      this.ownsConnection = true;
    }
    const { host, port, path } = this.redis.options;
    this.address = path || `${host ?? 'localhost'}:${port ?? 6379}`;
    this.redis.on('error', (error: unknown) => {
      this.lastConnectionError = error;
      this.emit({ type: 'connection-error', error: this.wrap('connection', error) });
    });
    this.redis.on('ready', () => (this.lastConnectionError = null));
    // A connection the server closed (a restart, CLIENT KILL) raises no error: say so for the logs.
    this.redis.on('reconnecting', () =>
      this.emit({
        type: 'connection-error',
        error: new StoreError(`The Redis connection to ${this.address} was lost; reconnecting`, { transient: true, details: { prefix: this.prefix, address: this.address } }),
      }),
    );
    for (const [name, lua] of Object.entries(redisScripts())) this.redis.defineCommand(`jobsmith_${name}`, { numberOfKeys: 1, lua });
  }

  open(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('The Redis backend'));
    this.opening ??= this.connect().catch((error: unknown) => {
      this.opening = null;
      throw this.wrap('open', error);
    });
    return this.opening;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.subscriber?.disconnect();
    if (this.ownsConnection) this.redis.disconnect();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  now(): number {
    return this.clock.now();
  }

  subscribe(listener: (event: BackendEvent) => void): () => void {
    const unsubscribe = this.listeners.add(listener);
    if (!this.subscriber) {
      const subscriber = this.redis.duplicate({ lazyConnect: false });
      this.subscriber = subscriber;
      subscriber.on('error', (error: unknown) => this.emit({ type: 'connection-error', error: this.wrap('subscribe', error) }));
      // After a reconnect, ioredis resubscribes; messages sent meanwhile are gone, so everyone looks again.
      subscriber.on('ready', () => this.emit({ type: 'changed' }));
      subscriber.on('message', (_channel: string, message: string) => {
        if (message.startsWith('q:')) this.emit({ type: 'enqueued', queue: message.slice(2), runAt: this.clock.now() });
        else if (message.startsWith('c:')) this.emit({ type: 'cancel-requested', id: message.slice(2) });
      });
      subscriber.subscribe(`${this.P}events`).catch(() => undefined);
    }
    return unsubscribe;
  }

  async enqueue(jobs: readonly NewJob[], options: EnqueueCallOptions = {}): Promise<EnqueueResult[]> {
    if (options.tx !== undefined) throw new InvalidOptionError('tx', options.tx, 'no transaction: transactional enqueue is for the postgres backend');
    if (jobs.length === 0) return [];
    const now = this.clock.now();
    if (new Set(jobs.map((job) => job.id)).size !== jobs.length) throw new StoreError('Two jobs in one enqueue share an id', { details: { operation: 'enqueue' } });
    if (jobs.length <= enqueueChunk) {
      const out = (await this.script('enqueue', now, jobs.length, packedFields(jobs))) as Array<[string, number]>;
      return out.map(([id, created]) => ({ id, created: created === 1 }));
    }
    // A large batch goes as several script calls in one MULTI, which Redis runs back to back
    // with nothing in between: one call's arguments must stay within what Lua can take.
    const multi = this.redis.multi() as unknown as Record<string, ScriptCall> & { exec(): Promise<Array<[Error | null, unknown]> | null> };
    for (let start = 0; start < jobs.length; start += enqueueChunk) {
      const chunk = jobs.slice(start, start + enqueueChunk);
      void multi.jobsmith_enqueue!(this.P, now, chunk.length, packedFields(chunk));
    }
    const replies = (await this.call('enqueue', () => multi.exec())) ?? [];
    const results: EnqueueResult[] = [];
    for (const [error, out] of replies) {
      if (error) throw this.wrap('enqueue', error);
      for (const [id, created] of out as Array<[string, number]>) results.push({ id, created: created === 1 });
    }
    return results;
  }

  async enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }> {
    const [id, created] = (await this.script('enqueueRunning', this.clock.now(), newLeaseToken(), lease.workerId, lease.leaseMs, packedFields([job]))) as [string, number];
    if (created !== 1) return { created: false, id };
    const [record] = await this.records([id]);
    if (!record?.lease) throw new StoreError(`Job "${id}" was started inline but could not be read back`, { details: { id } });
    return { created: true, job: { ...record, lease: record.lease, recovered: false } };
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const out = (await this.script('claim', this.clock.now(), ...claimArgs(request))) as ClaimReply;
    return claimedFromReply(out);
  }

  /** One script call: the outcomes are written and the next jobs claimed in one atomic step and one round trip. */
  async settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult> {
    const now = this.clock.now();
    // One JSON list of strings for the whole batch (the script decodes it): the driver handles
    // one argument instead of nine an outcome.
    const fields = settlements.flatMap((settlement) => [
      settlement.kind,
      settlement.id,
      settlement.token,
      settlement.kind === 'complete' ? JSON.stringify(settlement.result) : '',
      (settlement.kind === 'retry' || settlement.kind === 'fail' || settlement.kind === 'cancel') && settlement.error !== null ? JSON.stringify(settlement.error) : '',
      settlement.kind === 'retry' ? String(settlement.runAt) : '',
      (settlement.kind === 'retry' || settlement.kind === 'fail') && settlement.countAttempt ? '1' : '0',
      (settlement.kind === 'complete' || settlement.kind === 'fail' || settlement.kind === 'cancel') && settlement.expiresAt !== null ? String(settlement.expiresAt) : '',
      settlement.kind === 'fail' && settlement.hookPending ? '1' : '0',
    ]);
    const claimPart = next ? ['1', ...claimArgs(next)] : ['0'];
    const [out, claimed] = (await this.script('settle', now, bucketOf(now), settlements.length, JSON.stringify(fields), ...claimPart)) as [number[], ClaimReply | 0];
    const applied = out.map((value) => value === 1);
    settlements.forEach((settlement, index) => {
      if (!applied[index]) return;
      if (settlement.kind === 'retry' || settlement.kind === 'hook-done') return;
      const state: JobState = settlement.kind === 'complete' ? 'completed' : settlement.kind === 'fail' ? 'failed' : 'cancelled';
      this.emit({ type: 'settled', id: settlement.id, state });
    });
    return { applied, claimed: claimed === 0 ? null : claimedFromReply(claimed) };
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number): Promise<LeaseStatus[]> {
    if (leases.length === 0) return [];
    const out = (await this.script('renew', this.clock.now() + leaseMs, leases.length, ...leases.flatMap((lease) => [lease.id, lease.token]))) as number[];
    return leases.map(({ id }, index) => ({ id, held: out[index] !== 0, cancelRequested: out[index] === 2 }));
  }

  async recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void> {
    const text = JSON.stringify(progress);
    const ok = await this.script('attemptWrite', lease.id, lease.token, 'prog', text, recordLimits.maxProgressHistory, text);
    if (ok !== 1) throw new LeaseLostError(lease.id);
  }

  async appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void> {
    const ok = await this.script('attemptWrite', lease.id, lease.token, 'logs', JSON.stringify(entry), recordLimits.maxLogEntries, '');
    if (ok !== 1) throw new LeaseLostError(lease.id);
  }

  async get(id: string): Promise<JobRecord | null> {
    const [record] = await this.records([id]);
    return record ?? null;
  }

  async findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]> {
    // Every job is in exactly one state's set (running jobs: the running set): the first `limit` of each, merged.
    const perState = await Promise.all(
      jobStates.map(async (state) =>
        state === 'running'
          ? (await this.runningIds('findByIdPrefix')).filter((id) => id.startsWith(prefix)).slice(0, limit)
          : this.call('findByIdPrefix', () => this.redis.zrangebylex(`${this.P}state:${state}`, `[${prefix}`, `(${prefix}\xff`, 'LIMIT', 0, limit)),
      ),
    );
    const ids = perState.flat().sort().slice(0, limit);
    return (await this.records(ids)).filter((record): record is JobRecord => record !== null);
  }

  async list(filter: ListFilter): Promise<JobPage> {
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
        return this.call('list', () => this.redis.zrevrangebylex(`${this.P}state:${state}`, below === null ? '+' : `(${below}`, '-', 'LIMIT', 0, 200));
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
      const records = await this.records(ids);
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
    const outcome = (await this.script('cancel', id, this.clock.now())) as string;
    if (outcome === 'none') return { outcome: 'not-found' };
    const job = (await this.get(id))!;
    if (outcome === 'finished') return { outcome: 'already-finished', job };
    if (outcome === 'requested') {
      this.emit({ type: 'cancel-requested', id });
      return { outcome: 'cancel-requested', job };
    }
    this.emit({ type: 'settled', id, state: 'cancelled' });
    return { outcome: 'cancelled', job };
  }

  async retry(id: string): Promise<JobRecord> {
    const outcome = (await this.script('retry', id, this.clock.now())) as string;
    if (outcome === 'none') throw new InvalidStateError(id, 'missing', 'retry');
    if (outcome.startsWith('key:')) throw new InvalidStateError(id, `finished, and its key "${outcome.slice(4)}" is held by another active job`, 'retry');
    if (outcome === 'hook-pending') throw new InvalidStateError(id, hookPendingDescription, 'retry');
    if (outcome !== 'ok') throw new InvalidStateError(id, outcome, 'retry');
    const record = (await this.get(id))!;
    this.emit({ type: 'enqueued', queue: record.queue, runAt: record.runAt });
    return record;
  }

  async delete(id: string): Promise<boolean> {
    const outcome = (await this.script('remove', id)) as string;
    if (outcome === 'running') throw new InvalidStateError(id, 'running', 'delete (cancel it first)');
    if (outcome === 'hook-pending') throw new InvalidStateError(id, hookPendingDescription, 'delete');
    return outcome === 'deleted';
  }

  async prune(request: PruneRequest): Promise<number> {
    const now = this.clock.now();
    const states = request.states ?? terminalStates;
    return (await this.script(
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
    await this.promoteDue();
    const now = this.clock.now();
    const queueFlags = pairsToMap(await this.call('stats', () => this.redis.hgetall(`${this.P}queues`)));
    const last = pairsToMap(await this.call('stats', () => this.redis.hgetall(`${this.P}lastproc`)));
    const pipeline = this.redis.pipeline();
    const queues = [...queueFlags.keys()];
    for (const queue of queues) {
      pipeline.hgetall(`${this.P}count:${queue}`);
      pipeline.hgetall(`${this.P}done:${queue}`);
    }
    const replies = (await this.call('stats', () => pipeline.exec())) ?? [];
    const counts: Array<{ queue: string; state: JobState; count: number }> = [];
    const buckets: BucketCount[] = [];
    queues.forEach((queue, index) => {
      const perState = (replies[index * 2]?.[1] ?? {}) as Record<string, string>;
      for (const state of jobStates) if (perState[state]) counts.push({ queue, state, count: Number(perState[state]) });
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
    return buildStats(
      now,
      counts,
      queues.map((queue) => ({ queue, paused: queueFlags.get(queue) === '1', lastProcessedAt: last.has(queue) ? Number(last.get(queue)) : null })),
      buckets,
    );
  }

  async pause(queue: string): Promise<void> {
    await this.script('pause', queue, '1');
  }

  async resume(queue: string): Promise<void> {
    await this.script('pause', queue, '0');
    this.emit({ type: 'resumed', queue });
  }

  async upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord> {
    const fields = (await this.script(
      'upsertSchedule',
      input.id,
      canonicalJson(input.spec),
      input.enabled === undefined ? '' : input.enabled ? '1' : '0',
      input.nextRunAt ?? '',
      input.now,
    )) as string[];
    return scheduleFromFields(fields);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | null> {
    const fields = await this.call('getSchedule', () => this.redis.hgetall(`${this.P}schedule:${id}`));
    return Object.keys(fields).length === 0 ? null : scheduleFromFields(Object.entries(fields).flat());
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const ids = await this.call('listSchedules', () => this.redis.zrange(`${this.P}schedules`, '0', '-1'));
    const records = await Promise.all(ids.map((id) => this.getSchedule(id)));
    return records.filter((record): record is ScheduleRecord => record !== null);
  }

  async removeSchedule(id: string): Promise<boolean> {
    return ((await this.script('removeSchedule', id)) as number) === 1;
  }

  async setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null> {
    const fields = (await this.script('setScheduleEnabled', id, enabled ? '1' : '0', nextRunAt ?? '', this.clock.now())) as string[];
    return fields.length === 0 ? null : scheduleFromFields(fields);
  }

  async fireSchedule(tick: ScheduleTick): Promise<FireResult> {
    const out = (await this.script(
      'fireSchedule',
      tick.id,
      tick.expectedNextRunAt,
      tick.nextRunAt ?? '',
      tick.firedAt ?? '',
      tick.overlap,
      this.clock.now(),
      tick.jobs.length,
      packedFields(tick.jobs),
    )) as string[];
    if (out[0] === 'lost') return { outcome: 'lost' };
    if (out[0] === 'skipped') return { outcome: 'skipped-overlap' };
    return { outcome: 'fired', jobIds: out.slice(1) };
  }

  /** Every key this backend owns, for tests and operators checking that nothing leaks. */
  async keyCount(): Promise<number> {
    let count = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.P}*`, 'COUNT', 1000);
      count += keys.length;
      cursor = next;
    } while (cursor !== '0');
    return count;
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private async connect(): Promise<void> {
    if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
    await this.redis.ping();
    try {
      const [, policy] = (await this.redis.config('GET', 'maxmemory-policy')) as [string, string];
      if (policy && policy !== 'noeviction') {
        this.onWarning(
          `Redis maxmemory-policy is "${policy}", not "noeviction": under memory pressure Redis may evict job keys, and an evicted key is a lost job. Set maxmemory-policy noeviction.`,
        );
      }
    } catch {
      // CONFIG may be disabled (managed Redis); the policy is then the operator's to check.
    }
  }

  private async promoteDue(): Promise<void> {
    await this.script('promote', this.clock.now());
  }

  private async records(ids: readonly string[]): Promise<Array<JobRecord | null>> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) {
      pipeline.hgetall(`${this.P}job:${id}`);
      pipeline.lrange(`${this.P}prog:${id}`, 0, -1);
      pipeline.lrange(`${this.P}logs:${id}`, 0, -1);
    }
    const replies = (await this.call('get', () => pipeline.exec())) ?? [];
    return ids.map((_id, index) => {
      const fields = replies[index * 3]?.[1] as Record<string, string> | undefined;
      if (!fields || Object.keys(fields).length === 0) return null;
      return fieldsToRecord(fields, (replies[index * 3 + 1]?.[1] ?? []) as string[], (replies[index * 3 + 2]?.[1] ?? []) as string[]);
    });
  }

  /** Every running job's id, in id order. */
  private async runningIds(operation: string): Promise<string[]> {
    return (await this.call(operation, () => this.redis.zrange(`${this.P}running`, '0', '-1'))).sort();
  }

  private async script(name: RedisScriptName, ...args: Array<string | number>): Promise<unknown> {
    const command = (this.redis as unknown as Record<string, ScriptCall>)[`jobsmith_${name}`]!;
    return this.call(name, () => command.call(this.redis, this.P, ...args));
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ClosedError('The Redis backend');
    if (operation !== 'open') await this.open();
    try {
      return await fn();
    } catch (error) {
      throw this.wrap(operation, error);
    }
  }

  private wrap(operation: string, error: unknown): unknown {
    if (error instanceof StoreError || error instanceof InvalidStateError || error instanceof LeaseLostError || error instanceof ClosedError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (/DUPLICATE_ID/.test(message)) {
      return new StoreError(`Redis ${operation} at ${this.address} failed: a job with that id already exists (${message})`, { cause: error, details: { operation } });
    }
    const code = (error as { code?: unknown }).code;
    const transient =
      /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed|LOADING|MaxRetriesPerRequest|Stream isn't writeable|enableOfflineQueue/i.test(message) ||
      (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code));
    const auth = /NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(message);
    // "Connection is closed." alone does not say why: the connection's own last error does
    // (ECONNREFUSED, ENOTFOUND for an unknown host, …).
    const why = /Connection is closed/i.test(message) && this.lastConnectionError instanceof Error ? ` (${this.lastConnectionError.message})` : '';
    return new StoreError(`Redis ${operation} at ${this.address} failed${auth ? ': the credentials were rejected' : ''}: ${message}${why}`, {
      cause: error,
      transient: transient && !auth,
      details: { operation, prefix: this.prefix, address: this.address },
    });
  }

  private emit(event: BackendEvent): void {
    this.listeners.emit(event);
  }
}

/** A job's 14 fields as the scripts read them: strings, '' for none. */
function jobFields(job: NewJob): string[] {
  return [
    job.id,
    job.name,
    job.queue,
    job.payload,
    JSON.stringify(job.metadata),
    String(job.priority),
    job.key ?? '',
    String(job.maxAttempts),
    job.backoff === null ? '' : JSON.stringify(job.backoff),
    job.timeoutMs === null ? '' : String(job.timeoutMs),
    job.keepCompletedMs === null ? '' : String(job.keepCompletedMs),
    job.keepFailedMs === null ? '' : String(job.keepFailedMs),
    String(job.runAt),
    String(job.createdAt),
  ];
}

/** Jobs' fields as one JSON list of strings, which the scripts decode (see `enqueueJobs`). */
function packedFields(jobs: readonly NewJob[]): string {
  return JSON.stringify(jobs.flatMap(jobFields));
}

/** What the claim scripts return: per job a JSON array [recovered, hash as an object, progress list, log list], then the next run time or ''. */
type ClaimReply = [jobs: string[], nextRunAt: string];

/** A claimed job as the script encodes it; Lua's cjson writes an empty list as `{}`. */
type EncodedClaim = [recovered: number, fields: Record<string, string>, progress: string[] | Record<string, never>, logs: string[] | Record<string, never>];

const listOf = (value: string[] | Record<string, never>): string[] => (Array.isArray(value) ? value : []);

function claimArgs(request: ClaimRequest): Array<string | number> {
  // One random prefix per call; the script appends a counter, so each lease token is unique.
  return [request.limit, request.workerId, request.leaseMs, `${newLeaseToken()}-`, request.queues.length, ...request.queues, request.names.length, ...request.names];
}

function claimedFromReply([jobs, nextRunAt]: ClaimReply): ClaimResult {
  return {
    jobs: jobs.map((encoded) => {
      const [recovered, fields, progress, logs] = JSON.parse(encoded) as EncodedClaim;
      const record = fieldsToRecord(fields, listOf(progress), listOf(logs));
      if (!record.lease) throw new StoreError(`Claimed job "${record.id}" has no lease`, { details: { id: record.id } });
      const claimed = record as ClaimedJob;
      claimed.recovered = recovered === 1;
      return claimed;
    }),
    nextRunAt: nextRunAt === '' ? null : Number(nextRunAt),
  };
}
