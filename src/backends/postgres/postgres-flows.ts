import type { EnqueueCallOptions } from '../../contract/job-queue.ts';
import {
  type ChildFailurePolicy,
  type FlowChild,
  type FlowProgress,
  type FlowStore,
  type NewFlow,
  waitingForChildrenRunAt,
} from '../../contract/flow-store.ts';
import { InvalidFlowError, StoreError } from '../../domain/errors.ts';
import type { JobRecord } from '../../domain/job-record.ts';
import { type JobState, isTerminal, jobStates } from '../../domain/job-state.ts';
import type { JsonValue } from '../../domain/json-value.ts';
import { isUuid } from './postgres-admin.ts';
import { type PgQueryable, type PostgresConnection, loadStatements, q } from './postgres-connection.ts';

const flowStatements = [
  'insertFlow',
  'listChildren',
  'flowProgress',
  'resolveParents',
  'lockDescendants',
  'lockChildren',
  'cancelDescendants',
  'forgetParents',
  'lockPrunableParents',
  'pruneParents',
] as const;

interface PgChildRow {
  id: string;
  name: string;
  state: JobState | null;
  result: JsonValue | null;
  error: JobRecord['error'];
  policy: ChildFailurePolicy;
  finished_at: number | null;
}

/**
 * The flows role on PostgreSQL (migration 10): flow columns on `jobs`, a row per dependency
 * in `flow_dependencies`, and resolve_flow_parents(), which keeps the rules of flow-store.ts
 * in the transaction of the write that ends a child. claim() and settle_and_claim() call it
 * themselves; the admin role (cancel, delete, prune) calls the steps below in its own
 * transactions.
 */
export class PostgresFlows implements FlowStore {
  private readonly sql: Record<(typeof flowStatements)[number], string>;

  constructor(private readonly connection: PostgresConnection) {
    this.sql = loadStatements(new URL('./sql/flows.sql', import.meta.url), flowStatements, connection);
  }

  async enqueueFlow(flow: NewFlow, options: EnqueueCallOptions = {}): Promise<void> {
    // Every check before the write, so a refused flow writes nothing (the runtime checked the graph; this is the store's own guard).
    const ids = new Set<string>();
    for (const job of flow.jobs) {
      if (!isUuid(job.id)) throw new InvalidFlowError(`the id "${job.id}" is not a UUID`, { details: { id: job.id } });
      if (ids.has(job.id)) throw new InvalidFlowError(`the id "${job.id}" is used twice`, { details: { id: job.id } });
      if (job.key !== null) throw new InvalidFlowError(`job ${job.id} has a key, which a flow job cannot have`, { details: { id: job.id } });
      ids.add(job.id);
    }
    const names = new Map(flow.jobs.map((job) => [job.id, job.name]));
    const hasParents = new Set<string>();
    const dependencies = { parent: [] as string[], child: [] as string[], position: [] as number[], childName: [] as string[], policy: [] as string[] };
    for (const job of flow.jobs) {
      job.dependsOn.forEach((dependency, position) => {
        const childName = names.get(dependency.childId);
        if (childName === undefined) throw new InvalidFlowError(`job ${job.id} depends on ${dependency.childId}, which is not in the flow`, { details: { id: job.id } });
        hasParents.add(dependency.childId);
        dependencies.parent.push(job.id);
        dependencies.child.push(dependency.childId);
        dependencies.position.push(position);
        dependencies.childName.push(childName);
        dependencies.policy.push(dependency.onChildFailure);
      });
    }
    const heights = flowHeights(flow.jobs);
    const now = this.connection.clock.now();
    const waits = (job: NewFlow['jobs'][number]) => job.dependsOn.length > 0;
    const column = <T>(pick: (job: NewFlow['jobs'][number]) => T) => flow.jobs.map(pick);
    const values = [
      column((job) => job.id),
      column((job) => job.name),
      column((job) => job.queue),
      column((job) => (waits(job) || job.runAt > now ? 'scheduled' : 'queued')),
      column((job) => job.payload),
      column((job) => JSON.stringify(job.metadata)),
      column((job) => job.priority),
      column((job) => job.maxAttempts),
      column((job) => (job.backoff === null ? null : JSON.stringify(job.backoff))),
      column((job) => job.timeoutMs),
      column((job) => job.keepCompletedMs),
      column((job) => job.keepFailedMs),
      column((job) => (waits(job) ? waitingForChildrenRunAt : job.runAt)),
      column((job) => job.createdAt),
      flow.flowId,
      column((job) => job.runIf),
      column((job) => hasParents.has(job.id)),
      column((job) => job.dependsOn.length),
      dependencies.parent,
      dependencies.child,
      dependencies.position,
      dependencies.childName,
      dependencies.policy,
      column((job) => heights.get(job.id)!),
    ];
    // One statement: atomic on its own, and inside the caller's transaction when given one.
    const write = (db: PgQueryable) => q<{ taken: string | null }>(db, this.sql.insertFlow, values);
    const { rows } = await (options.tx === undefined ? this.connection.run('enqueueFlow', write) : this.connection.inTransaction(options.tx, 'enqueueFlow', write)).catch(
      (error: unknown) => {
        // An id taken by a job committed between the statement's check and its insert.
        if (error instanceof StoreError && error.details.pgCode === '23505') throw new InvalidFlowError('one of its ids was taken meanwhile', { cause: error });
        throw error;
      },
    );
    const taken = rows[0]?.taken ?? null;
    if (taken !== null) throw new InvalidFlowError(`the id "${taken}" is already taken`, { details: { id: taken } });
    // Wakes this process's idle workers for the jobs runnable now, as an enqueue does (others hear the insert trigger's NOTIFY).
    const earliest = new Map<string, number>();
    for (const job of flow.jobs) if (!waits(job)) earliest.set(job.queue, Math.min(earliest.get(job.queue) ?? job.runAt, job.runAt));
    for (const [queue, runAt] of earliest) this.connection.emit({ type: 'enqueued', queue, runAt });
  }

  async listChildren(parentId: string): Promise<FlowChild[]> {
    if (!isUuid(parentId)) return [];
    const { rows } = await this.connection.run('listChildren', (db) => q<PgChildRow>(db, this.sql.listChildren, [parentId]));
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      state: row.state,
      result: row.result ?? null,
      error: row.error ?? null,
      onChildFailure: row.policy,
      finishedAt: row.finished_at,
    }));
  }

  async flowProgress(flowId: string): Promise<FlowProgress | null> {
    const { rows } = await this.connection.run('flowProgress', (db) =>
      q<{ state: JobState; count: number; leaves: number }>(db, this.sql.flowProgress, [flowId]),
    );
    if (rows.length === 0) return null;
    const counts = Object.fromEntries(jobStates.map((state) => [state, 0])) as Record<JobState, number>;
    const leaves = { total: 0, finished: 0, completed: 0, failed: 0, cancelled: 0 };
    let total = 0;
    let finished = 0;
    for (const row of rows) {
      counts[row.state] = row.count;
      total += row.count;
      leaves.total += row.leaves;
      if (isTerminal(row.state)) {
        finished += row.count;
        leaves.finished += row.leaves;
        leaves[row.state as 'completed' | 'failed' | 'cancelled'] = row.leaves;
      }
    }
    return { flowId, total, finished, counts, leaves };
  }

  /** Resolves the parents of jobs that just finished by a write of the admin role, or are being deleted unfinished (counted as cancelled). */
  async resolveParents(db: PgQueryable, childIds: readonly string[], now: number): Promise<void> {
    if (childIds.length > 0) await q(db, this.sql.resolveParents, [childIds, now]);
  }

  /**
   * A waiting parent was cancelled: cancels its unfinished descendants (a running one is asked
   * to stop) and resolves their parents. Returns which were cancelled and which asked, for events.
   */
  async cancelDescendants(db: PgQueryable, parentId: string, now: number): Promise<{ cancelled: string[]; requested: string[] }> {
    const { rows } = await q<{ cancelled: string[]; requested: string[] }>(db, this.sql.cancelDescendants, [parentId, now]);
    const { cancelled, requested } = rows[0]!;
    await this.resolveParents(db, cancelled, now);
    return { cancelled, requested };
  }

  /** Before a cancel locks `id`: when it is a parent waiting for its children, its unfinished descendants, children first. */
  async lockDescendants(db: PgQueryable, id: string): Promise<void> {
    await q(db, this.sql.lockDescendants, [id]);
  }

  /** Before a delete locks `id`: its children, if it has any. */
  async lockChildren(db: PgQueryable, id: string): Promise<void> {
    await q(db, this.sql.lockChildren, [id]);
  }

  /**
   * Prune's parents, after the jobs without children: those that meet the request's
   * conditions and have no unfinished parent, their children locked first. Returns how many went.
   */
  async pruneParents(db: PgQueryable, request: { states: string[]; finishedBy: number | null; expiredBy: number | null }): Promise<number> {
    const conditions = [request.states, request.finishedBy, request.expiredBy];
    const { rows } = await q<{ parents: string[] }>(db, this.sql.lockPrunableParents, conditions);
    const candidates = rows[0]!.parents;
    if (candidates.length === 0) return 0;
    const pruned = await q<{ id: string }>(db, this.sql.pruneParents, [...conditions, candidates]);
    await this.forgetParents(db, pruned.rows.map((row) => row.id));
    return pruned.rows.length;
  }

  /** Parents just deleted: their dependencies go, and children left without a parent say so. */
  async forgetParents(db: PgQueryable, parentIds: readonly string[]): Promise<void> {
    if (parentIds.length > 0) await q(db, this.sql.forgetParents, [parentIds]);
  }
}

/**
 * Each job's height in its flow: 0 without children, else one more than its highest child,
 * so a child is always lower than its parents (the lock order of migration 10). Walked with a
 * stack, not recursion, so a chain of maxFlowJobs takes no call depth.
 */
function flowHeights(jobs: NewFlow['jobs']): Map<string, number> {
  const byId = new Map(jobs.map((job) => [job.id, job]));
  const heights = new Map<string, number>();
  const entered = new Set<string>();
  for (const root of jobs) {
    const stack = [root.id];
    while (stack.length > 0) {
      const id = stack.at(-1)!;
      if (heights.has(id)) {
        stack.pop();
        continue;
      }
      const job = byId.get(id)!;
      if (!entered.has(id)) {
        entered.add(id);
        for (const { childId } of job.dependsOn) {
          if (heights.has(childId)) continue;
          if (entered.has(childId)) throw new InvalidFlowError(`job ${childId} depends on itself through its parents (a cycle)`, { details: { id: childId } });
          stack.push(childId);
        }
        continue;
      }
      heights.set(id, job.dependsOn.reduce((height, { childId }) => Math.max(height, heights.get(childId)! + 1), 0));
      stack.pop();
    }
  }
  return heights;
}
