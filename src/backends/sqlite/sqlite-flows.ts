import type { BackendEvent } from '../../contract/backend.ts';
import {
  type ChildFailurePolicy,
  type FlowChild,
  type FlowProgress,
  type FlowStore,
  type NewFlow,
  type RunCondition,
  childFailedError,
  flowConditionUnmetError,
  waitingForChildrenRunAt,
} from '../../contract/flow-store.ts';
import type { EnqueueCallOptions } from '../../contract/job-queue.ts';
import { bucketOf, emptyCounts } from '../../contract/stats-window.ts';
import { InvalidFlowError, InvalidOptionError } from '../../domain/errors.ts';
import { type JobState, isTerminal } from '../../domain/job-state.ts';
import type { SerializedError } from '../../domain/serialized-error.ts';
import type { SqliteConnection } from './sqlite-connection.ts';

/** A flow job that just finished, whose parents are still to be resolved. */
export interface FinishedChild {
  id: string;
  state: 'completed' | 'failed' | 'cancelled';
}

/** The row `countDown` returns: the parent of a dependency just resolved. */
interface ParentRow {
  id: string;
  state: JobState;
  run_at: number;
  pending_children: number;
  run_if: RunCondition | null;
  queue: string;
  keep_failed_ms: number | null;
  has_parents: number;
}

/**
 * The flows role on SQLite: a row per dependency in `jobsmith_dependencies`, and a flow job's
 * place in its flow in columns of its own row (migration 7). The queue and admin roles call
 * `resolveParents` and `cancelDescendants` inside the transaction of the write that made a
 * child finish, only for rows whose `has_parents` (or `flow_id`) says they are in a flow:
 * the one test jobs outside flows pay.
 */
export class SqliteFlows implements FlowStore {
  constructor(private readonly connection: SqliteConnection) {}

  async enqueueFlow(flow: NewFlow, options: EnqueueCallOptions = {}): Promise<void> {
    if (options.tx !== undefined) throw new InvalidOptionError('tx', options.tx, 'no transaction: transactional enqueue is for the postgres backend');
    checkFlow(flow);
    const events = await this.connection.write('enqueueFlow', () => this.insertFlow(flow));
    for (const event of events) this.connection.emit(event);
  }

  async listChildren(parentId: string): Promise<FlowChild[]> {
    type ChildRow = {
      child_id: string;
      child_name: string;
      policy: ChildFailurePolicy;
      state: JobState | null;
      result: string | null;
      error: string | null;
      finished_at: number | null;
    };
    const rows = await this.connection.read('listChildren', () => this.connection.statements.childrenOf.all(parentId) as ChildRow[]);
    return rows.map((row) => ({
      id: row.child_id,
      name: row.child_name,
      state: row.state,
      // A child retried after it completed keeps its old result in the row until it completes again.
      result: row.state === 'completed' && row.result !== null ? JSON.parse(row.result) : null,
      error: row.error === null ? null : (JSON.parse(row.error) as SerializedError),
      onChildFailure: row.policy,
      finishedAt: row.finished_at,
    }));
  }

  async flowProgress(flowId: string): Promise<FlowProgress | null> {
    const rows = await this.connection.read(
      'flowProgress',
      // Its unfinished jobs and its finished ones, each table through its index on flow_id (migration 8);
      // a state may come from both (a failure whose hook is pending is still in jobsmith_jobs).
      () =>
        [...this.connection.statements.flowCounts.all(flowId), ...this.connection.statements.finishedFlowCounts.all(flowId)] as Array<{
          state: JobState;
          count: number;
          leaves: number;
        }>,
    );
    if (rows.length === 0) return null;
    const counts = emptyCounts();
    const progress: FlowProgress = { flowId, total: 0, finished: 0, counts, leaves: { total: 0, finished: 0, completed: 0, failed: 0, cancelled: 0 } };
    for (const row of rows) {
      counts[row.state] += row.count;
      progress.total += row.count;
      progress.leaves.total += row.leaves;
      if (isTerminal(row.state)) {
        progress.finished += row.count;
        progress.leaves.finished += row.leaves;
        progress.leaves[row.state as 'completed' | 'failed' | 'cancelled'] += row.leaves;
      }
    }
    return progress;
  }

  /**
   * Resolves every dependency on the children that just finished (inside the caller's
   * transaction), and on every parent that finishes because of them, however deep: a worklist,
   * not recursion, so a chain of `maxFlowJobs` takes a loop, not a stack. Adds to `events`
   * what the changed parents announce.
   */
  resolveParents(finished: readonly FinishedChild[], events: BackendEvent[]): void {
    if (finished.length === 0) return;
    const s = this.connection.statements;
    const now = this.connection.clock.now();
    const work = [...finished];
    for (let next = 0; next < work.length; next++) {
      const child = work[next]!;
      const dependencies = s.resolveDependencies.all({ outcome: child.state, childId: child.id }) as Array<{
        parent_id: string;
        child_name: string;
        policy: ChildFailurePolicy;
      }>;
      for (const dependency of dependencies) {
        const parent = s.countDown.get(dependency.parent_id) as ParentRow | undefined;
        // A parent not in jobsmith_jobs has finished (or is gone): its row is counted down where it is.
        if (!parent) s.countDownFinished.run(dependency.parent_id);
        // Only a parent still waiting changes; one released, running or finished keeps its state.
        if (!parent || !isWaiting(parent)) continue;
        let outcome: FinishedChild['state'] | null = null;
        let error: SerializedError | null = null;
        if (child.state === 'completed' || dependency.policy === 'ignore') {
          if (parent.pending_children > 0) continue;
          if (parent.run_if === 'any-child-failed' && s.anyNotCompleted.get(parent.id) === undefined) {
            outcome = 'cancelled';
            error = flowConditionUnmetError(now);
          }
        } else if (dependency.policy !== 'continue') {
          outcome = dependency.policy === 'fail' ? 'failed' : 'cancelled';
          error = childFailedError({ id: child.id, name: dependency.child_name, state: child.state }, now);
        }
        if (outcome === null) {
          s.releaseParent.run(now, parent.id);
          events.push({ type: 'enqueued', queue: parent.queue, runAt: now });
          continue;
        }
        s.finishParent.run(outcome, JSON.stringify(error), now, parent.keep_failed_ms === null ? null : now + parent.keep_failed_ms, parent.id);
        s.touchQueue.run({ now, queue: parent.queue });
        if (outcome === 'failed') s.addCounts.run(parent.queue, bucketOf(now), 0, 1);
        events.push({ type: 'settled', id: parent.id, state: outcome });
        if (parent.has_parents === 1) work.push({ id: parent.id, state: outcome });
      }
    }
  }

  /**
   * A waiting parent was cancelled (inside the caller's transaction): every job below it that
   * has not finished is cancelled too, and a running one is asked to stop. Returns the jobs
   * cancelled, whose parents the caller resolves.
   */
  cancelDescendants(parentId: string, events: BackendEvent[]): FinishedChild[] {
    const s = this.connection.statements;
    const now = this.connection.clock.now();
    const cancelled: FinishedChild[] = [];
    const rows = s.unfinishedDescendants.all(parentId) as Array<{ id: string; state: JobState; queue: string; keep_failed_ms: number | null; cancel_requested: number }>;
    for (const row of rows) {
      if (row.state === 'running') {
        if (row.cancel_requested === 1) continue;
        s.requestCancelDescendant.run(row.id);
        events.push({ type: 'cancel-requested', id: row.id });
        continue;
      }
      s.cancelDescendant.run(now, row.keep_failed_ms === null ? null : now + row.keep_failed_ms, row.id);
      s.touchQueue.run({ now, queue: row.queue });
      events.push({ type: 'settled', id: row.id, state: 'cancelled' });
      cancelled.push({ id: row.id, state: 'cancelled' });
    }
    return cancelled;
  }

  /** Inserts the flow's jobs and dependencies (inside the write's transaction); returns the events to emit once it commits. */
  private insertFlow(flow: NewFlow): BackendEvent[] {
    const s = this.connection.statements;
    const now = this.connection.clock.now();
    const taken = s.takenId.get(JSON.stringify(flow.jobs.map((job) => job.id))) as { id: string } | undefined;
    if (taken) throw takenIdError(taken.id);
    const hasParents = new Set(flow.jobs.flatMap((job) => job.dependsOn.map((dependency) => dependency.childId)));
    const names = new Map(flow.jobs.map((job) => [job.id, job.name]));
    const earliest = new Map<string, number>();
    for (const job of flow.jobs) {
      const waits = job.dependsOn.length > 0;
      const runAt = waits ? waitingForChildrenRunAt : job.runAt;
      try {
        s.insertFlowJob.run({
          id: job.id,
          name: job.name,
          queue: job.queue,
          state: waits || job.runAt > now ? 'scheduled' : 'queued',
          payload: job.payload,
          metadata: JSON.stringify(job.metadata),
          priority: job.priority,
          maxAttempts: job.maxAttempts,
          backoff: job.backoff === null ? null : JSON.stringify(job.backoff),
          timeoutMs: job.timeoutMs,
          keepCompletedMs: job.keepCompletedMs,
          keepFailedMs: job.keepFailedMs,
          runAt,
          createdAt: job.createdAt,
          flowId: flow.flowId,
          hasParents: hasParents.has(job.id) ? 1 : 0,
          children: job.dependsOn.length,
          runIf: job.runIf,
        });
      } catch (error) {
        // Checked above; a unique violation here is an id given twice in the flow.
        if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw takenIdError(job.id, error);
        throw error;
      }
      if (!waits) earliest.set(job.queue, Math.min(earliest.get(job.queue) ?? job.runAt, job.runAt));
    }
    for (const job of flow.jobs) {
      job.dependsOn.forEach((dependency, position) => {
        s.insertDependency.run(job.id, dependency.childId, position, names.get(dependency.childId), dependency.onChildFailure);
      });
    }
    for (const queue of new Set(flow.jobs.map((job) => job.queue))) s.ensureQueue.run(queue);
    return [...earliest].map(([queue, runAt]): BackendEvent => ({ type: 'enqueued', queue, runAt }));
  }
}

/** Whether a row is a parent still waiting for its children (not released, not finished). */
export function isWaiting(row: { state: JobState; run_at: number }): boolean {
  return row.state === 'scheduled' && row.run_at === waitingForChildrenRunAt;
}

/**
 * What the runtime's plan (flow-plan.ts) already guarantees, checked again before the write so
 * a caller of the backend alone cannot store half a graph: no key, no dependency outside the flow.
 */
function checkFlow(flow: NewFlow): void {
  const ids = new Set<string>();
  for (const job of flow.jobs) {
    if (ids.has(job.id)) throw takenIdError(job.id);
    if (job.key !== null) throw new InvalidFlowError(`job ${job.id} has a key, which a flow job cannot have`, { details: { id: job.id } });
    ids.add(job.id);
  }
  for (const job of flow.jobs) {
    for (const dependency of job.dependsOn) {
      if (!ids.has(dependency.childId)) throw new InvalidFlowError(`job ${job.id} depends on ${dependency.childId}, which is not in the flow`, { details: { id: job.id } });
    }
  }
}

function takenIdError(id: string, cause?: unknown): InvalidFlowError {
  return new InvalidFlowError(`the id "${id}" is already taken`, { details: { id }, ...(cause === undefined ? {} : { cause }) });
}
