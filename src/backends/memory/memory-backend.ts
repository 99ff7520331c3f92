import type { BackendCapability } from '../../contract/capabilities.ts';
import type { BackendEvent, LiveWorker, NewJob, ScheduleRecord } from '../../contract/backend.ts';
import { BackendListeners } from '../../contract/backend-listeners.ts';
import { ComposedBackend } from '../../contract/composed-backend.ts';
import { type BucketCount, bucketOf, statsWindowMs } from '../../contract/stats-window.ts';
import { type Clock, systemClock } from '../../domain/clock.ts';
import { ClosedError } from '../../domain/errors.ts';
import { waitingForChildrenRunAt } from '../../contract/flow-store.ts';
import type { StepRecord } from '../../domain/job-record.ts';
import { type JobState, isTerminal } from '../../domain/job-state.ts';
import { MemoryAdmin } from './memory-admin.ts';
import { MemoryFlows } from './memory-flows.ts';
import { MemoryQueue } from './memory-queue.ts';
import { type StoredJob, keyOf, storedJob } from './memory-rows.ts';
import { MemorySchedules } from './memory-schedules.ts';
import { MemoryWorkers } from './memory-workers.ts';
import { MemorySteps } from './memory-steps.ts';
import { ReadyIndex } from './ready-index.ts';

export interface MemoryBackendOptions {
  /** @default the system clock */
  clock?: Clock;
}

/**
 * The reference implementation of the backend contract: every rule of the contract
 * is written here in plain code, and the conformance suite holds the other backends
 * to it. Fast enough for tests and for one process, and lost when the process ends.
 *
 * Its roles (`memory-queue.ts`, `memory-admin.ts`, `memory-schedules.ts`, `memory-workers.ts`,
 * `memory-steps.ts`, `memory-flows.ts`) share one
 * `MemoryState`. Every method does its whole work synchronously before its promise is
 * returned, so each is atomic without a lock: nothing else runs in between.
 */
export class MemoryBackend extends ComposedBackend {
  /** What this backend can do beyond the three roles (see `BackendCapability`). */
  readonly capabilities: ReadonlySet<BackendCapability> = new Set<BackendCapability>(['change-events', 'live-workers', 'durable-steps', 'flows']);
  readonly kind = 'memory';
  override readonly inProcess = true;
  private readonly state: MemoryState;

  constructor(options: MemoryBackendOptions = {}) {
    const state = new MemoryState(options.clock ?? systemClock);
    const workers = new MemoryWorkers(state);
    const queue = new MemoryQueue(state, workers);
    super({ queue, admin: new MemoryAdmin(state), schedules: new MemorySchedules(state, queue), workers, steps: new MemorySteps(state), flows: state.flows });
    this.state = state;
  }

  async open(): Promise<void> {
    this.state.assertOpen();
  }

  async close(): Promise<void> {
    this.state.closed = true;
    this.state.listeners.clear();
  }

  now(): number {
    return this.state.clock.now();
  }

  override subscribe(listener: (event: BackendEvent) => void): () => void {
    return this.state.listeners.add(listener);
  }
}

/**
 * Everything the memory backend holds, and the moves between states that more than one
 * role makes (a job finishing, entering or leaving an index), so each is written once.
 */
export class MemoryState {
  readonly jobs = new Map<string, StoredJob>();
  readonly ready = new ReadyIndex<StoredJob>();
  /** Scheduled jobs; scanned for due ones on claim. */
  readonly scheduled = new Set<StoredJob>();
  readonly running = new Set<StoredJob>();
  /**
   * Jobs in a terminal state, the only ones `prune` can remove: it walks these, not every job,
   * so the worker's periodic prune costs nothing per job of a queued backlog.
   */
  readonly finished = new Set<StoredJob>();
  /** Failed jobs whose `failed` hook is pending, each under the lease of the worker that runs it. */
  readonly hookLeases = new Set<StoredJob>();
  /** The active job holding each key (see `keyOf`). */
  readonly keys = new Map<string, string>();
  readonly queues = new Map<string, { paused: boolean; lastProcessedAt: number | null }>();
  readonly buckets = new Map<string, BucketCount>();
  readonly schedules = new Map<string, ScheduleRecord>();
  /** Live workers' registrations by worker id (memory-workers.ts). */
  readonly workers = new Map<string, LiveWorker>();
  /** Each job's durable steps by name; removed with the job. */
  readonly steps = new Map<string, Map<string, StepRecord>>();
  /** Flows: their graphs, and the rules kept when one of their jobs finishes or goes. */
  readonly flows: MemoryFlows = new MemoryFlows(this);
  /** The emitter behind `subscribe`. */
  readonly listeners = new BackendListeners();
  closed = false;
  private seq = 0;

  constructor(readonly clock: Clock) {}

  assertOpen(): void {
    if (this.closed) throw new ClosedError('The memory backend');
  }

  emit(event: BackendEvent): void {
    this.listeners.emit(event);
  }

  /** A new job as stored, numbered in enqueue order; not inserted yet. */
  newJob(job: NewJob): StoredJob {
    return storedJob(job, this.clock.now(), ++this.seq);
  }

  insert(job: StoredJob): void {
    this.jobs.set(job.id, job);
    if (job.key !== null) this.keys.set(keyOf(job.name, job.key), job.id);
    this.queueRow(job.queue);
    this.index(job);
  }

  remove(job: StoredJob): void {
    this.unindex(job);
    this.running.delete(job);
    this.hookLeases.delete(job);
    this.finished.delete(job);
    this.jobs.delete(job.id);
    this.steps.delete(job.id);
    this.releaseKey(job);
    if (job.flowNode) this.flows.removed(job);
  }

  /** Moves a job to a terminal state, releasing its key and counting it. */
  finish(job: StoredJob, state: 'completed' | 'failed' | 'cancelled', keepMs: number | null, expiresAt?: number | null): void {
    const now = this.clock.now();
    this.running.delete(job);
    this.finished.add(job);
    job.state = state;
    job.lease = null;
    job.finishedAt = now;
    job.cancelRequested = false;
    job.expiresAt = expiresAt !== undefined ? expiresAt : keepMs === null ? null : now + keepMs;
    this.releaseKey(job);
    this.queueRow(job.queue).lastProcessedAt = now;
    if (state !== 'cancelled') this.count(job.queue, now, state);
    this.emit({ type: 'settled', id: job.id, state });
    // Its parents are resolved in this same step (flow-store.ts), whichever write finished it.
    if (job.flowNode) this.flows.finished(job);
  }

  index(job: StoredJob): void {
    if (job.state === 'queued') this.ready.add(job);
    // A parent waiting for its children is never due: kept out, so no claim scans it or sleeps until it.
    else if (job.state === 'scheduled' && job.runAt !== waitingForChildrenRunAt) this.scheduled.add(job);
  }

  unindex(job: StoredJob): void {
    if (job.state === 'queued') this.ready.delete(job);
    else if (job.state === 'scheduled') this.scheduled.delete(job);
  }

  reindex(job: StoredJob, state: JobState): void {
    this.unindex(job);
    if (isTerminal(job.state)) this.finished.delete(job);
    job.state = state;
    if (job.key !== null && !isTerminal(state)) this.keys.set(keyOf(job.name, job.key), job.id);
    this.index(job);
  }

  /** Scheduled jobs whose time has come become queued (claim, list and stats look first). */
  promoteDue(): void {
    const now = this.clock.now();
    for (const job of this.scheduled) if (job.runAt <= now) this.reindex(job, 'queued');
  }

  queueRow(queue: string) {
    let row = this.queues.get(queue);
    if (!row) {
      row = { paused: false, lastProcessedAt: null };
      this.queues.set(queue, row);
    }
    return row;
  }

  /** Frees the job's key, unless another job holds it by now. */
  private releaseKey(job: StoredJob): void {
    if (job.key !== null && this.keys.get(keyOf(job.name, job.key)) === job.id) this.keys.delete(keyOf(job.name, job.key));
  }

  private count(queue: string, now: number, state: 'completed' | 'failed'): void {
    const bucket = bucketOf(now);
    const id = `${queue}\u0000${bucket}`;
    const row = this.buckets.get(id) ?? { queue, bucket, completed: 0, failed: 0 };
    row[state]++;
    this.buckets.set(id, row);
    for (const [key, old] of this.buckets) if (old.bucket <= now - statsWindowMs) this.buckets.delete(key);
  }
}
