import { type Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { type Duration, type JobRecord, type JobState, terminalStates } from '../index.ts';
import { usageError } from './cli-errors.ts';
import { jobToJson } from './job-json.ts';
import { parsePositiveInteger, parseStates, shortIdLength, streamJobs } from './list.ts';
import type { Session } from './session.ts';
import { confirmMany } from './steer.ts';
import { type Column, TableWriter } from './table.ts';
import { moment } from './time-format.ts';

const columns: Column[] = [{ header: 'ID' }, { header: 'NAME' }, { header: 'QUEUE' }, { header: 'FAILED' }, { header: 'ATTEMPTS', align: 'right' }, { header: 'LAST ERROR' }];

function firstLine(job: JobRecord): string {
  if (job.error === null) return '';
  return `${job.error.name}: ${job.error.message}`.split('\n')[0]!;
}

/** `7d`, `12h`, `0`: checked as a duration (the client checks it again). */
function parseDuration(value: string): Duration {
  if (!/^\d+(\.\d+)?\s*(ms|s|m|h|d)?$/.test(value.trim())) throw new InvalidArgumentError('Expected a number and a unit, such as 30s, 12h or 7d.');
  return (/\d$/.test(value.trim()) ? Number(value) : value.trim()) as Duration;
}

export function registerFailed(program: Command, session: Session): void {
  const failed = program
    .command('failed')
    .description('The failed jobs, newest first, each with the first line of its last error.')
    .option('--queue <queue>', 'only this queue')
    .option('--name <name>', 'only jobs with this name')
    .option('--limit <n>', 'print at most this many', parsePositiveInteger, 50)
    .option('--all', 'print every failed job')
    .addHelpText('after', '\nExamples:\n  $ jobsmith failed --queue mail\n  $ jobsmith failed flush --older-than 7d --yes')
    .action(async (options) => {
      const terminal = session.terminal;
      const now = await session.now();
      const table = new TableWriter(terminal, columns);
      let idLength = 0;
      const filter = { state: 'failed' as const, ...(options.queue ? { queue: options.queue } : {}), ...(options.name ? { name: options.name } : {}) };
      // On a terminal the error is cut to fit the line; a pipe gets all of its first line.
      const width = terminal.tty ? Math.max(30, terminal.columns() - 72) : Number.POSITIVE_INFINITY;
      const next = await streamJobs(session, filter, { cursor: null, limit: options.all ? null : options.limit }, async (jobs) => {
        if (session.json) {
          for (const job of jobs) await terminal.json(jobToJson(job));
          return;
        }
        idLength = Math.max(idLength, shortIdLength(jobs));
        await table.page(
          jobs.map((job) => {
            const error = firstLine(job);
            return [job.id.slice(0, idLength), job.name, job.queue, moment(job.finishedAt, now, terminal.tty), `${job.attempts}/${job.maxAttempts}`, terminal.style('red', error.length > width ? `${error.slice(0, width - 1)}…` : error)];
          }),
        );
      });
      if (!session.json && !table.started) terminal.note('No failed jobs.');
      if (next !== null) terminal.note('More failed jobs follow: add --all to see them all.');
    });

  failed
    .command('flush')
    .description('Remove failed jobs (all, or those that failed longer ago than --older-than).')
    .option('--older-than <duration>', 'only jobs that failed longer ago than this: 12h, 7d', parseDuration)
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (options) => {
      const client = await session.client();
      const age = options.olderThan === undefined ? '' : ` that failed more than ${options.olderThan}${typeof options.olderThan === 'number' ? ' ms' : ''} ago`;
      await confirmMany(session, `Remove every failed job${age}?`, options.yes);
      const removed = await client.prune({ olderThan: options.olderThan ?? 0, states: ['failed'] });
      if (session.json) return session.terminal.json({ removed });
      await session.terminal.line(`Removed ${removed} failed job${removed === 1 ? '' : 's'}.`);
    });

  program
    .command('prune')
    .description('Remove finished jobs (completed, failed, cancelled) that finished longer ago than --older-than.')
    .requiredOption('--older-than <duration>', 'jobs that finished longer ago than this: 12h, 7d', parseDuration)
    .option('--state <states>', 'only these finished states, comma-separated (default: all three)', parseStates)
    .addHelpText('after', '\nExample:\n  $ jobsmith prune --older-than 7d --state completed')
    .action(async (options) => {
      const states: JobState[] = options.state ?? [...terminalStates];
      const unfinished = states.filter((state) => !terminalStates.includes(state));
      if (unfinished.length > 0) throw usageError(`prune removes finished jobs only; ${unfinished.join(', ')} ${unfinished.length === 1 ? 'is' : 'are'} not finished.`);
      const removed = await (await session.client()).prune({ olderThan: options.olderThan, states });
      if (session.json) return session.terminal.json({ removed });
      await session.terminal.line(`Removed ${removed} finished job${removed === 1 ? '' : 's'} (${states.join(', ')}).`);
    });
}
