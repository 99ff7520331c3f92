import { basename } from 'node:path';
import { type Command, InvalidArgumentError } from '@commander-js/extra-typings';
import type { Logger as PinoLogger } from 'pino';
import { type Worker, createScheduler, createWorker, openBackend, redactUrl, toJobDefinition } from '../index.ts';
import { CliError } from './cli-errors.ts';
import { parsePositiveInteger } from './list.ts';
import type { Session } from './session.ts';

function parseList(value: string): string[] {
  const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (items.length === 0) throw new InvalidArgumentError('Expected one or more names, comma-separated.');
  return items;
}

/** pino: pretty on a terminal (pino-pretty), one JSON object per line otherwise. `LOG_LEVEL` sets the level; --verbose means debug. */
async function createLogger(session: Session): Promise<PinoLogger> {
  const { pino } = await import('pino');
  const level = session.verbose ? 'debug' : (process.env.LOG_LEVEL ?? 'info');
  if (!session.terminal.tty) return pino({ level });
  return pino({ level, transport: { target: 'pino-pretty', options: { colorize: session.terminal.color, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', singleLine: true } } });
}

function logJobEvents(worker: Worker, logger: PinoLogger): void {
  const short = (id: string) => id.slice(0, 18);
  const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
  worker.on('job:started', ({ job }) => logger.info({ id: short(job.id), job: job.name, attempt: job.attempts + 1 }, 'started'));
  worker.on('job:progress', ({ job, progress }) => logger.debug({ id: short(job.id), percent: progress.percent, message: progress.message }, 'progress'));
  worker.on('job:completed', ({ job, durationMs }) => logger.info({ id: short(job.id), job: job.name, durationMs }, 'completed'));
  worker.on('job:retrying', ({ job, error, runAt }) => logger.warn({ id: short(job.id), job: job.name, reason: message(error), runAt: new Date(runAt).toISOString() }, 'retrying'));
  worker.on('job:failed', ({ job, error }) => logger.error({ id: short(job.id), job: job.name, reason: message(error) }, 'failed'));
  worker.on('job:cancelled', ({ job }) => logger.info({ id: short(job.id), job: job.name }, 'cancelled'));
  worker.on('job:stalled', ({ job }) => logger.warn({ id: short(job.id), job: job.name, crashes: job.crashes }, 'taken over from a crashed worker'));
  worker.on('worker:error', ({ error, during, jobId }) => logger.error({ err: error, during, jobId }, 'worker error'));
}

/**
 * Stops on SIGINT or SIGTERM: the first stops gracefully (running jobs get the shutdown
 * timeout, then are released); a second one stops at once, releasing running jobs. One
 * Ctrl-C can reach the process more than once (the terminal signals the whole process
 * group, and npm or npx pass it on too), so signals within a second of the first count
 * as one. `process.on`, not `once`: a repeat must not fall through to Node's default,
 * which would kill the process before the worker has written what it holds.
 */
function onStopSignals(graceful: (signal: NodeJS.Signals) => void, atOnce: (signal: NodeJS.Signals) => void): () => void {
  let firstAt: number | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (firstAt === null) {
      firstAt = now;
      graceful(signal);
    } else if (now - firstAt >= 1000) atOnce(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

export function registerWorker(program: Command, session: Session): void {
  program
    .command('worker')
    .description("Run a worker and the scheduler for the config's jobs and schedules, until SIGINT or SIGTERM.")
    .option('--queues <names>', "queues to serve, comma-separated (default: the config's, else every queue its jobs use)", parseList)
    .option('--concurrency <n>', 'jobs run at once (default: the config\'s, else 10)', parsePositiveInteger)
    .addHelpText(
      'after',
      '\nCtrl-C (or SIGTERM) stops gracefully: running jobs get the shutdown timeout, then go back to their queue.\nA second one, a second or more later, stops at once and releases them.\n\nExample:\n  $ jobsmith worker --queues mail,default --concurrency 20',
    )
    .action(async (options) => {
      const { config, path } = await session.config();
      const jobs = config.jobs ?? [];
      if (jobs.length === 0) {
        throw new CliError('CONFIG', path ? `${basename(path)} lists no jobs, so the worker would have nothing to run.` : 'No config file here (jobsmith.config.ts): the worker needs one that lists its jobs. Run jobsmith init.');
      }
      const { url } = await session.store();
      const logger = await createLogger(session);
      const backend = await openBackend(url);
      await backend.open();
      const worker = createWorker({
        ...config.worker,
        ...(options.queues ? { queues: options.queues } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        backend,
        jobs,
        logger: logger.child({ component: 'worker' }),
      });
      logJobEvents(worker, logger);
      const scheduler = createScheduler({ backend, jobs, logger: logger.child({ component: 'scheduler' }) });
      scheduler.on('schedule:fired', ({ schedule, tick, jobIds }) => logger.info({ schedule: schedule.id, tick: new Date(tick).toISOString(), jobIds }, 'schedule fired'));
      scheduler.on('scheduler:error', ({ error, during, scheduleId }) => logger.error({ err: error, during, scheduleId }, 'scheduler error'));

      let stopping: Promise<void> | null = null;
      let stopAsked!: () => void;
      const stopRequested = new Promise<void>((resolve) => (stopAsked = resolve));
      const stop = (signal: NodeJS.Signals | null) => {
        stopAsked();
        stopping ??= (async () => {
          logger.info({ signal }, 'stopping: finishing running jobs; signal again to stop at once');
          await scheduler.stop();
          await worker.stop();
        })();
        return stopping;
      };
      const removeSignals = onStopSignals(
        (signal) => void stop(signal),
        (signal) => {
          logger.warn({ signal }, 'stopping at once: releasing running jobs');
          void worker.stop({ timeout: 0 });
        },
      );
      try {
        await worker.start();
        for (const schedule of config.schedules ?? []) await scheduler.schedule(schedule);
        if (!stopping) await scheduler.start();
        // A signal during the start: the scheduler may have started after it was told to stop.
        if (stopping) await scheduler.stop();
        logger.info(
          { url: redactUrl(url), jobs: jobs.map((job) => toJobDefinition(job).name), schedules: (config.schedules ?? []).map((schedule) => schedule.id) },
          'jobsmith worker running; Ctrl-C to stop',
        );
        // The started worker holds the process open until it is stopped.
        await stopRequested;
        await stopping;
        logger.info('stopped');
      } catch (error) {
        await stop(null).catch(() => undefined);
        throw error;
      } finally {
        removeSignals();
        await backend.close();
        logger.flush();
      }
    });
}
