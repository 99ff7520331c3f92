import type { BackendStats, CancelResult, JobAdmin, JobPage, ListFilter, PruneRequest } from '../../contract/backend.ts';
import { listCursor, pageSize } from '../../contract/list-cursor.ts';
import { buildStats } from '../../contract/stats-window.ts';
import { InvalidStateError } from '../../domain/errors.ts';
import { type JobRecord, hookPendingDescription } from '../../domain/job-record.ts';
import { type JobState, isTerminal, terminalStates } from '../../domain/job-state.ts';
import type { MemoryState } from './memory-backend.ts';
import { jobRecord, keyOf } from './memory-rows.ts';

/** The memory backend's administration: reading jobs, steering them, and pausing queues. */
export class MemoryAdmin implements JobAdmin {
  constructor(private readonly state: MemoryState) {}

  async get(id: string): Promise<JobRecord | null> {
    this.state.assertOpen();
    const job = this.state.jobs.get(id);
    return job ? jobRecord(job) : null;
  }

  async findByIdPrefix(prefix: string, limit: number): Promise<JobRecord[]> {
    this.state.assertOpen();
    const found: JobRecord[] = [];
    for (const job of [...this.state.jobs.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      if (job.id.startsWith(prefix)) found.push(jobRecord(job));
      if (found.length >= limit) break;
    }
    return found;
  }

  async list(filter: ListFilter): Promise<JobPage> {
    this.state.assertOpen();
    this.state.promoteDue();
    const states = filter.state === undefined ? null : new Set(typeof filter.state === 'string' ? [filter.state] : filter.state);
    const limit = pageSize(filter.limit);
    const after = listCursor.decode(filter.cursor);
    const matching = [...this.state.jobs.values()]
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
    return { jobs: page.map((job) => jobRecord(job)), nextCursor: more ? listCursor.encode(page.at(-1)!.id) : null };
  }

  async cancel(id: string): Promise<CancelResult> {
    this.state.assertOpen();
    const job = this.state.jobs.get(id);
    if (!job) return { outcome: 'not-found' };
    if (isTerminal(job.state)) return { outcome: 'already-finished', job: jobRecord(job) };
    if (job.state === 'running') {
      job.cancelRequested = true;
      this.state.emit({ type: 'cancel-requested', id });
      return { outcome: 'cancel-requested', job: jobRecord(job) };
    }
    const waitingParent = job.flowNode !== undefined && this.state.flows.isWaiting(job);
    this.state.unindex(job);
    this.state.finish(job, 'cancelled', job.keepFailedMs);
    if (waitingParent) this.state.flows.cancelDescendants(job);
    return { outcome: 'cancelled', job: jobRecord(job) };
  }

  async retry(id: string): Promise<JobRecord> {
    this.state.assertOpen();
    const job = this.state.jobs.get(id);
    if (!job) throw new InvalidStateError(id, 'missing', 'retry');
    if (job.state !== 'failed' && job.state !== 'cancelled') throw new InvalidStateError(id, job.state, 'retry');
    if (job.failedHook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'retry');
    if (job.key !== null && this.state.keys.has(keyOf(job.name, job.key))) throw new InvalidStateError(id, `${job.state}, and its key "${job.key}" is held by another active job`, 'retry');
    Object.assign(job, { attempts: 0, crashes: 0, runAt: this.state.clock.now(), finishedAt: null, expiresAt: null, cancelRequested: false, failedHook: null });
    this.state.reindex(job, 'queued');
    this.state.emit({ type: 'enqueued', queue: job.queue, runAt: job.runAt });
    return jobRecord(job);
  }

  async delete(id: string): Promise<boolean> {
    this.state.assertOpen();
    const job = this.state.jobs.get(id);
    if (!job) return false;
    if (job.state === 'running') throw new InvalidStateError(id, 'running', 'delete (cancel it first)');
    if (job.failedHook === 'pending') throw new InvalidStateError(id, hookPendingDescription, 'delete');
    this.state.remove(job);
    return true;
  }

  async prune(request: PruneRequest): Promise<number> {
    this.state.assertOpen();
    const states = new Set(request.states ?? terminalStates);
    const now = this.state.clock.now();
    let removed = 0;
    for (const job of [...this.state.finished]) {
      if (job.failedHook === 'pending') continue;
      // A parent that has not finished will read this child's result.
      if (job.flowNode && this.state.flows.heldByParent(job)) continue;
      const old = request.finishedBy !== undefined && states.has(job.state) && job.finishedAt! <= request.finishedBy;
      const lapsed = request.expired === true && job.expiresAt !== null && job.expiresAt <= now;
      if (old || lapsed) {
        this.state.remove(job);
        removed++;
      }
    }
    return removed;
  }

  async stats(): Promise<BackendStats> {
    this.state.assertOpen();
    this.state.promoteDue();
    const counts = new Map<string, { queue: string; state: JobState; count: number }>();
    const oldest = new Map<string, number>();
    const waitingForChildren = new Map<string, number>();
    for (const job of this.state.jobs.values()) {
      const id = `${job.queue}\u0000${job.state}`;
      const row = counts.get(id) ?? { queue: job.queue, state: job.state, count: 0 };
      row.count++;
      counts.set(id, row);
      if (job.state === 'queued' && job.runAt < (oldest.get(job.queue) ?? Number.POSITIVE_INFINITY)) oldest.set(job.queue, job.runAt);
      if (this.state.flows.isWaiting(job)) waitingForChildren.set(job.queue, (waitingForChildren.get(job.queue) ?? 0) + 1);
    }
    const queues = [...this.state.queues].map(([queue, row]) => ({ queue, ...row }));
    const waiting = [...oldest].map(([queue, runAt]) => ({ queue, runAt }));
    const parents = [...waitingForChildren].map(([queue, count]) => ({ queue, count }));
    return buildStats(this.state.clock.now(), [...counts.values()], queues, [...this.state.buckets.values()], waiting, parents);
  }

  async pause(queue: string): Promise<void> {
    this.state.assertOpen();
    this.state.queueRow(queue).paused = true;
  }

  async resume(queue: string): Promise<void> {
    this.state.assertOpen();
    this.state.queueRow(queue).paused = false;
    this.state.emit({ type: 'resumed', queue });
  }
}
