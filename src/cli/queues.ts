import type { Command } from '@commander-js/extra-typings';
import type { Session } from './session.ts';
import { printTable } from './table.ts';
import { moment } from './time-format.ts';

export function registerQueues(program: Command, session: Session): void {
  const queues = program
    .command('queues')
    .description('The queues that hold jobs or are paused: whether paused, waiting, running and failed jobs.')
    // WAITING is jobs that will run once due (queued and delayed); flow parents waiting for
    // their children are counted apart, as `jobsmith stats` does: they run only when their
    // children finish, however many workers serve the queue.
    .addHelpText('after', '\nExamples:\n  $ jobsmith queues\n  $ jobsmith queues pause mail\n  $ jobsmith queues resume mail')
    .action(async () => {
      const client = await session.client();
      const stats = await client.stats();
      const terminal = session.terminal;
      if (session.json) {
        for (const queue of stats.queues) {
          await terminal.json({
            queue: queue.queue,
            paused: queue.paused,
            waiting: queue.counts.scheduled + queue.counts.queued - queue.waitingForChildren,
            waitingForChildren: queue.waitingForChildren,
            running: queue.counts.running,
            failed: queue.counts.failed,
            lastProcessedAt: queue.lastProcessedAt === null ? null : new Date(queue.lastProcessedAt).toISOString(),
          });
        }
        return;
      }
      if (stats.queues.length === 0) return terminal.note('No queues yet: a queue appears with its first job.');
      const now = await session.now();
      await printTable(
        terminal,
        [{ header: 'QUEUE' }, { header: 'STATUS' }, { header: 'WAITING', align: 'right' }, { header: 'WAITING FOR CHILDREN', align: 'right' }, { header: 'RUNNING', align: 'right' }, { header: 'FAILED', align: 'right' }, { header: 'LAST PROCESSED' }],
        stats.queues.map((queue) => [
          queue.queue,
          queue.paused ? terminal.style('yellow', 'paused') : terminal.style('green', 'active'),
          String(queue.counts.scheduled + queue.counts.queued - queue.waitingForChildren),
          String(queue.waitingForChildren),
          String(queue.counts.running),
          queue.counts.failed > 0 ? terminal.style('red', String(queue.counts.failed)) : '0',
          moment(queue.lastProcessedAt, now, terminal.tty) || '—',
        ]),
      );
    });

  for (const [verb, past, effect] of [
    ['pause', 'paused', 'Workers stop claiming from the queue; running jobs go on.'],
    ['resume', 'resumed', 'Workers claim from the queue again.'],
  ] as const) {
    queues
      .command(verb)
      .description(effect)
      .argument('<queue>', 'the queue name')
      .action(async (queue) => {
        const client = await session.client();
        await (verb === 'pause' ? client.pause(queue) : client.resume(queue));
        if (session.json) return session.terminal.json({ queue, paused: verb === 'pause' });
        await session.terminal.line(`Queue "${queue}" ${past}. ${effect}`);
      });
  }
}
