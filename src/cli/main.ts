#!/usr/bin/env node
// The `jobsmith` command. Each command group lives in its own file and uses only the public API.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { describeError, exitCodeOf } from './cli-errors.ts';
import { registerDashboard } from './dashboard.ts';
import { registerFailed } from './failed.ts';
import { registerFlow } from './flow.ts';
import { registerInit } from './init.ts';
import { registerList } from './list.ts';
import { registerMakeJob } from './make-job.ts';
import { registerMigrate } from './migrate.ts';
import { registerQueues } from './queues.ts';
import { registerRun } from './run.ts';
import { registerSchedules } from './schedules.ts';
import { Session } from './session.ts';
import { registerStats } from './stats.ts';
import { registerStatus } from './status.ts';
import { registerSteer } from './steer.ts';
import { registerWhy } from './why.ts';
import { registerWorker } from './worker.ts';
import { registerWorkers } from './workers.ts';

// Two levels up from src/cli/ and from dist/cli/ alike.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

// The reader closed the pipe (`jobsmith list | head`): it has all it wanted, so stop quietly, exit code 0.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const session = new Session(process.env, process.cwd());

const program = new Command()
  .name('jobsmith')
  .description('Run workers, inspect, steer and scaffold Jobsmith jobs.')
  .version(version)
  .option('--url <url>', 'the store: sqlite:./jobsmith.db, postgres://…, redis://… (before JOBSMITH_URL and the config file)')
  .option('-c, --config <file>', 'the config file (default: jobsmith.config.ts, .mts, .js or .mjs here)')
  .option('--json', 'print JSON for scripts: one value per line (NDJSON), times in ISO 8601')
  .option('--no-color', 'no colours (also NO_COLOR=1; FORCE_COLOR=1 forces them)')
  .option('-v, --verbose', 'print stack traces with errors; debug logs in worker')
  .showSuggestionAfterError()
  .exitOverride()
  .addHelpText(
    'after',
    `
The store is the first of: --url, JOBSMITH_URL, the config file's url, sqlite:./jobsmith.db.
Exit codes: 0 success, 1 could not be done (store unreachable, job failed), 2 usage error.

Examples:
  $ npx jobsmith init
  $ npx jobsmith worker --concurrency 20
  $ npx jobsmith list --state failed
  $ npx jobsmith status 0190f3c2-1a2b`,
  );

program.hook('preAction', () => session.configure(program.opts()));

registerInit(program, session);
registerWorker(program, session);
registerWorkers(program, session);
registerList(program, session);
registerStatus(program, session);
registerWhy(program, session);
registerFlow(program, session);
registerRun(program, session);
registerSteer(program, session);
registerFailed(program, session);
registerStats(program, session);
registerQueues(program, session);
registerSchedules(program, session);
registerMakeJob(program, session);
registerMigrate(program, session);
registerDashboard(program, session);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has printed its own message (unknown command or option, missing argument, --help).
  if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? 0 : 2;
  else {
    process.stderr.write(`${describeError(error, session.verbose, await session.secrets())}\n`);
    process.exitCode = exitCodeOf(error);
  }
} finally {
  await session.close().catch((error: unknown) => {
    process.stderr.write(`${describeError(error, session.verbose, [])}\n`);
    process.exitCode ||= 1;
  });
}
