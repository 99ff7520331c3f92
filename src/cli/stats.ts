import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from '@commander-js/extra-typings';
import type { BackendStats, QueueStats } from '../index.ts';
import type { Session } from './session.ts';
import { type Column, printTable } from './table.ts';
import type { Terminal } from './terminal.ts';
import { moment } from './time-format.ts';

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

export function statsToJson(stats: BackendStats, at: number): Record<string, unknown> {
  return {
    at: new Date(at).toISOString(),
    ...stats,
    lastProcessedAt: iso(stats.lastProcessedAt),
    oldestWaitingSince: iso(stats.oldestWaitingSince),
    lastHourByMinute: stats.lastHourByMinute.map((minute) => ({ ...minute, at: iso(minute.at) })),
    queues: stats.queues.map((queue) => ({ ...queue, lastProcessedAt: iso(queue.lastProcessedAt), oldestWaitingSince: iso(queue.oldestWaitingSince) })),
  };
}

const columns: Column[] = [
  { header: 'QUEUE' },
  { header: 'SCHEDULED', align: 'right' },
  { header: 'WAITING FOR CHILDREN', align: 'right' },
  { header: 'QUEUED', align: 'right' },
  { header: 'RUNNING', align: 'right' },
  { header: 'COMPLETED', align: 'right' },
  { header: 'FAILED', align: 'right' },
  { header: 'CANCELLED', align: 'right' },
  { header: 'DONE 1M', align: 'right' },
  { header: 'FAILED 1M', align: 'right' },
  { header: 'DONE 1H', align: 'right' },
  { header: 'FAILED 1H', align: 'right' },
  { header: 'LAST PROCESSED' },
];

function row(terminal: Terminal, label: string, stats: BackendStats | QueueStats, now: number): string[] {
  const { counts, waitingForChildren } = stats;
  const number = (value: number, style?: 'red' | 'cyan' | 'yellow') => (value > 0 && style ? terminal.style(style, String(value)) : String(value));
  return [
    label,
    // A parent waiting for its children is stored as scheduled; here it has a column of its own.
    number(counts.scheduled - waitingForChildren),
    number(waitingForChildren),
    number(counts.queued, 'yellow'),
    number(counts.running, 'cyan'),
    number(counts.completed),
    number(counts.failed, 'red'),
    number(counts.cancelled),
    number(stats.completedLastMinute),
    number(stats.failedLastMinute, 'red'),
    number(stats.completedLastHour),
    number(stats.failedLastHour, 'red'),
    moment(stats.lastProcessedAt, now, terminal.tty) || '—',
  ];
}

async function printStats(terminal: Terminal, stats: BackendStats, now: number): Promise<void> {
  const rows = stats.queues.map((queue) => row(terminal, queue.paused ? `${queue.queue} ${terminal.style('yellow', '(paused)')}` : queue.queue, queue, now));
  rows.push(row(terminal, terminal.style('bold', 'all queues'), stats, now));
  await printTable(terminal, columns, rows);
}

export function registerStats(program: Command, session: Session): void {
  program
    .command('stats')
    .description('Jobs per queue and state, with completed and failed in the last minute and hour.')
    .option('-w, --watch', 'redraw every second until Ctrl-C, like top')
    .addHelpText(
      'after',
      [
        '',
        'SCHEDULED counts delayed jobs waiting for their run time; WAITING FOR CHILDREN, flow',
        'parents waiting for their children. Both are stored as scheduled: in --json,',
        'counts.scheduled holds both, and waitingForChildren the parents.',
        '',
        'Examples:',
        '  $ jobsmith stats',
        '  $ jobsmith stats --watch',
      ].join('\n'),
    )
    .action(async (options) => {
      const client = await session.client();
      const terminal = session.terminal;
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      if (options.watch) {
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      }
      try {
        do {
          const stats = await client.stats();
          const now = await session.now();
          if (session.json) await terminal.json(statsToJson(stats, now));
          else {
            // Redraw in place on a terminal; elsewhere each round follows the last.
            if (options.watch && terminal.tty) await terminal.write('\u001b[H\u001b[2J');
            if (options.watch) await terminal.line(terminal.style('dim', `${new Date(now).toISOString()}  every 1 s, Ctrl-C to stop`));
            await printStats(terminal, stats, now);
            if (options.watch && !terminal.tty) await terminal.line();
          }
          if (options.watch) await sleep(1000, undefined, { signal: stop.signal }).catch(() => undefined);
        } while (options.watch && !stop.signal.aborted);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
