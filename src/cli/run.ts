import { type Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { type Duration, type EnqueueOptions, type JobDefinition, type JobRun, UnknownJobError, toJobDefinition } from '../index.ts';
import { CliError } from './cli-errors.ts';
import { parsePositiveInteger } from './list.ts';
import { collect, payloadFrom } from './payload-flags.ts';
import type { Session } from './session.ts';
import { duration, relativeTime } from './time-format.ts';

const paramHelp = `
Payload: --param key=value (repeatable) or --payload '<json>' / --payload @file.json.
  Dotted keys nest:      --param user.id=7 --param user.name=Ada   → {"user":{"id":7,"name":"Ada"}}
  Values are parsed:     n=5 → 5, ok=true → true, x=null → null, anything else → a string
  Keep a string with :=  --param zip:=01234 (or in double quotes: --param 'zip="5"')
  Neither given:         the payload is {}`;

function parseInteger(value: string): number {
  const number = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(number)) throw new InvalidArgumentError('Expected a whole number.');
  return number;
}

function parseMoment(value: string): Date {
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new InvalidArgumentError('Expected an ISO 8601 date and time, such as 2026-12-24T18:00:00Z.');
  return new Date(at);
}

/** The config's definition of the job named `name`; `UnknownJobError` (listing the known ones) when there is none. */
async function definitionNamed(session: Session, name: string): Promise<JobDefinition> {
  const definitions = ((await session.config()).config.jobs ?? []).map(toJobDefinition);
  const definition = definitions.find((candidate) => candidate.name === name);
  if (!definition) throw new UnknownJobError(name, definitions.map((candidate) => candidate.name));
  return definition;
}

async function printRun(session: Session, run: JobRun<unknown>): Promise<void> {
  const terminal = session.terminal;
  const { metadata } = run;
  if (session.json) {
    await terminal.json(run);
    return;
  }
  const took = metadata.durationMs === null ? '' : ` in ${duration(metadata.durationMs)}`;
  const style = metadata.status === 'completed' ? 'green' : 'red';
  await terminal.line(`${terminal.style(style, metadata.status)}  ${metadata.name}  ${metadata.id}${took}  (attempt ${metadata.attempts})`);
  if (metadata.status === 'completed') await terminal.line(JSON.stringify(run.data ?? null, null, 2));
  if (metadata.error) await terminal.line(terminal.style('red', `${metadata.error.name}: ${metadata.error.message}`));
}

export function registerRun(program: Command, session: Session): void {
  program
    .command('run')
    .description("Run a job from the config here and now (job.now()); print its result and the run's record.")
    .argument('<job>', 'the job name')
    .option('-p, --param <key=value>', 'a payload field (repeatable; see below)', collect)
    .option('--payload <json|@file>', 'the whole payload as JSON, or @file.json')
    .addHelpText('after', `${paramHelp}\n\nExit code 1 when the job does not complete.\n\nExample:\n  $ jobsmith run send-email --param to=ada@example.com --param subject=Hi`)
    .action(async (name, options) => {
      const payload = payloadFrom(options, session.workingDirectory);
      const definition = await definitionNamed(session, name);
      const client = await session.client();
      const run = await client.job(definition).now(payload);
      await printRun(session, run);
      if (run.metadata.status === 'completed') return;
      const outcome =
        run.metadata.status === 'scheduled' || run.metadata.status === 'queued'
          ? `attempt ${run.metadata.attempts} failed; the job waits in its queue to be retried by a worker (jobsmith status ${run.metadata.id})`
          : `it ended ${run.metadata.status}`;
      throw new CliError('JOB_FAILED', `Job ${name} did not complete: ${outcome}.`);
    });

  program
    .command('enqueue')
    .description('Add a job from the config to its queue for a worker; print its id.')
    .argument('<job>', 'the job name')
    .option('-p, --param <key=value>', 'a payload field (repeatable; see below)', collect)
    .option('--payload <json|@file>', 'the whole payload as JSON, or @file.json')
    .option('--delay <duration>', 'run no sooner than this from now: 30s, 5m, 2h, 7d')
    .option('--run-at <iso>', 'run no sooner than this moment (ISO 8601)', parseMoment)
    .option('--priority <n>', 'higher runs first, -1000 to 1000', parseInteger)
    .option('--queue <queue>', "the queue (default: the job's)")
    .option('--key <key>', 'no second job while one with this key is waiting or running')
    .option('--max-attempts <n>', 'attempts in all, the first included', parsePositiveInteger)
    .addHelpText('after', `${paramHelp}\n\nExample:\n  $ jobsmith enqueue send-email -p to=ada@example.com -p subject=Hi --delay 5m --priority 10`)
    .action(async (name, options) => {
      const payload = payloadFrom(options, session.workingDirectory);
      const definition = await definitionNamed(session, name);
      const client = await session.client();
      const enqueueOptions: EnqueueOptions = {
        ...(options.delay !== undefined ? { delay: options.delay as Duration } : {}),
        ...(options.runAt !== undefined ? { runAt: options.runAt } : {}),
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
        ...(options.queue !== undefined ? { queue: options.queue } : {}),
        ...(options.key !== undefined ? { key: options.key } : {}),
        ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
      };
      const { id, created } = await client.enqueue(definition, payload, enqueueOptions);
      const terminal = session.terminal;
      if (session.json) return terminal.json({ id, created });
      await terminal.line(id);
      if (!created) terminal.note(`A ${name} job with key "${options.key}" is already waiting or running; that is its id. Nothing was added.`);
      else if (terminal.tty) {
        const job = await client.get(id);
        const now = await session.now();
        terminal.note(`Enqueued ${name} on queue "${job.queue}"${job.runAt > now ? `, to run ${relativeTime(job.runAt, now)}` : ''}.`);
      }
    });
}
