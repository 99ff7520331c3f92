import type { EnqueueCallOptions } from '../../contract/job-queue.ts';
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
import { InvalidFlowError, InvalidOptionError } from '../../domain/errors.ts';
import type { JobFlowPosition } from '../../domain/job-record.ts';
import { type JobState, isTerminal, jobStates } from '../../domain/job-state.ts';
import type { MemoryState } from './memory-backend.ts';
import type { StoredJob } from './memory-rows.ts';

/** One dependency: `parentId` waits for `childId`. The same object sits in both jobs' nodes. */
interface FlowEdge {
  parentId: string;
  childId: string;
  /** Kept here so a parent can still name a child deleted or pruned after it finished. */
  childName: string;
  policy: ChildFailurePolicy;
  /** Set once, by the write that made the child finish. */
  resolved: boolean;
}

/** A flow job's place in its graph, held on the stored job (`StoredJob.flowNode`). */
export interface FlowNode {
  flowId: string;
  runIf: RunCondition;
  /** Its dependencies, in the order they were given; kept when a child goes. */
  children: FlowEdge[];
  pending: number;
  /** Dependencies resolved on a child that did not complete (`runIf: 'any-child-failed'`). */
  notCompleted: number;
  /** Dependencies of live parents on this job. */
  parents: FlowEdge[];
}

type ChildOutcome = 'completed' | 'failed' | 'cancelled';

/**
 * The memory backend's flows, the reference for every backend: the rules of flow-store.ts in
 * plain code. `MemoryState.finish` calls `finished` for every flow job that reaches a terminal
 * state (settle, cancel, a claim that cancels an expired job), and `remove` calls `removed`
 * (delete, prune), so each rule is kept in the same synchronous step as the write that caused it.
 */
export class MemoryFlows implements FlowStore {
  /** The jobs of each flow, for `flowProgress`. */
  private readonly members = new Map<string, Set<StoredJob>>();
  /** Jobs that finished and whose parents are still to be resolved: a worklist, so a deep graph needs no deep stack. */
  private readonly toResolve: Array<{ job: StoredJob; outcome: ChildOutcome }> = [];
  private resolving = false;

  constructor(private readonly state: MemoryState) {}

  async enqueueFlow(flow: NewFlow, options: EnqueueCallOptions = {}): Promise<void> {
    this.state.assertOpen();
    if (options.tx !== undefined) throw new InvalidOptionError('tx', options.tx, 'no transaction: the memory backend has none to join');
    // Every check before the first write: all or nothing.
    const ids = new Set<string>();
    for (const job of flow.jobs) {
      if (this.state.jobs.has(job.id) || ids.has(job.id)) throw new InvalidFlowError(`the id "${job.id}" is already taken`, { details: { id: job.id } });
      if (job.key !== null) throw new InvalidFlowError(`job ${job.id} has a key, which a flow job cannot have`, { details: { id: job.id } });
      ids.add(job.id);
    }
    for (const job of flow.jobs) {
      for (const dependency of job.dependsOn) {
        if (!ids.has(dependency.childId)) throw new InvalidFlowError(`job ${job.id} depends on ${dependency.childId}, which is not in the flow`, { details: { id: job.id } });
      }
    }
    const stored = new Map<string, StoredJob>();
    for (const job of flow.jobs) {
      const row = this.state.newJob(job);
      row.flowNode = { flowId: flow.flowId, runIf: job.runIf, children: [], pending: job.dependsOn.length, notCompleted: 0, parents: [] };
      if (job.dependsOn.length > 0) Object.assign(row, { state: 'scheduled', runAt: waitingForChildrenRunAt });
      stored.set(job.id, row);
    }
    for (const job of flow.jobs) {
      const parent = stored.get(job.id)!;
      for (const { childId, onChildFailure } of job.dependsOn) {
        const child = stored.get(childId)!;
        const edge: FlowEdge = { parentId: job.id, childId, childName: child.name, policy: onChildFailure, resolved: false };
        parent.flowNode!.children.push(edge);
        child.flowNode!.parents.push(edge);
      }
    }
    const members = this.members.get(flow.flowId) ?? new Set<StoredJob>();
    this.members.set(flow.flowId, members);
    const earliest = new Map<string, number>();
    for (const row of stored.values()) {
      this.state.insert(row);
      members.add(row);
      if (row.runAt !== waitingForChildrenRunAt) earliest.set(row.queue, Math.min(earliest.get(row.queue) ?? row.runAt, row.runAt));
    }
    for (const [queue, runAt] of earliest) this.state.emit({ type: 'enqueued', queue, runAt });
  }

  async listChildren(parentId: string): Promise<FlowChild[]> {
    this.state.assertOpen();
    const node = this.state.jobs.get(parentId)?.flowNode;
    if (!node) return [];
    return node.children.map((edge) => {
      const child = this.state.jobs.get(edge.childId);
      return {
        id: edge.childId,
        name: edge.childName,
        state: child?.state ?? null,
        result: child?.state === 'completed' ? structuredClone(child.result) : null,
        error: child?.error ? structuredClone(child.error) : null,
        onChildFailure: edge.policy,
        finishedAt: child?.finishedAt ?? null,
      };
    });
  }

  async flowProgress(flowId: string): Promise<FlowProgress | null> {
    this.state.assertOpen();
    const members = this.members.get(flowId);
    if (!members || members.size === 0) return null;
    const counts = Object.fromEntries(jobStates.map((state) => [state, 0])) as Record<JobState, number>;
    const leaves = { total: 0, finished: 0 };
    let finished = 0;
    for (const job of members) {
      counts[job.state]++;
      const done = isTerminal(job.state);
      if (done) finished++;
      if (job.flowNode!.children.length === 0) {
        leaves.total++;
        if (done) leaves.finished++;
      }
    }
    return { flowId, total: members.size, finished, counts, leaves };
  }

  /** Whether the job is a parent still waiting for its children (not released, not finished). */
  isWaiting(job: StoredJob): boolean {
    return job.state === 'scheduled' && job.runAt === waitingForChildrenRunAt && job.flowNode !== undefined;
  }

  /** A flow job reached a terminal state: resolve every dependency on it not yet resolved. */
  finished(job: StoredJob, outcome: ChildOutcome = job.state as ChildOutcome): void {
    this.toResolve.push({ job, outcome });
    // A parent failed or cancelled below calls back here: it is queued, not recursed into.
    if (this.resolving) return;
    this.resolving = true;
    try {
      for (let next = this.toResolve.shift(); next; next = this.toResolve.shift()) this.resolveParentsOf(next.job, next.outcome);
    } finally {
      this.resolving = false;
    }
  }

  /**
   * A flow job is being deleted or pruned. One that had not finished counts as `cancelled`
   * for its parents; then its dependencies go (its children stay), and its parents keep their
   * edges to it, so they can list it (`state: null`).
   */
  removed(job: StoredJob): void {
    const node = job.flowNode!;
    if (!isTerminal(job.state)) this.finished(job, 'cancelled');
    for (const edge of node.children) {
      const child = this.state.jobs.get(edge.childId);
      if (child?.flowNode) child.flowNode.parents = child.flowNode.parents.filter((other) => other !== edge);
    }
    node.parents = [];
    const members = this.members.get(node.flowId);
    members?.delete(job);
    if (members?.size === 0) this.members.delete(node.flowId);
  }

  /** Whether prune must keep this finished job: a parent of it has not finished and will read it. */
  heldByParent(job: StoredJob): boolean {
    return job.flowNode!.parents.some((edge) => {
      const parent = this.state.jobs.get(edge.parentId);
      return parent !== undefined && !isTerminal(parent.state);
    });
  }

  /**
   * A waiting parent was cancelled: every descendant that has not finished is cancelled too
   * (a running one is asked to stop), in the same step. Walked with a stack, not recursion.
   */
  cancelDescendants(parent: StoredJob): void {
    const seen = new Set<string>([parent.id]);
    const stack = [...parent.flowNode!.children];
    for (let edge = stack.pop(); edge; edge = stack.pop()) {
      if (seen.has(edge.childId)) continue;
      seen.add(edge.childId);
      const child = this.state.jobs.get(edge.childId);
      if (!child) continue;
      stack.push(...child.flowNode!.children);
      if (isTerminal(child.state)) continue;
      if (child.state === 'running') {
        if (!child.cancelRequested) {
          child.cancelRequested = true;
          this.state.emit({ type: 'cancel-requested', id: child.id });
        }
        continue;
      }
      this.state.unindex(child);
      this.state.finish(child, 'cancelled', child.keepFailedMs);
    }
  }

  private resolveParentsOf(child: StoredJob, outcome: ChildOutcome): void {
    for (const edge of child.flowNode!.parents) {
      if (edge.resolved) continue;
      edge.resolved = true;
      const parent = this.state.jobs.get(edge.parentId);
      if (!parent?.flowNode) continue;
      const node = parent.flowNode;
      node.pending--;
      if (outcome !== 'completed') node.notCompleted++;
      // Only a parent still waiting changes; its counter above goes down whatever its state.
      if (!this.isWaiting(parent)) continue;
      const now = this.state.clock.now();
      if (outcome === 'completed' || edge.policy === 'ignore') {
        if (node.pending > 0) continue;
        if (node.runIf === 'any-child-failed' && node.notCompleted === 0) {
          parent.error = flowConditionUnmetError(now);
          this.state.unindex(parent);
          this.state.finish(parent, 'cancelled', parent.keepFailedMs);
        } else this.release(parent, now);
      } else if (edge.policy === 'continue') {
        this.release(parent, now);
      } else {
        parent.error = childFailedError({ id: child.id, name: edge.childName, state: outcome }, now);
        this.state.unindex(parent);
        this.state.finish(parent, edge.policy === 'fail' ? 'failed' : 'cancelled', parent.keepFailedMs);
      }
    }
  }

  private release(parent: StoredJob, now: number): void {
    parent.runAt = now;
    this.state.reindex(parent, 'queued');
    this.state.emit({ type: 'enqueued', queue: parent.queue, runAt: now });
  }

  /** What `get` and `list` show of a flow job. */
  static position(node: FlowNode): JobFlowPosition {
    return { flowId: node.flowId, children: node.children.length, pendingChildren: node.pending, hasParents: node.parents.length > 0 };
  }
}
