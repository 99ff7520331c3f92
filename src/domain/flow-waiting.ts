import { waitingForChildrenRunAt } from './flow-child.ts';
import type { JobFlowPosition, JobRecord } from './job-record.ts';

/**
 * The flow position of a parent still waiting for its children (contract/flow-store.ts): it is
 * `scheduled` at `waitingForChildrenRunAt`, a mark that means "never due", not a time to show.
 * Null for any other job, including a parent already released.
 */
export function waitingForChildren(job: Pick<JobRecord, 'state' | 'runAt' | 'flow'>): JobFlowPosition | null {
  return job.state === 'scheduled' && job.runAt === waitingForChildrenRunAt && job.flow !== undefined ? job.flow : null;
}

/** `waiting for 2 of 3 children`: what the CLI and the dashboard show where a run time would be. */
export function waitingForChildrenText(flow: Pick<JobFlowPosition, 'children' | 'pendingChildren'>): string {
  return `waiting for ${flow.pendingChildren} of ${flow.children} ${flow.children === 1 ? 'child' : 'children'}`;
}

/** A job's run time for a person: null for a parent waiting for its children, whose `runAt` is never reached. */
export function displayedRunAt(job: Pick<JobRecord, 'state' | 'runAt' | 'flow'>): number | null {
  return waitingForChildren(job) === null ? job.runAt : null;
}
