import type { EnqueueCallOptions } from '../../contract/job-queue.ts';
import type { FlowChild, FlowProgress, FlowStore, NewFlow } from '../../contract/flow-store.ts';
import { waitingForChildrenRunAt } from '../../contract/flow-store.ts';
import { InvalidFlowError, InvalidOptionError } from '../../domain/errors.ts';
import type { JsonValue } from '../../domain/json-value.ts';
import type { SerializedError } from '../../domain/serialized-error.ts';
import { type JobState, jobStates } from '../../domain/job-state.ts';
import type { RedisConnection } from './redis-backend.ts';
import { packedFields } from './redis-rows.ts';

/**
 * The flows role on Redis. A flow is written by one script (`lua/enqueue-flow.lua`); the
 * dependencies live in `children:<id>` / `parents:<id>` and a flow's members in `flow:<flowId>`
 * (redis-keys.ts). Parents are resolved inside the scripts that finish a job (settle, cancel,
 * claim, remove), by `resolveParents` in `lua/lib.lua`.
 */
export class RedisFlows implements FlowStore {
  constructor(private readonly connection: RedisConnection) {}

  async enqueueFlow(flow: NewFlow, options: EnqueueCallOptions = {}): Promise<void> {
    if (options.tx !== undefined) throw new InvalidOptionError('tx', options.tx, 'no transaction: transactional enqueue is for the postgres backend');
    // A job with dependencies waits, never due, until its children release it.
    const jobs = flow.jobs.map((job) => (job.dependsOn.length > 0 ? { ...job, runAt: waitingForChildrenRunAt } : job));
    const graph = flow.jobs.map((job) => [job.id, job.name, job.runIf, ...job.dependsOn.flatMap((dependency) => [dependency.childId, dependency.onChildFailure])]);
    // One script call, however large the flow: it is written all or nothing.
    const out = (await this.connection.script('enqueueFlow', this.connection.clock.now(), jobs.length, packedFields(jobs), flow.flowId, JSON.stringify(graph))) as string;
    if (out.startsWith('taken:')) {
      const id = out.slice('taken:'.length);
      throw new InvalidFlowError(`the job id "${id}" is already taken`, { details: { id, flowId: flow.flowId } });
    }
  }

  async listChildren(parentId: string): Promise<FlowChild[]> {
    const rows = (await this.connection.script('listChildren', parentId)) as ChildRow[];
    return rows.map(([id, policy, name, state, result, error, finishedAt]) => ({
      id,
      name,
      state: state as JobState | null,
      result: state === 'completed' && result !== null ? (JSON.parse(result) as JsonValue) : null,
      error: error === null ? null : (JSON.parse(error) as SerializedError),
      onChildFailure: policy as FlowChild['onChildFailure'],
      finishedAt: finishedAt === null ? null : Number(finishedAt),
    }));
  }

  async flowProgress(flowId: string): Promise<FlowProgress | null> {
    const out = (await this.connection.script('flowProgress', flowId)) as string;
    if (out === '') return null;
    type StateCounts = Partial<Record<JobState, number>>;
    const { counts: found, leaves, leafCounts } = JSON.parse(out) as { counts: StateCounts; leaves: number; leafCounts: StateCounts };
    const counts = Object.fromEntries(jobStates.map((state) => [state, found[state] ?? 0])) as Record<JobState, number>;
    const total = jobStates.reduce((sum, state) => sum + counts[state], 0);
    const [completed, failed, cancelled] = [leafCounts.completed ?? 0, leafCounts.failed ?? 0, leafCounts.cancelled ?? 0];
    return {
      flowId,
      total,
      finished: counts.completed + counts.failed + counts.cancelled,
      counts,
      leaves: { total: leaves, finished: completed + failed + cancelled, completed, failed, cancelled },
    };
  }
}

/** `lua/list-children.lua`'s row: id, policy, name, then the child's state, result, error and finishedAt (null when absent). */
type ChildRow = [id: string, policy: string, name: string, state: string | null, result: string | null, error: string | null, finishedAt: string | null];
