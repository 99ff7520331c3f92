import type { Command } from '@commander-js/extra-typings';
import { CliError, usageError } from './cli-errors.ts';
import { jobToJson } from './job-json.ts';
import type { Session } from './session.ts';

/**
 * Asks before a command that changes many jobs: on a terminal, a y/N question; elsewhere
 * nobody can answer, so `--yes` must say it (a usage error without it). A "no" changes nothing and exits 1.
 */
export async function confirmMany(session: Session, question: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  const terminal = session.terminal;
  if (!terminal.canAsk()) throw usageError(`${question} Nobody can answer here (stdin is not a terminal): add --yes to go ahead.`);
  if (!(await terminal.confirm(question))) throw new CliError('DECLINED', 'Not confirmed; nothing was changed.');
}

export function registerSteer(program: Command, session: Session): void {
  program
    .command('retry')
    .description('Put a failed or cancelled job back in its queue with fresh attempts; or every failed job with --all-failed.')
    .argument('[id]', 'a job id, or any unique prefix of one')
    .option('--all-failed', 'retry every failed job (of --queue, of --name)')
    .option('--queue <queue>', 'with --all-failed: only this queue')
    .option('--name <name>', 'with --all-failed: only jobs with this name')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  $ jobsmith retry 0190f3c2-1a2b\n  $ jobsmith retry --all-failed --queue mail --yes')
    .action(async (idOrPrefix, options) => {
      const terminal = session.terminal;
      if (options.allFailed) {
        if (idOrPrefix !== undefined) throw usageError('Give a job id or --all-failed, not both.');
        const client = await session.client();
        const scope = [options.queue && `in queue "${options.queue}"`, options.name && `named "${options.name}"`].filter(Boolean).join(' ');
        const failed = options.name ? null : (await client.stats()).queues.filter((queue) => !options.queue || queue.queue === options.queue).reduce((sum, queue) => sum + queue.counts.failed, 0);
        if (failed === 0) {
          if (session.json) return terminal.json({ retried: 0, skipped: 0 });
          return terminal.line(`No failed jobs${scope ? ` ${scope}` : ''}.`);
        }
        await confirmMany(session, `Retry ${failed === null ? 'every' : `all ${failed}`} failed job${failed === 1 ? '' : 's'}${scope ? ` ${scope}` : ''}?`, options.yes);
        const outcome = await client.retryFailed({ ...(options.queue ? { queue: options.queue } : {}), ...(options.name ? { name: options.name } : {}) });
        if (session.json) return terminal.json(outcome);
        const skipped = outcome.skipped > 0 ? `; ${outcome.skipped} skipped (no longer failed, or their key is held by an active job)` : '';
        return terminal.line(`Retried ${outcome.retried} failed job${outcome.retried === 1 ? '' : 's'}${skipped}.`);
      }
      if (idOrPrefix === undefined) throw usageError('Give a job id, or --all-failed.');
      if (options.queue || options.name) throw usageError('--queue and --name go with --all-failed.');
      const job = await session.job(idOrPrefix);
      const retried = await (await session.client()).retry(job.id);
      if (session.json) return terminal.json(jobToJson(retried));
      await terminal.line(`Retried ${retried.id} (${retried.name}): ${retried.state} in queue "${retried.queue}".`);
    });

  program
    .command('cancel')
    .description('Cancel a job: a waiting one at once; a running one is told through its signal and ends cancelled.')
    .argument('<id>', 'a job id, or any unique prefix of one')
    .addHelpText('after', '\nExample:\n  $ jobsmith cancel 0190f3c2-1a2b')
    .action(async (idOrPrefix) => {
      const job = await session.job(idOrPrefix);
      const result = await (await session.client()).cancel(job.id);
      const terminal = session.terminal;
      if (session.json) return terminal.json(result.outcome === 'not-found' ? result : { outcome: result.outcome, job: jobToJson(result.job) });
      const said = {
        cancelled: 'cancelled',
        'cancel-requested': 'running: a cancel was asked for, and the attempt stops at its next heartbeat',
        'already-finished': `already ${result.outcome === 'already-finished' ? result.job.state : 'finished'}; nothing changed`,
        'not-found': 'gone (deleted meanwhile)',
      }[result.outcome];
      await terminal.line(`${job.id} (${job.name}): ${said}.`);
    });

  program
    .command('delete')
    .description('Remove a job that is not running.')
    .argument('<id>', 'a job id, or any unique prefix of one')
    .addHelpText('after', '\nExample:\n  $ jobsmith delete 0190f3c2-1a2b')
    .action(async (idOrPrefix) => {
      const job = await session.job(idOrPrefix);
      const deleted = await (await session.client()).delete(job.id);
      const terminal = session.terminal;
      if (session.json) return terminal.json({ id: job.id, deleted });
      await terminal.line(deleted ? `Deleted ${job.id} (${job.name}).` : `${job.id} was already gone.`);
    });
}
