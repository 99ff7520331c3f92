import type { Command } from '@commander-js/extra-typings';
import { CliError } from './cli-errors.ts';

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('The web dashboard (not available yet).')
    .option('--port <port>', 'the port to serve on')
    .action(() => {
      throw new CliError('NOT_AVAILABLE', 'The dashboard is not available yet; use jobsmith list, status and stats meanwhile.');
    });
}
