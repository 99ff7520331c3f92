import { type Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { waitingForChildren, waitingForChildrenText } from '../domain/flow-waiting.ts';
import { type JobRecord, type JobState, type ListFilter, jobStates } from '../index.ts';
import { jobToJson } from './job-json.ts';
import type { Session } from './session.ts';
import { type Column, TableWriter } from './table.ts';
import type { Style, Terminal } from './terminal.ts';
import { duration, moment } from './time-format.ts';

/** Rows fetched per store call while streaming. */
const pageSize = 500;

export const stateStyles: Record<JobState, Style | readonly Style[]> = {
  scheduled: 'magenta',
  queued: 'yellow',
  running: 'cyan',
  completed: 'green',
  failed: ['red', 'bold'],
  cancelled: 'gray',
};

/** `--state failed,running`: one or more states, checked. */
export function parseStates(value: string): JobState[] {
  const states = value.split(',').map((state) => state.trim().toLowerCase());
  for (const state of states) {
    if (!(jobStates as readonly string[]).includes(state)) throw new InvalidArgumentError(`"${state}" is not a state; states are ${jobStates.join(', ')}.`);
  }
  return states as JobState[];
}

export function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError('Expected a whole number of 1 or more.');
  return number;
}

/**
 * Short ids for a page: a prefix of 18 characters (the millisecond and the counter of a
 * UUIDv7), longer where two ids on the page would share it. `status` takes any unique prefix.
 */
export function shortIdLength(jobs: readonly JobRecord[], atLeast = 18): number {
  let length = atLeast;
  const ids = jobs.map((job) => job.id).sort();
  for (let index = 1; index < ids.length; index++) {
    const a = ids[index - 1]!;
    const b = ids[index]!;
    let shared = 0;
    while (shared < a.length && a[shared] === b[shared]) shared++;
    length = Math.max(length, Math.min(36, shared + 1));
  }
  return length;
}

/**
 * Streams jobs matching `filter` a page at a time: `onPage` gets each page as it arrives.
 * Stops after `limit` jobs (null: all). Resolves with the cursor of the next page, or null.
 */
export async function streamJobs(
  session: Session,
  filter: Omit<ListFilter, 'limit' | 'cursor'>,
  start: { cursor: string | null; limit: number | null },
  onPage: (jobs: JobRecord[]) => Promise<void>,
): Promise<string | null> {
  const client = await session.client();
  let cursor = start.cursor;
  let left = start.limit ?? Number.POSITIVE_INFINITY;
  while (left > 0) {
    const page = await client.list({ ...filter, cursor, limit: Math.min(pageSize, left) });
    if (page.jobs.length > 0) await onPage(page.jobs);
    left -= page.jobs.length;
    cursor = page.nextCursor;
    if (cursor === null) return null;
  }
  return cursor;
}

const columns: Column[] = [
  { header: 'ID' },
  { header: 'NAME' },
  { header: 'QUEUE' },
  { header: 'STATE' },
  { header: 'PROGRESS', align: 'right' },
  { header: 'CREATED' },
  { header: 'DURATION', align: 'right' },
  { header: 'ATTEMPTS', align: 'right' },
];

/** The STATE cell: the state, and for a parent waiting in a flow what it waits for (it is due at no time). */
export function stateCell(terminal: Terminal, job: JobRecord): string {
  const state = terminal.style(stateStyles[job.state], job.state);
  const waiting = waitingForChildren(job);
  return waiting === null ? state : `${state} ${terminal.style('dim', `(${waitingForChildrenText(waiting)})`)}`;
}

function row(terminal: Terminal, job: JobRecord, idLength: number, now: number): string[] {
  const end = job.finishedAt ?? (job.state === 'running' ? now : null);
  return [
    job.id.slice(0, idLength),
    job.name,
    job.queue,
    stateCell(terminal, job),
    job.progress === null ? '' : `${Math.round(job.progress.percent)}%`,
    moment(job.createdAt, now, terminal.tty),
    end !== null && job.startedAt !== null ? duration(end - job.startedAt) : '',
    `${job.attempts}/${job.maxAttempts}${job.crashes > 0 ? ` +${job.crashes} crashed` : ''}`,
  ];
}

export function registerList(program: Command, session: Session): void {
  program
    .command('list')
    .description('List jobs, newest first, as an aligned table (--json: one job per line).')
    .option('--state <states>', 'only jobs in these states, comma-separated', parseStates)
    .option('--queue <queue>', 'only jobs in this queue')
    .option('--name <name>', 'only jobs with this name')
    .option('--limit <n>', 'print at most this many jobs', parsePositiveInteger, 50)
    .option('--all', 'print every matching job (streams page by page)')
    .option('--cursor <cursor>', 'start after the last job of an earlier listing')
    .addHelpText('after', '\nExamples:\n  $ jobsmith list --state failed,running --queue mail\n  $ jobsmith list --all --json | jq .id')
    .action(async (options) => {
      const terminal = session.terminal;
      const now = await session.now();
      const table = new TableWriter(terminal, columns);
      let idLength = 0;
      const filter = {
        ...(options.state ? { state: options.state } : {}),
        ...(options.queue ? { queue: options.queue } : {}),
        ...(options.name ? { name: options.name } : {}),
      };
      const next = await streamJobs(session, filter, { cursor: options.cursor ?? null, limit: options.all ? null : options.limit }, async (jobs) => {
        if (session.json) {
          for (const job of jobs) await terminal.json(jobToJson(job));
          return;
        }
        idLength = Math.max(idLength, shortIdLength(jobs));
        await table.page(jobs.map((job) => row(terminal, job, idLength, now)));
      });
      if (!session.json && !table.started) terminal.note('No jobs match.');
      if (next !== null) terminal.note(`More jobs follow: add --cursor ${next} to see the next ones${options.all ? '' : ', or --all for every one'}.`);
    });
}
