import type { Command } from '@commander-js/extra-typings';
import type { LiveWorker } from '../index.ts';
import type { Session } from './session.ts';
import { printTable } from './table.ts';
import { moment } from './time-format.ts';

/** A worker for `--json`: every field, times in ISO 8601. */
function workerJson(worker: LiveWorker): Record<string, unknown> {
  const iso = (at: number) => new Date(at).toISOString();
  return { ...worker, startedAt: iso(worker.startedAt), lastHeartbeatAt: iso(worker.lastHeartbeatAt), expiresAt: iso(worker.expiresAt) };
}

export function registerWorkers(program: Command, session: Session): void {
  program
    .command('workers')
    .description('The live workers: id, host, pid, queues, concurrency, jobs running now, last heartbeat. A crashed worker drops out once its lease passes.')
    .addHelpText('after', '\nExamples:\n  $ jobsmith workers\n  $ jobsmith workers --json')
    .action(async () => {
      const client = await session.client();
      // A store without live workers throws CapabilityUnsupportedError: one line, exit 1.
      const workers = await client.workers();
      const terminal = session.terminal;
      if (session.json) {
        for (const worker of workers) await terminal.json(workerJson(worker));
        return;
      }
      if (workers.length === 0) return terminal.note('No live workers.');
      const now = await session.now();
      await printTable(
        terminal,
        [
          { header: 'ID' },
          { header: 'HOST' },
          { header: 'PID', align: 'right' },
          { header: 'QUEUES' },
          { header: 'CONCURRENCY', align: 'right' },
          { header: 'RUNNING', align: 'right' },
          { header: 'LAST HEARTBEAT' },
        ],
        workers.map((worker) => [
          worker.id,
          worker.host,
          String(worker.pid),
          worker.queues === null ? terminal.style('dim', 'all') : worker.queues.join(','),
          String(worker.concurrency),
          String(worker.running),
          moment(worker.lastHeartbeatAt, now, terminal.tty),
        ]),
      );
    });
}
