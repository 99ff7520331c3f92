/**
 * A store in a known state for the dashboard's tests: jobs in every state, a failed job
 * whose payload, error, log line and progress message hold markup, a job and a schedule
 * whose name, queue and id hold markup (written straight to the backend, as another
 * process or an older version could have), and two schedules.
 */
import { type Backend, type Client, createClient, createScheduler, defineJob, MemoryBackend, PermanentError, type Scheduler } from '../../src/index.ts';
import { prepareJob } from '../../src/execution/prepare-job.ts';
import { toJobDefinition } from '../../src/domain/define-job.ts';

/** Markup that would run if rendered as HTML: a script element, and an image whose error handler runs. */
export const scriptTag = '<script>window.__xss = (window.__xss || 0) + 1; alert("xss")</script>';
export const onerrorTag = '<img src=x onerror="window.__xss = (window.__xss || 0) + 1; alert(\'xss\')">';

export const mail = defineJob({
  name: 'send-mail',
  queue: 'mail',
  maxAttempts: 1,
  async run(payload: { to: string; fail?: boolean; html?: string }, ctx) {
    await ctx.progress(40, payload.fail ? onerrorTag : 'writing');
    await ctx.log(payload.fail ? scriptTag : 'sent', { to: payload.to });
    if (payload.fail) throw new PermanentError(`mailbox full ${scriptTag}`);
    return { sent: payload.to };
  },
});

export const report = defineJob({
  name: 'report',
  async run(payload: { month: string }) {
    return { month: payload.month, rows: 3 };
  },
});

export const jobs = [mail, report];

export interface Store {
  backend: Backend;
  client: Client;
  scheduler: Scheduler;
  /** `hostile` and `hostileSchedule` are '' when the store was made with `markup: false`. */
  ids: { failed: string; completed: string; hostile: string; queued: string[] };
  hostileSchedule: string;
  close(): Promise<void>;
}

/** Writes a job whose name and queue, and a schedule whose id, hold markup, straight to the backend. */
export async function addMarkup(backend: Backend, scheduler: Scheduler): Promise<{ hostile: string; hostileSchedule: string }> {
  const prepared = await prepareJob(toJobDefinition(report), { month: onerrorTag }, {}, backend.now());
  const [hostile] = await backend.enqueue([{ ...prepared, name: `report${scriptTag}`, queue: `q${onerrorTag}` }]);
  const hostileSchedule = `s${scriptTag}`;
  const nightly = await scheduler.get('nightly-report');
  await backend.upsertSchedule({ id: hostileSchedule, spec: nightly.spec, enabled: true, nextRunAt: backend.now() + 3_600_000, now: backend.now() });
  return { hostile: hostile!.id, hostileSchedule };
}

/** The store; `markup: false` leaves out the job and schedule whose name, queue and id hold markup (`addMarkup` adds them later). */
export async function makeStore(backend: Backend = new MemoryBackend(), options: { markup?: boolean } = {}): Promise<Store> {
  const client = createClient({ backend, jobs });
  const scheduler = createScheduler({ backend, jobs });
  const completed = await client.runNow(mail, { to: 'ada@example.com' });
  const failed = await client.runNow(mail, { to: 'bob@example.com', fail: true, html: scriptTag });
  const queued: string[] = [];
  for (let index = 0; index < 7; index++) queued.push((await client.enqueue(report, { month: `2026-0${index + 1}` }, { delay: index % 2 === 0 ? 0 : 3_600_000 })).id);
  await scheduler.schedule({ id: 'nightly-report', cron: '0 2 * * *', tz: 'Europe/Berlin', job: report, payload: { month: '2026-11' } });
  await scheduler.schedule({ id: 'digest', every: 60_000, job: report, payload: { month: 'digest' }, enabled: false });
  const { hostile, hostileSchedule } = options.markup === false ? { hostile: '', hostileSchedule: '' } : await addMarkup(backend, scheduler);
  return {
    backend,
    client,
    scheduler,
    ids: { failed: failed.metadata.id, completed: completed.metadata.id, hostile, queued },
    hostileSchedule,
    close: async () => {
      await scheduler.close();
      await client.close();
      await backend.close();
    },
  };
}
