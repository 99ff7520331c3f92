import type { Command } from '@commander-js/extra-typings';
import { jobStates } from '../index.ts';
import { CliError } from './cli-errors.ts';
import { stateStyles } from './list.ts';
import type { Session } from './session.ts';

export function registerFlow(program: Command, session: Session): void {
  program
    .command('flow')
    .description('How far a flow, chain or batch is: its jobs finished of total, and how many are in each state.')
    .argument('<flowId>', 'a flow id (a batch id is one), as `status` shows it for any job of the flow')
    .addHelpText('after', '\nExample:\n  $ jobsmith flow 0190f3c2-1a2b-7c3d-8e4f-5a6b7c8d9e0f')
    .action(async (flowId) => {
      const progress = await (await session.client()).flowProgress(flowId);
      // Usage, like an unknown job id: retyping the right id fixes it.
      if (progress === null) throw new CliError('USAGE', `No flow ${flowId}: no job of it is in the store (a wrong id, or its jobs were pruned).`);
      const terminal = session.terminal;
      if (session.json) return terminal.json(progress);
      const { leaves } = progress;
      await terminal.line(`${terminal.style('bold', progress.flowId)}  ${progress.finished} of ${progress.total} jobs finished`);
      const present = jobStates.filter((state) => progress.counts[state] > 0);
      const width = Math.max(...present.map((state) => state.length));
      for (const state of present) await terminal.line(`  ${terminal.style(stateStyles[state], state.padEnd(width))}  ${progress.counts[state]}`);
      // A batch's items apart from its callbacks: what `batchProgress` calls done of total.
      if (leaves.total !== progress.total) await terminal.line(terminal.style('dim', `  leaves     ${leaves.finished} of ${leaves.total} finished (the jobs that wait for no other: a batch's items)`));
    });
}
