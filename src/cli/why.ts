import type { Command } from '@commander-js/extra-typings';
import { stateStyles } from './list.ts';
import type { Session } from './session.ts';
import { momentInFull, relativeTime } from './time-format.ts';

/** An ISO 8601 moment as the client writes them into its messages. */
const isoMoment = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g;

/**
 * The client's message (ISO times) as the CLI shows it: on a terminal each moment is
 * followed by how long ago or ahead it is, as in every detail view.
 */
export function withRelativeTimes(message: string, now: number, tty: boolean): string {
  return tty ? message.replace(isoMoment, (text) => momentInFull(Date.parse(text), now, true)) : message;
}

export function registerWhy(program: Command, session: Session): void {
  program
    .command('why')
    .description('Why a waiting job is not running yet (a delay, a paused queue, jobs ahead, no live worker for it); for a running job, which worker holds it and until when.')
    .argument('<id>', 'a job id, or any unique prefix of one')
    .addHelpText('after', '\nExample:\n  $ jobsmith why 0190f3c2-1a2b')
    .action(async (idOrPrefix) => {
      // The session's lookup first: an ambiguous prefix lists its candidates.
      const found = await session.job(idOrPrefix);
      const { job, now, reasons } = await (await session.client()).explainWait(found.id);
      const terminal = session.terminal;
      if (session.json) return terminal.json({ id: job.id, name: job.name, queue: job.queue, state: job.state, reasons });
      await terminal.line(`${terminal.style('bold', job.id)}  ${job.name}  queue ${job.queue}  ${terminal.style(stateStyles[job.state], job.state)}  (created ${relativeTime(job.createdAt, now)})`);
      for (const reason of reasons) {
        await terminal.line(`  ${reason.blocking ? terminal.style('yellow', '•') : terminal.style('dim', '•')} ${withRelativeTimes(reason.message, now, terminal.tty)}`);
      }
    });
}
