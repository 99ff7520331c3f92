import { type JobRecord, type JobState, type ListFilter, InvalidOptionError, isJobsmithError, jobStates } from '../index.ts';
import type { DashboardContext } from './dashboard-context.ts';

/** The Jobs page's and `GET /api/jobs`'s filter, read from the query string. */
export interface JobQuery {
  state: JobState | null;
  queue: string | null;
  name: string | null;
  /** A job id or a prefix of one; when given, the other filters are not applied. */
  id: string | null;
  cursor: string | null;
  limit: number;
}

export const pageSize = 50;
const maxPageSize = 500;

export function readJobQuery(params: URLSearchParams, fixedState?: JobState): JobQuery {
  const text = (name: string) => {
    const value = params.get(name)?.trim();
    return value === undefined || value === '' ? null : value;
  };
  const state = fixedState ?? text('state');
  if (state !== null && !(jobStates as readonly string[]).includes(state)) throw new InvalidOptionError('state', state, `one of ${jobStates.join(', ')}`);
  const limitText = text('limit');
  const limit = limitText === null ? pageSize : Number(limitText);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxPageSize) throw new InvalidOptionError('limit', limitText, `an integer from 1 to ${maxPageSize}`);
  return { state: state as JobState | null, queue: text('queue'), name: text('name'), id: text('id'), cursor: text('cursor'), limit };
}

/**
 * One page of jobs, newest first, paged by the store's cursor (never an offset, so a page
 * costs the same on a million jobs as on ten). An id prefix is looked up instead: the job
 * it names, or the jobs an ambiguous prefix matches.
 */
export async function findJobs(context: DashboardContext, jobQuery: JobQuery): Promise<{ jobs: JobRecord[]; nextCursor: string | null }> {
  const { client } = context;
  if (jobQuery.id !== null) {
    try {
      return { jobs: [await client.get(jobQuery.id)], nextCursor: null };
    } catch (error) {
      if (isJobsmithError(error, 'JOB_NOT_FOUND')) return { jobs: [], nextCursor: null };
      if (!isJobsmithError(error, 'AMBIGUOUS_ID')) throw error;
      const matches = error.details.matches as string[];
      const jobs = await Promise.all(matches.map((id) => client.get(id).catch(() => null)));
      return { jobs: jobs.filter((job): job is JobRecord => job !== null), nextCursor: null };
    }
  }
  const filter: ListFilter = { limit: jobQuery.limit, cursor: jobQuery.cursor };
  if (jobQuery.state !== null) filter.state = jobQuery.state;
  if (jobQuery.queue !== null) filter.queue = jobQuery.queue;
  if (jobQuery.name !== null) filter.name = jobQuery.name;
  return client.list(filter);
}
