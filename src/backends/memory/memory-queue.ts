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
  PresenceRenewal,
  Settlement,
  SettleResult,
} from '../../contract/backend.ts';
import { asClaimedJob, followUpsOf } from '../../contract/job-queue.ts';
import { enqueuedEvents } from '../../contract/backend-listeners.ts';
import { InvalidOptionError, LeaseLostError, StoreError } from '../../domain/errors.ts';
import { newLeaseToken } from '../../domain/ids.ts';
import { type AttemptOutcome, type JobLogEntry, type JobProgress, failureOutcome, recordLimits } from '../../domain/job-record.ts';
import type { SerializedError } from '../../domain/serialized-error.ts';
import type { MemoryState } from './memory-backend.ts';
import { type StoredJob, appendStoredAttempt, jobRecord, keyOf } from './memory-rows.ts';
import type { MemoryWorkers } from './memory-workers.ts';

/** The memory backend's queue: enqueueing, claiming under a lease, and what an attempt writes. */
export class MemoryQueue implements JobQueue {
  constructor(
    private readonly state: MemoryState,
    private readonly workers: MemoryWorkers,
  ) {}

  async enqueue(jobs: readonly NewJob[], options: EnqueueCallOptions = {}): Promise<EnqueueResult[]> {
    this.state.assertOpen();
    if (options.tx !== undefined) throw new InvalidOptionError('tx', options.tx, 'no transaction: the memory backend has none to join');
    return this.enqueueNow(jobs);
  }

  /** Enqueues at once, for `enqueue` and for a schedule's tick, which must do it in the same step. */
  enqueueNow(jobs: readonly NewJob[]): EnqueueResult[] {
    const results: EnqueueResult[] = [];
    const added: StoredJob[] = [];
    // Keys claimed earlier in this same batch count too.
    const batchKeys = new Map<string, string>();
    const ids = new Set<string>();
    for (const job of jobs) {
      if (this.state.jobs.has(job.id) || ids.has(job.id)) throw new StoreError(`A job with id "${job.id}" already exists`, { details: { id: job.id } });
      ids.add(job.id);
      const keyId = job.key === null ? undefined : (batchKeys.get(keyOf(job.name, job.key)) ?? this.state.keys.get(keyOf(job.name, job.key)));
      if (keyId !== undefined) {
        results.push({ id: keyId, created: false });
        continue;
      }
      const stored = this.state.newJob(job);
      if (job.key !== null) batchKeys.set(keyOf(job.name, job.key), job.id);
      added.push(stored);
      results.push({ id: job.id, created: true });
    }
    for (const stored of added) this.state.insert(stored);
    for (const event of enqueuedEvents(jobs, results)) this.state.emit(event);
    return results;
  }

  async enqueueRunning(job: NewJob, lease: LeaseRequest): Promise<{ created: true; job: ClaimedJob } | { created: false; id: string }> {
    this.state.assertOpen();
    const existing = job.key === null ? undefined : this.state.keys.get(keyOf(job.name, job.key));
    if (existing !== undefined) return { created: false, id: existing };
    const stored = this.state.newJob(job);
    this.state.insert(stored);
    this.state.unindex(stored);
    return { created: true, job: this.startAttempt(stored, lease, false) };
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    this.state.assertOpen();
    return this.claimNow(request);
  }

  async settle(settlements: readonly Settlement[], next?: ClaimRequest): Promise<SettleResult> {
    this.state.assertOpen();
    const applied = settlements.map((settlement) => this.applySettlement(settlement));
    return { applied, claimed: next ? this.claimNow(next) : null };
  }

  async renewLeases(leases: readonly LeaseRef[], leaseMs: number, presence?: PresenceRenewal): Promise<LeaseStatus[]> {
    this.state.assertOpen();
    if (presence) this.workers.registerNow(presence.worker, presence.ttlMs);
    const expiresAt = this.state.clock.now() + leaseMs;
    return leases.map(({ id, token }) => {
      const job = this.heldJob(id, token) ?? this.hookHeldJob(id, token);
      if (!job) return { id, held: false, cancelRequested: false };
      job.lease = { ...job.lease!, expiresAt };
      return { id, held: true, cancelRequested: job.cancelRequested };
    });
  }

  async recordProgress(lease: LeaseRef, progress: JobProgress): Promise<void> {
    this.state.assertOpen();
    const job = this.heldJob(lease.id, lease.token);
    if (!job) throw new LeaseLostError(lease.id);
    job.progress = { ...progress };
    job.progressHistory = [...job.progressHistory, { ...progress }].slice(-recordLimits.maxProgressHistory);
  }

  async appendLog(lease: LeaseRef, entry: JobLogEntry): Promise<void> {
    this.state.assertOpen();
    const job = this.heldJob(lease.id, lease.token);
    if (!job) throw new LeaseLostError(lease.id);
    job.logs = [...job.logs, structuredClone(entry)].slice(-recordLimits.maxLogEntries);
  }

  /**
   * Claims in this order: running jobs whose lease lapsed (their worker crashed; one whose
   * cancel was requested ends cancelled instead), failed jobs whose `failed` hook lapsed the
   * same way, then ready jobs. When it finds fewer than asked, it reports when the next
   * scheduled job it could take is due.
   */
  private claimNow(request: ClaimRequest): ClaimResult {
    const now = this.state.clock.now();
    const queues = new Set(request.queues.filter((queue) => !this.state.queues.get(queue)?.paused));
    const names = new Set(request.names);
    const claimed: ClaimedJob[] = [];
    for (const job of [...this.state.running]) {
      if (claimed.length >= request.limit) break;
      if (job.lease!.expiresAt > now || !queues.has(job.queue) || !names.has(job.name)) continue;
      if (job.cancelRequested) {
        this.endAttempt(job, 'cancelled', null, null, now);
        this.state.finish(job, 'cancelled', job.keepFailedMs);
        continue;
      }
      this.endAttempt(job, 'crashed', null, null, job.lease!.expiresAt);
      job.crashes++;
      claimed.push(this.startAttempt(job, request, true));
    }
    for (const job of [...this.state.hookLeases]) {
      if (claimed.length >= request.limit) break;
      if (job.lease!.expiresAt > now || !queues.has(job.queue) || !names.has(job.name)) continue;
      job.crashes++;
      job.lease = { token: newLeaseToken(), workerId: request.workerId, expiresAt: now + request.leaseMs };
      claimed.push(asClaimedJob(jobRecord(job), true));
    }
    this.state.promoteDue();
    if (claimed.length < request.limit) {
      const taken = this.state.ready.take(request.limit - claimed.length, (job) => queues.has(job.queue) && names.has(job.name));
      for (const job of taken) claimed.push(this.startAttempt(job, request, false));
    }
    let nextRunAt: number | null = null;
    if (claimed.length < request.limit) {
      for (const job of this.state.scheduled) {
        if (queues.has(job.queue) && names.has(job.name) && (nextRunAt === null || job.runAt < nextRunAt)) nextRunAt = job.runAt;
      }
    }
    return { jobs: claimed, nextRunAt };
  }

  private startAttempt(job: StoredJob, lease: LeaseRequest, recovered: boolean): ClaimedJob {
    const now = this.state.clock.now();
    job.state = 'running';
    job.startedAt = now;
    job.lease = { token: newLeaseToken(), workerId: lease.workerId, expiresAt: now + lease.leaseMs };
    this.state.running.add(job);
    return asClaimedJob(jobRecord(job), recovered);
  }

  private applySettlement(settlement: Settlement): boolean {
    if (settlement.kind === 'hook-done') return this.applyHookDone(settlement);
    const job = this.heldJob(settlement.id, settlement.token);
    // This attempt's outcome is already stored: it was written before, and its reply lost.
    if (!job) return this.state.jobs.get(settlement.id)?.settledToken === settlement.token;
    // First, as it is the part that can throw (an id taken): then nothing else has changed.
    const followUps = followUpsOf(settlement);
    if (followUps.length > 0) this.enqueueNow(followUps);
    const now = this.state.clock.now();
    const lease = job.lease!;
    this.state.running.delete(job);
    job.lease = null;
    job.settledToken = settlement.token;
    switch (settlement.kind) {
      case 'complete':
        job.attempts++;
        job.result = settlement.result;
        this.state.finish(job, 'completed', null, settlement.expiresAt);
        break;
      case 'retry':
        // A release or a sleep spends nothing and is not an ended attempt; a retried failure is.
        if (settlement.countAttempt) {
          // It ended when its error was made, as the SQL backends record it.
          this.endAttempt(job, failureOutcome(settlement.error), settlement.error, settlement.runAt, settlement.error?.at ?? now, lease.workerId);
          job.attempts++;
        }
        if (settlement.error) job.error = settlement.error;
        job.runAt = settlement.runAt;
        this.state.reindex(job, settlement.runAt > now ? 'scheduled' : 'queued');
        this.state.emit({ type: 'enqueued', queue: job.queue, runAt: job.runAt });
        break;
      case 'fail':
        this.endAttempt(job, failureOutcome(settlement.error), settlement.error, null, now, lease.workerId);
        if (settlement.countAttempt) job.attempts++;
        job.error = settlement.error;
        // Stored with the failure, in the same write; the lease stays with the worker that runs the hook.
        if (settlement.hookPending) job.failedHook = 'pending';
        this.state.finish(job, 'failed', null, settlement.expiresAt);
        if (settlement.hookPending) {
          job.lease = lease;
          this.state.hookLeases.add(job);
        }
        break;
      case 'cancel':
        this.endAttempt(job, 'cancelled', settlement.error, null, now, lease.workerId);
        if (settlement.error) job.error = settlement.error;
        this.state.finish(job, 'cancelled', null, settlement.expiresAt);
        break;
    }
    return true;
  }

  /** Records the attempt now ending (the job is still as it ran: `attempts` not yet counted). */
  private endAttempt(
    job: StoredJob,
    outcome: AttemptOutcome,
    error: SerializedError | null,
    retryAt: number | null,
    endedAt: number,
    workerId = job.lease?.workerId ?? null,
  ): void {
    appendStoredAttempt(job, { attempt: job.attempts + 1, workerId, startedAt: job.startedAt ?? endedAt, endedAt, outcome, error: error && structuredClone(error), retryAt });
  }

  private applyHookDone(settlement: LeaseRef): boolean {
    const job = this.hookHeldJob(settlement.id, settlement.token);
    if (!job) {
      const stored = this.state.jobs.get(settlement.id);
      return stored?.failedHook === 'done' && stored.settledToken === settlement.token;
    }
    job.failedHook = 'done';
    job.lease = null;
    job.settledToken = settlement.token;
    this.state.hookLeases.delete(job);
    return true;
  }

  /** A running job under this lease. */
  private heldJob(id: string, token: string): StoredJob | undefined {
    const job = this.state.jobs.get(id);
    return job && job.state === 'running' && job.lease?.token === token ? job : undefined;
  }

  /** A failed job whose `failed` hook is pending under this lease. */
  private hookHeldJob(id: string, token: string): StoredJob | undefined {
    const job = this.state.jobs.get(id);
    return job && job.state === 'failed' && job.failedHook === 'pending' && job.lease?.token === token ? job : undefined;
  }
}

