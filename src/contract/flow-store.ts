import type { ChildFailurePolicy, FlowChild } from '../domain/flow-child.ts';
import type { JobState } from '../domain/job-state.ts';
import type { SerializedError } from '../domain/serialized-error.ts';
import type { EnqueueCallOptions, NewJob } from './job-queue.ts';

// The words of a flow a job's handler also uses live in the domain; the contract passes them on.
export type { ChildFailurePolicy, FlowChild } from '../domain/flow-child.ts';
export { childFailurePolicies, waitingForChildrenRunAt } from '../domain/flow-child.ts';

/**
 * The role of capability `flows`: jobs that wait for other jobs. A flow is a graph written in
 * one atomic call; a job in it (the parent) waits until the jobs it depends on (its children)
 * have finished, and a child may have several parents. Chains and batches are flows.
 *
 * Every backend keeps these rules, atomically with the write that makes a child finish
 * (settle, cancel, a claim that cancels an expired cancel-requested job, delete):
 *
 * - A parent waits as `scheduled` with `runAt` = `waitingForChildrenRunAt` (never due), and
 *   `flow.pendingChildren` counts its dependencies not yet resolved.
 * - A child *finishes* when it becomes `completed`, `failed` (for good, at the write that
 *   stores the failure, whether or not a `failed` hook is pending), or `cancelled`, or is
 *   deleted before it finished (counted as `cancelled`). Each dependency on it is then resolved
 *   once, by its policy (`ChildFailurePolicy`), in the same write:
 *   - completed, or not completed with policy `ignore`: the parent's `pendingChildren` goes
 *     down by one; the write that takes it to 0 releases the parent (`queued`, `runAt` = now),
 *     unless its `runIf` is `'any-child-failed'` and every child completed: then it becomes
 *     `cancelled` with `flowConditionUnmetError`.
 *   - not completed, policy `continue`: `pendingChildren` goes down by one and the parent is
 *     released at once, even if other children are still pending.
 *   - not completed, policy `fail` (the default): the parent becomes `failed` for good
 *     (`childFailedError`, no `failed` hook, `finishedAt` now, retention from `keepFailedMs`).
 *   - not completed, policy `cancel`: the parent becomes `cancelled` (`childFailedError`).
 *   A parent that fails or is cancelled this way finishes in turn, and its own parents resolve
 *   the same way, however deep the graph (iteratively: a chain of `maxFlowJobs` works).
 *   Only a parent still waiting changes; one already released, running or finished keeps its
 *   state (its counter still goes down).
 * - Cancelling a waiting parent (`cancel`) cancels, in the same write, every descendant that
 *   has not finished: waiting ones become `cancelled`, running ones get `cancelRequested`.
 * - `retry` of a parent that failed or was cancelled moves it to `queued` as for any job; it
 *   runs with the children's stored results (it does not wait again).
 * - `delete` of a waiting parent removes its dependencies; its children stay. `prune` never
 *   removes a finished child while a parent of it has not finished (the parent will read its
 *   result).
 * - Jobs of a flow carry `flowId`; `flowProgress` counts them. A job without a parent and
 *   without children behaves exactly as an ordinary job; the hot paths of jobs outside flows
 *   must not pay for flows beyond a flag test.
 */
export interface FlowStore {
  /**
   * Adds every job of `flow` and its dependencies, all or nothing. Jobs with dependencies
   * start waiting (see above); the others are added as `enqueue` adds them (`queued`, or
   * `scheduled` when `runAt` is in the future). Jobs in a flow have no `key` (the runtime
   * refuses one). Throws `InvalidFlowError` (nothing written) when an id is already taken.
   */
  enqueueFlow(flow: NewFlow, options?: EnqueueCallOptions): Promise<void>;
  /**
   * The jobs `parentId` depends on, in the order its dependencies were given; empty for a
   * job without children or no such job. A child pruned or deleted after it finished is
   * listed with `state: null`.
   */
  listChildren(parentId: string): Promise<FlowChild[]>;
  /** How many jobs of the flow are in each state; null when no job of it exists. */
  flowProgress(flowId: string): Promise<FlowProgress | null>;
}

/** When a parent whose children have all finished runs: always, or only if one did not complete (a batch's `onFailure`). */
export type RunCondition = 'always' | 'any-child-failed';

export interface FlowDependency {
  /** The id of a job of the same flow. */
  childId: string;
  onChildFailure: ChildFailurePolicy;
}

/** A job of a flow: `NewJob` (its `key` null), with the jobs it waits for. */
export interface FlowJob extends NewJob {
  /** Empty for a job that waits for nothing. */
  dependsOn: readonly FlowDependency[];
  runIf: RunCondition;
}

/**
 * A flow as the runtime checked it (flow-plan.ts): ids unique, every dependency naming a job of
 * the flow, no cycle, no job depending twice on one child, at most `maxFlowJobs` jobs, at least one.
 */
export interface NewFlow {
  flowId: string;
  jobs: readonly FlowJob[];
}


export interface FlowProgress {
  flowId: string;
  total: number;
  /** Jobs that reached `completed`, `failed` or `cancelled`. */
  finished: number;
  counts: Record<JobState, number>;
  /**
   * The same over the jobs that wait for no other (a batch's items, without its callbacks):
   * how many, how many finished, and of those how many ended in each terminal state.
   */
  leaves: { total: number; finished: number; completed: number; failed: number; cancelled: number };
}


/** The most jobs one flow may hold (`InvalidFlowError` beyond it). */
export const maxFlowJobs = 20_000;

/**
 * The error stored on a parent failed or cancelled by a child (policy `fail` or `cancel`).
 * Every backend stores exactly these fields (SQL and Lua build the same JSON).
 */
export function childFailedError(child: { id: string; name: string; state: 'failed' | 'cancelled' }, at: number): SerializedError {
  return {
    name: 'ChildFailedError',
    code: 'CHILD_FAILED',
    message: `Child job ${child.id} (${child.name}) ${child.state === 'failed' ? 'failed' : 'was cancelled'}.`,
    at,
    attempt: 0,
  };
}

/** The error stored on a parent with `runIf: 'any-child-failed'` cancelled because every child completed. */
export function flowConditionUnmetError(at: number): SerializedError {
  return { name: 'FlowConditionUnmetError', code: 'FLOW_CONDITION_UNMET', message: 'Every child completed, and this job runs only when one did not.', at, attempt: 0 };
}
