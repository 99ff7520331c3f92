// `npm start`: a worker, the scheduler and a producer on the embedded SQLite default, with the example jobs,
// and the dashboard beside them on http://127.0.0.1:4000/ (JOBSMITH_DASHBOARD_PORT; 0 picks a free port).
// Ctrl-C stops it gracefully: running jobs get up to 10 s, then are released for the next start;
// a second Ctrl-C stops it at once (see the end of this file).
import { pino } from 'pino';
import { serveDashboard } from '../src/dashboard/index.ts';
import { createClient, createScheduler, createWorker, daily, defaultBackendUrl, every, openBackend, step } from '../src/index.ts';
import { albumReady, ChargeCard, flakyWebhook, makeThumbnail, monthlyReport, queueDigest, welcomeEmail } from './jobs.ts';
import { shortId } from './short-id.ts';

const url = process.env.JOBSMITH_URL ?? defaultBackendUrl;
const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname' } } } : {}),
});

const backend = await openBackend(url);
const jobs = [welcomeEmail, monthlyReport, flakyWebhook, ChargeCard, queueDigest, makeThumbnail, albumReady];
const client = createClient({ backend, jobs, logger });
const worker = createWorker({ backend, jobs, concurrency: 5, logger: logger.child({ component: 'worker' }) });

worker.on('job:started', ({ job }) => logger.info({ id: shortId(job.id), job: job.name, attempt: job.attempts + 1 }, 'started'));
worker.on('job:progress', ({ job, progress }) => logger.info({ id: shortId(job.id), percent: progress.percent, phase: progress.message }, 'progress'));
worker.on('job:completed', ({ job, result, durationMs }) => logger.info({ id: shortId(job.id), job: job.name, result, durationMs }, 'completed'));
worker.on('job:retrying', ({ job, error, runAt }) =>
  logger.warn({ id: shortId(job.id), job: job.name, error: (error as Error).message, retryInMs: runAt - Date.now() }, 'retrying'),
);
worker.on('job:failed', ({ job, error }) => logger.error({ id: shortId(job.id), job: job.name, error: (error as Error).message }, 'failed'));
worker.on('job:stalled', ({ job }) => logger.warn({ id: shortId(job.id), job: job.name, crashes: job.crashes }, 'recovered from a crashed worker'));
worker.on('worker:error', ({ error, during }) => logger.error({ err: error, during }, 'worker error'));

await worker.start();

// Schedules live in the store: every process may register them at start; each tick fires once.
const scheduler = createScheduler({ backend, jobs, logger: logger.child({ component: 'scheduler' }) });
scheduler.on('schedule:fired', ({ schedule, tick, jobIds }) =>
  logger.info({ schedule: schedule.id, tick: new Date(tick).toISOString(), jobIds: jobIds.map(shortId) }, 'schedule fired'),
);
scheduler.on('scheduler:error', ({ error, during }) => logger.error({ err: error, during }, 'scheduler error'));
await scheduler.schedule({ id: 'queue-digest', every: every('15s'), job: queueDigest, payload: null, overlap: 'skip' });
await scheduler.schedule({ id: 'nightly-report', cron: daily(2, 0), tz: 'Europe/Berlin', job: monthlyReport, payload: { month: '2026-11' } });
logger.info({ nightly: (await scheduler.nextRuns('nightly-report', 3)).map((date) => date.toISOString()) }, 'nightly-report next runs');
await scheduler.start();
// No auth given, so it serves loopback only (and logs that it does).
const dashboard = await serveDashboard({
  client,
  scheduler,
  port: Number(process.env.JOBSMITH_DASHBOARD_PORT ?? 4000),
  logger: logger.child({ component: 'dashboard' }),
});
logger.info({ url, dashboard: dashboard.url }, `Jobsmith demo running, dashboard at ${dashboard.url}; Ctrl-C to stop`);

// Run one job inline, right here, and show what `now()` answers.
const inline = await client.job(welcomeEmail).now({ email: 'ada@example.com', name: 'Ada' });
logger.info({ data: inline.data, status: inline.metadata.status, durationMs: inline.metadata.durationMs }, 'ran welcome-email inline with now()');

// A flow: a batch of thumbnails, and a callback job that runs once when all of them have
// finished. Its page in the dashboard (and `jobsmith status`) shows it waiting for its children.
// Only on a store with flows (capability `flows`).
const enqueueAlbum = async (album: string) => {
  if (!backend.capabilities.has('flows')) return;
  const photos = ['beach.jpg', 'harbour.jpg', 'sunset.jpg'];
  const batch = await client.batch(
    photos.map((photo) => step(makeThumbnail, { photo: `${album}/${photo}`, width: 320 })),
    { onComplete: step(albumReady, { album }) },
  );
  logger.info({ batchId: batch.batchId, items: batch.ids.map(shortId), onComplete: shortId(batch.callbacks.onComplete!) }, 'batch enqueued: thumbnails, then album-ready');
};

let tick = 0;
const produce = async () => {
  tick++;
  if (tick % 5 === 1) await enqueueAlbum(`album-${tick}`);
  await client.job(welcomeEmail).later({ email: `user${tick}@example.com`, name: `User ${tick}` });
  if (tick % 2 === 1) await client.job(monthlyReport).later({ month: '2026-11' }, { key: 'report-2026-11' });
  if (tick % 3 === 1) await client.job(flakyWebhook).later({ url: 'https://hooks.example.com/orders' });
  if (tick % 4 === 1) await client.job(ChargeCard).later({ customer: `cus_${tick}`, cents: tick % 8 === 1 ? 25_000 : 1_999 });
  if (tick % 5 === 0) {
    const stats = await client.stats();
    logger.info({ counts: stats.counts, waitingForChildren: stats.waitingForChildren, completedLastMinute: stats.completedLastMinute, failedLastMinute: stats.failedLastMinute }, 'stats');
  }
};
const producer = setInterval(() => produce().catch((error: unknown) => logger.error({ err: error }, 'enqueue failed')), 3000);

// Stopping, as a long-running process should: the first SIGINT or SIGTERM stops
// gracefully (running jobs get up to 10 s, then are released to the queue); a second one
// stops at once, releasing running jobs. Nothing is left `running` either way. One Ctrl-C
// can arrive more than once: the terminal sends it to the whole process group, and npm and
// tsx pass it on to their child too, so signals within a second of the first count as one.
// `process.on`, not `once`: a repeated signal must not fall through to Node's default,
// which kills the process before the worker has written what it holds.
let firstSignalAt: number | null = null;
const onSignal = (signal: NodeJS.Signals) => {
  const now = Date.now();
  if (firstSignalAt === null) {
    firstSignalAt = now;
    void shutdown(signal);
  } else if (now - firstSignalAt >= 1000) {
    logger.warn({ signal }, 'stopping at once: releasing running jobs');
    void worker.stop({ timeout: 0 });
  }
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// The first jobs only once a Ctrl-C is handled: a signal while they were being enqueued (the
// worker may already be running one) fell through to Node's default and killed the process.
await produce().catch((error: unknown) => logger.error({ err: error }, 'enqueue failed'));

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  logger.info({ signal }, 'stopping: finishing running jobs (up to 10 s); signal again to stop at once');
  clearInterval(producer);
  try {
    await dashboard.close();
    await scheduler.stop();
    await worker.stop({ timeout: '10s' });
    await client.close();
    await backend.close();
    logger.info('stopped');
  } catch (error) {
    logger.error({ err: error }, 'stopping failed');
    process.exitCode = 1;
  } finally {
    logger.flush();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
