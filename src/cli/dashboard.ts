import type { Command } from '@commander-js/extra-typings';
import { serveDashboard } from '../dashboard/index.ts';
import { CliError } from './cli-errors.ts';
import type { Session } from './session.ts';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) throw new CliError('USAGE', `--port must be a port number from 0 to 65535, not "${value}".`);
  return port;
}

export function registerDashboard(program: Command, session: Session): void {
  program
    .command('dashboard')
    .description('Serve the web dashboard on the store until SIGINT or SIGTERM.')
    .option('--port <port>', 'the port to serve on (0 picks a free one)', parsePort, 4000)
    .option('--host <address>', 'the address to listen on; without a token only a loopback address', '127.0.0.1')
    .option('--token <token>', 'require this token (Bearer header, or the login form); also JOBSMITH_DASHBOARD_TOKEN')
    .option('--base-path <path>', 'serve under this path, as behind a proxy that forwards /jobs', '')
    .option('--read-only', 'show everything, change nothing')
    .addHelpText(
      'after',
      "\nWithout a token it answers only on loopback. Schedules' \"run now\" needs the config's jobs.\n\nExamples:\n  $ jobsmith dashboard --port 4000\n  $ JOBSMITH_DASHBOARD_TOKEN=$(openssl rand -hex 16) jobsmith dashboard --host 0.0.0.0",
    )
    .action(async (options) => {
      const token = options.token ?? process.env.JOBSMITH_DASHBOARD_TOKEN;
      const served = await serveDashboard({
        client: await session.client(),
        scheduler: await session.scheduler(),
        port: options.port,
        host: options.host,
        basePath: options.basePath,
        readOnly: options.readOnly === true,
        ...(token ? { auth: { token } } : {}),
      });
      await session.terminal.line(`Jobsmith dashboard at ${served.url} on ${await session.safeUrl()}${token ? '' : ' (no token: loopback only)'}; Ctrl-C to stop`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      await served.close();
      await session.terminal.line(`stopped (${signal})`);
    });
}
