import type { BackendCapability } from '../../contract/capabilities.ts';
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
  JobPage,
  LeaseRef,
  LeaseRequest,
  LeaseStatus,
  ListFilter,
  NewJob,
  FireResult,
  PruneRequest,
  ScheduleInput,
  ScheduleRecord,
  ScheduleTick,
  Settlement,
  SettleResult,
} from '../../contract/backend.ts';
import { type BucketCount, bucketOf, buildStats, statsWindowMs } from '../../contract/stats-window.ts';
import { type Clock, systemClock } from '../../domain/clock.ts';
import { ClosedError, InvalidOptionError, InvalidStateError, LeaseLostError, StoreError } from '../../domain/errors.ts';
import { newLeaseToken } from '../../domain/ids.ts';
import { type JobLogEntry, type JobProgress, type JobRecord, hookPendingDescription, recordLimits } from '../../domain/job-record.ts';
import { type JobState, isTerminal, terminalStates } from '../../domain/job-state.ts';
import type { JsonValue } from '../../domain/json-value.ts';
import { BackendListeners, enqueuedEvents } from '../../contract/backend-listeners.ts';
import { listCursor, pageSize } from '../../contract/list-cursor.ts';
import { ReadyIndex } from './ready-index.ts';
import { sameSpec } from '../../contract/schedule-spec-equality.ts';

export interface MemoryBackendOptions {
  /** @default the system clock */
  clock?: Clock;
}

interface StoredJob extends JobRecord {
  seq: number;
  /** The lease token of the attempt whose outcome the job holds, so that outcome written again is recognised. */
  settledToken: string | null;
}

/**
 * The reference implementation of the backend contract: every rule of the contract
 * is written here in plain code, and the conformance suite holds the other backends
 * to it. Fast enough for tests and for one process, and lost when the process ends.
 */
export class MemoryBackend implements Backend {
  /** What this backend can do beyond the three roles (see `BackendCapability`). */
  readonly capabilities: ReadonlySet<BackendCapability> = new Set<BackendCapability>(['change-events']);
  readonly kind = 'memory';
  readonly inProcess = true;
  private readonly clock: Clock;
  private readonly jobs = new Map<string, StoredJob>();
  private readonly ready = new ReadyIndex<StoredJob>();
  /** Scheduled jobs; scanned for due ones on claim. */
  private readonly scheduled = new Set<StoredJob>();
  private readonly running = new Set<StoredJob>();
  /** Failed jobs whose `failed` hook is pending, each under the lease of the worker that runs it. */
  private readonly hookLeases = new Set<StoredJob>();
  private readonly keys = new Map<string, string>();
  private readonly queues = new Map<string, { paused: boolean; lastProcessedAt: number | null }>();
  private readonly buckets = new Map<string, BucketCount>();
  private readonly listeners = new BackendListeners();
  private readonly schedules = new Map<string, ScheduleRecord>();
  private seq = 0;
  private closed = false;

  constructor(options: MemoryBackendOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  async open(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  now(): number {
    return this.clock.now();
  }

  subscribe(listener: (event: BackendEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  async enqueue(jobs: readonly NewJob[], options: EnqueueCallOptions = {}): Promise<EnqueueResult[]> {
    this.assertOpen();
    if (options.tx !== undefined) throw new InvalidOptionError('tx', options.tx, 'no transaction: the memory backend has none to join');
    return this.enqueueNow(jobs);
  }

  private enqueueNow(jobs: readonly NewJob[]): EnqueueResult[] {
    const results: EnqueueResult[] = [];
    const added: StoredJob[] = [];
    // Keys claimed earlier in this same batch count too.
    const batchKeys = new Map<string, string>();
    const ids = new Set<string>();
    for (const job of jobs) {
      if (this.jobs.has(job.id) || ids.has(job.id)) throw new StoreError(`A job with id "${job.id}" already exists`, { details: { id: job.id } });
      ids.add(job.id);
      const keyId = job.key === null ? undefined : (batchKeys.get(keyOf(job.name, job.key)) ?? this.keys.get(keyOf(job.name, job.key)));
      if (keyId !== undefined) {
        results.push({ id: keyId, created: false });
        continue;
      }
      const stored = this.toStored(job);
      if (job.key !== null) batchKeys.set(keyOf(job.name, job.key), job.id);
      added.push(stored);
      results.push({ id: job.id, created: true });
    }
    for (const stored of added) this.insert(stored);
    for (const event of enqueuedEvents(jobs, results)) this.emit(event);
    return results;
  }

  async enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }> {
    this.assertOpen();
    const existing = job.key === null ? undefined : this.keys.get(keyOf(job.name, job.key));
    if (existing !== undefined) return { created: false, id: existing };
    const stored = this.toStored(job);
    this.insert(stored);
    this.unindex(stored);
    return { created: true, job: this.startAttempt(stored, lease, false) };
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    this.assertOpen();
    return this.claimNow(request);
  }

  async settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult> {
    this.assertOpen();
    const applied = settlements.map((settlement) => this.applySettlement(settlement));
    return { applied, claimed: next ? this.claimNow(next) : null };
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number): Promise<LeaseStatus[]> {
    this.assertOpen();
    const expiresAt = this.clock.now() + leaseMs;
    return leases.map(({ id, token }) => {
      const job = this.heldJob(id, token) ?? this.hookHeldJob(id, token);
      if (!job) return { id, held: false, cancelRequested: false };
      job.lease = { ...job.lease!, expiresAt };
      return { id, held: true, cancelRequested: job.cancelRequested };
    });
  }

  async recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void> {
    this.assertOpen();
    const job = this.heldJob(lease.id, lease.token);
    if (!job) throw new LeaseLostError(lease.id);
    job.progress = { ...progress };
    job.progressHistory = [...job.progressHistory, { ...progress }].slice(-recordLimits.maxProgressHistory);
  }

  async appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void> {
    this.assertOpen();
    const job = this.heldJob(lease.id, lease.token);
    if (!job) throw new LeaseLostError(lease.id);
    job.logs = [...job.logs, structuredClone(entry)].slice(-recordLimits.maxLogEntries);
  }

  async get(id: string): Promise<JobRecord | null> {
    this.assertOpen();
    const job = this.jobs.get(id);
    return job ? this.view(job) : null;
  }

  async findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]> {
    this.assertOpen();
    const found: JobRecord[] = [];
    for (const job of [...this.jobs.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      if (job.id.startsWith(prefix)) found.push(this.view(job));
      if (found.length >= limit) break;
    }
    return found;
  }

  async list(filter: ListFilter): Promise<JobPage> {
    this.assertOpen();
    this.promoteDue();
    const states = filter.state === undefined ? null : new Set(typeof filter.state === 'string' ? [filter.state] : filter.state);
    const limit = pageSize(filter.limit);
    const after = listCursor.decode(filter.cursor);
    const matching = [...this.jobs.values()]
      .filter(
        (job) =>
          (states === null || states.has(job.state)) &&
          (filter.queue === undefined || job.queue === filter.queue) &&
          (filter.name === undefined || job.name === filter.name) &&
          (after === null || job.id < after),
      )
      .sort((a, b) => (a.id < b.id ? 1 : -1));
    const page = matching.slice(0, limit);
    const more = matching.length > limit;
    return { jobs: page.map((job) => this.view(job)), nextCursor: more ? listCursor.encode(page.at(-1)!.id) : null };
  }

  async cancel(id: string): Promise<CancelResult> {
    this.assertOpen();
    const job = this.jobs.get(id);
    if (!job) return { outcome: 'not-found' };
    if (isTerminal(job.state)) return { outcome: 'already-finished', job: this.view(job) };
    if (job.state === 'running') {
      job.cancelRequested = true;
      this.emit({ type: 'cancel-requested', id });
      return { outcome: 'cancel-requested', job: this.view(job) };
    }
    this.unindex(job);
    this.finish(job, 'cancelled', job.keepFailedMs);
    return { outcome: 'cancelled', job: this.view(job) };
  }

  async retry(id: string): Promise<JobRecord> {
    this.assertOpen();
    const job = this.jobs.get(id);
    if (!job) throw new InvalidStateError(id, 'missing', 'retry');
    if (job.state !== 'failed' && job.state !== 'cancelled') throw new InvalidStateError(id, job.state, 'retry');
    if (job.failedHook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'retry');
    if (job.key !== null && this.keys.has(keyOf(job.name, job.key))) throw new InvalidStateError(id, `${job.state}, and its key "${job.key}" is held by another active job`, 'retry');
    Object.assign(job, { attempts: 0, crashes: 0, runAt: this.clock.now(), finishedAt: null, expiresAt: null, cancelRequested: false, failedHook: null });
    this.reindex(job, 'queued');
    this.emit({ type: 'enqueued', queue: job.queue, runAt: job.runAt });
    return this.view(job);
  }

  async delete(id: string): Promise<boolean> {
    this.assertOpen();
    const job = this.jobs.get(id);
    if (!job) return false;
    if (job.state === 'running') throw new InvalidStateError(id, 'running', 'delete (cancel it first)');
    if (job.failedHook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'delete');
    this.remove(job);
    return true;
  }

  async prune(request: PruneRequest): Promise<number> {
    this.assertOpen();
    const states = new Set(request.states ?? terminalStates);
    const now = this.clock.now();
    let removed = 0;
    for (const job of [...this.jobs.values()]) {
      if (!isTerminal(job.state) || job.failedHook === 'pending') continue;
      const old = request.finishedBy !== undefined && states.has(job.state) && job.finishedAt! <= request.finishedBy;
      const lapsed = request.expired === true && job.expiresAt !== null && job.expiresAt <= now;
      if (old || lapsed) {
        this.remove(job);
        removed++;
      }
    }
    return removed;
  }

  async stats(): Promise<BackendStats> {
    this.assertOpen();
    this.promoteDue();
    const counts = new Map<string, { queue: string; state: JobState; count: number }>();
    for (const job of this.jobs.values()) {
      const id = `${job.queue}\u0000${job.state}`;
      const row = counts.get(id) ?? { queue: job.queue, state: job.state, count: 0 };
      row.count++;
      counts.set(id, row);
    }
    const queues = [...this.queues].map(([queue, row]) => ({ queue, ...row }));
    return buildStats(this.clock.now(), [...counts.values()], queues, [...this.buckets.values()]);
  }

  async upsertSchedule(input: ScheduleInput): Promise<ScheduleRecord> {
    this.assertOpen();
    const existing = this.schedules.get(input.id);
    if (existing && sameSpec(existing.spec, input.spec)) {
      if (input.enabled !== undefined && input.enabled !== existing.enabled) {
        Object.assign(existing, { enabled: input.enabled, nextRunAt: input.enabled ? input.nextRunAt : existing.nextRunAt, updatedAt: input.now });
      }
      return structuredClone(existing);
    }
    const record: ScheduleRecord = {
      id: input.id,
      spec: structuredClone(input.spec),
      enabled: input.enabled ?? existing?.enabled ?? true,
      nextRunAt: input.nextRunAt,
      lastRunAt: existing?.lastRunAt ?? null,
      lastJobId: existing?.lastJobId ?? null,
      createdAt: existing?.createdAt ?? input.now,
      updatedAt: input.now,
    };
    this.schedules.set(input.id, record);
    return structuredClone(record);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | null> {
    this.assertOpen();
    const record = this.schedules.get(id);
    return record ? structuredClone(record) : null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    this.assertOpen();
    return [...this.schedules.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((record) => structuredClone(record));
  }

  async removeSchedule(id: string): Promise<boolean> {
    this.assertOpen();
    return this.schedules.delete(id);
  }

  async setScheduleEnabled(id: string, enabled: boolean, nextRunAt: number | null): Promise<ScheduleRecord | null> {
    this.assertOpen();
    const record = this.schedules.get(id);
    if (!record) return null;
    if (record.enabled !== enabled) Object.assign(record, { enabled, nextRunAt: enabled ? nextRunAt : record.nextRunAt, updatedAt: this.clock.now() });
    return structuredClone(record);
  }

  async fireSchedule(tick: ScheduleTick): Promise<FireResult> {
    this.assertOpen();
    const record = this.schedules.get(tick.id);
    if (!record || !record.enabled || record.nextRunAt !== tick.expectedNextRunAt) return { outcome: 'lost' };
    const previous = record.lastJobId === null ? undefined : this.jobs.get(record.lastJobId);
    if (tick.overlap === 'skip' && previous && !isTerminal(previous.state)) {
      Object.assign(record, { nextRunAt: tick.nextRunAt, updatedAt: this.clock.now() });
      return { outcome: 'skipped-overlap' };
    }
    const results = this.enqueueNow(tick.jobs);
    Object.assign(record, {
      nextRunAt: tick.nextRunAt,
      lastRunAt: tick.firedAt ?? record.lastRunAt,
      lastJobId: results.at(-1)?.id ?? record.lastJobId,
      updatedAt: this.clock.now(),
    });
    return { outcome: 'fired', jobIds: results.map((result) => result.id) };
  }

  async pause(queue: string): Promise<void> {
    this.assertOpen();
    this.queueRow(queue).paused = true;
  }

  async resume(queue: string): Promise<void> {
    this.assertOpen();
    this.queueRow(queue).paused = false;
    this.emit({ type: 'resumed', queue });
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private claimNow(request: ClaimRequest): ClaimResult {
    const now = this.clock.now();
    const queues = new Set(request.queues.filter((queue) => !this.queues.get(queue)?.paused));
    const names = new Set(request.names);
    const claimed: ClaimedJob[] = [];
    for (const job of [...this.running]) {
      if (claimed.length >= request.limit) break;
      if (job.lease!.expiresAt > now || !queues.has(job.queue) || !names.has(job.name)) continue;
      if (job.cancelRequested) {
        this.finish(job, 'cancelled', job.keepFailedMs);
        continue;
      }
      job.crashes++;
      claimed.push(this.startAttempt(job, request, true));
    }
    for (const job of [...this.hookLeases]) {
      if (claimed.length >= request.limit) break;
      if (job.lease!.expiresAt > now || !queues.has(job.queue) || !names.has(job.name)) continue;
      job.crashes++;
      job.lease = { token: newLeaseToken(), workerId: request.workerId, expiresAt: now + request.leaseMs };
      claimed.push({ ...this.view(job), lease: { ...job.lease }, recovered: true });
    }
    this.promoteDue();
    if (claimed.length < request.limit) {
      const taken = this.ready.take(request.limit - claimed.length, (job) => queues.has(job.queue) && names.has(job.name));
      for (const job of taken) claimed.push(this.startAttempt(job, request, false));
    }
    let nextRunAt: number | null = null;
    if (claimed.length < request.limit) {
      for (const job of this.scheduled) {
        if (queues.has(job.queue) && names.has(job.name) && (nextRunAt === null || job.runAt < nextRunAt)) nextRunAt = job.runAt;
      }
    }
    return { jobs: claimed, nextRunAt };
  }

  private startAttempt(job: StoredJob, lease: LeaseRequest, recovered: boolean): ClaimedJob {
    const now = this.clock.now();
    job.state = 'running';
    job.startedAt = now;
    job.lease = { token: newLeaseToken(), workerId: lease.workerId, expiresAt: now + lease.leaseMs };
    this.running.add(job);
    return { ...this.view(job), lease: { ...job.lease }, recovered };
  }

  private applySettlement(settlement: Settlement): boolean {
    if (settlement.kind === 'hook-done') return this.applyHookDone(settlement);
    const job = this.heldJob(settlement.id, settlement.token);
    // This attempt's outcome is already stored: it was written before, and its reply lost.
    if (!job) return this.jobs.get(settlement.id)?.settledToken === settlement.token;
    const now = this.clock.now();
    const lease = job.lease!;
    this.running.delete(job);
    job.lease = null;
    job.settledToken = settlement.token;
    switch (settlement.kind) {
      case 'complete':
        job.attempts++;
        job.result = settlement.result;
        this.finish(job, 'completed', null, settlement.expiresAt);
        break;
      case 'retry':
        if (settlement.countAttempt) job.attempts++;
        if (settlement.error) job.error = settlement.error;
        job.runAt = settlement.runAt;
        this.reindex(job, settlement.runAt > now ? 'scheduled' : 'queued');
        this.emit({ type: 'enqueued', queue: job.queue, runAt: job.runAt });
        break;
      case 'fail':
        if (settlement.countAttempt) job.attempts++;
        job.error = settlement.error;
        // Stored with the failure, in the same write; the lease stays with the worker that runs the hook.
        if (settlement.hookPending) job.failedHook = 'pending';
        this.finish(job, 'failed', null, settlement.expiresAt);
        if (settlement.hookPending) {
          job.lease = lease;
          this.hookLeases.add(job);
        }
        break;
      case 'cancel':
        if (settlement.error) job.error = settlement.error;
        this.finish(job, 'cancelled', null, settlement.expiresAt);
        break;
    }
    return true;
  }

  private applyHookDone(settlement: LeaseRef): boolean {
    const job = this.hookHeldJob(settlement.id, settlement.token);
    if (!job) {
      const stored = this.jobs.get(settlement.id);
      return stored?.failedHook === 'done' && stored.settledToken === settlement.token;
    }
    job.failedHook = 'done';
    job.lease = null;
    job.settledToken = settlement.token;
    this.hookLeases.delete(job);
    return true;
  }

  /** Moves a job to a terminal state, releasing its key and counting it. */
  private finish(job: StoredJob, state: 'completed' | 'failed' | 'cancelled', keepMs: number | null, expiresAt?: number | null): void {
    const now = this.clock.now();
    this.running.delete(job);
    job.state = state;
    job.lease = null;
    job.finishedAt = now;
    job.cancelRequested = false;
    job.expiresAt = expiresAt !== undefined ? expiresAt : keepMs === null ? null : now + keepMs;
    if (job.key !== null && this.keys.get(keyOf(job.name, job.key)) === job.id) this.keys.delete(keyOf(job.name, job.key));
    this.queueRow(job.queue).lastProcessedAt = now;
    if (state !== 'cancelled') this.count(job.queue, now, state);
    this.emit({ type: 'settled', id: job.id, state });
  }

  private count(queue: string, now: number, state: 'completed' | 'failed'): void {
    const bucket = bucketOf(now);
    const id = `${queue}\u0000${bucket}`;
    const row = this.buckets.get(id) ?? { queue, bucket, completed: 0, failed: 0 };
    row[state]++;
    this.buckets.set(id, row);
    for (const [key, old] of this.buckets) if (old.bucket <= now - statsWindowMs) this.buckets.delete(key);
  }

  private toStored(job: NewJob): StoredJob {
    return {
      id: job.id,
      name: job.name,
      queue: job.queue,
      state: job.runAt > this.clock.now() ? 'scheduled' : 'queued',
      payload: JSON.parse(job.payload) as JsonValue,
      metadata: structuredClone(job.metadata),
      priority: job.priority,
      key: job.key,
      attempts: 0,
      maxAttempts: job.maxAttempts,
      crashes: 0,
      backoff: job.backoff,
      timeoutMs: job.timeoutMs,
      keepCompletedMs: job.keepCompletedMs,
      keepFailedMs: job.keepFailedMs,
      runAt: job.runAt,
      createdAt: job.createdAt,
      startedAt: null,
      finishedAt: null,
      result: null,
      error: null,
      progress: null,
      progressHistory: [],
      logs: [],
      lease: null,
      cancelRequested: false,
      expiresAt: null,
      failedHook: null,
      seq: ++this.seq,
      settledToken: null,
    };
  }

  private insert(job: StoredJob): void {
    this.jobs.set(job.id, job);
    if (job.key !== null) this.keys.set(keyOf(job.name, job.key), job.id);
    this.queueRow(job.queue);
    this.index(job);
  }

  private remove(job: StoredJob): void {
    this.unindex(job);
    this.running.delete(job);
    this.hookLeases.delete(job);
    this.jobs.delete(job.id);
    if (job.key !== null && this.keys.get(keyOf(job.name, job.key)) === job.id) this.keys.delete(keyOf(job.name, job.key));
  }

  private index(job: StoredJob): void {
    if (job.state === 'queued') this.ready.add(job);
    else if (job.state === 'scheduled') this.scheduled.add(job);
  }

  private unindex(job: StoredJob): void {
    if (job.state === 'queued') this.ready.delete(job);
    else if (job.state === 'scheduled') this.scheduled.delete(job);
  }

  private reindex(job: StoredJob, state: JobState): void {
    this.unindex(job);
    job.state = state;
    if (job.key !== null && !isTerminal(state)) this.keys.set(keyOf(job.name, job.key), job.id);
    this.index(job);
  }

  private promoteDue(): void {
    const now = this.clock.now();
    for (const job of this.scheduled) if (job.runAt <= now) this.reindex(job, 'queued');
  }

  private heldJob(id: string, token: string): StoredJob | undefined {
    const job = this.jobs.get(id);
    return job && job.state === 'running' && job.lease?.token === token ? job : undefined;
  }

  /** A failed job whose `failed` hook is pending under this lease. */
  private hookHeldJob(id: string, token: string): StoredJob | undefined {
    const job = this.jobs.get(id);
    return job && job.state === 'failed' && job.failedHook === 'pending' && job.lease?.token === token ? job : undefined;
  }

  private queueRow(queue: string) {
    let row = this.queues.get(queue);
    if (!row) {
      row = { paused: false, lastProcessedAt: null };
      this.queues.set(queue, row);
    }
    return row;
  }

  private view(job: StoredJob): JobRecord {
    const { seq: _seq, settledToken: _settledToken, ...record } = job;
    return structuredClone(record);
  }

  private emit(event: BackendEvent): void {
    this.listeners.emit(event);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('The memory backend');
  }
}

function keyOf(name: string, key: string): string {
  return `${name}\u0000${key}`;
}
