import type { Context, Hono } from 'hono';
import { wallTime } from '../cli/time-format.ts';
import type { ScheduleRecord } from '../index.ts';
import { scheduleZone } from '../scheduler/schedule-display.ts';
import type { DashboardEnv } from './create-dashboard.ts';
import type { DashboardContext } from './dashboard-context.ts';
import { findJobs, readJobQuery } from './job-listing.ts';

/**
 * The JSON API under `/api`: everything the pages show and do. Reads are GET; every write
 * is a POST (auth, read-only mode, Origin and CSRF are checked before any handler runs).
 * A write asked by htmx answers with `HX-Trigger: jobsmith-change`, so the page reloads
 * its live part at once.
 */
export function registerApiRoutes(app: Hono<DashboardEnv>, context: DashboardContext): void {
  const { client, base } = context;
  const api = `${base}/api`;

  const written = (c: Context<DashboardEnv>, body: unknown, redirect?: string) => {
    if (c.req.header('hx-request') === 'true') {
      if (redirect !== undefined) c.header('HX-Redirect', redirect);
      else c.header('HX-Trigger', 'jobsmith-change');
    }
    return c.json(body);
  };

  app.get(`${api}/stats`, async (c) => c.json(await client.stats()));

  app.get(`${api}/jobs`, async (c) => c.json(await findJobs(context, readJobQuery(new URL(c.req.url).searchParams))));
  app.get(`${api}/failed`, async (c) => c.json(await findJobs(context, { ...readJobQuery(new URL(c.req.url).searchParams, 'failed'), id: null })));
  app.get(`${api}/jobs/:id`, async (c) => c.json(await client.get(c.req.param('id'))));
  app.get(`${api}/jobs/:id/why`, async (c) => c.json(await client.explainWait(c.req.param('id'))));
  app.get(`${api}/jobs/:id/children`, async (c) => c.json(await client.children(c.req.param('id'))));
  app.get(`${api}/flows/:flowId`, async (c) => {
    const progress = await client.flowProgress(c.req.param('flowId'));
    return progress === null ? c.json({ error: { code: 'NOT_FOUND', message: 'No job of this flow is in the store.' } }, 404) : c.json(progress);
  });
  app.get(`${api}/workers`, async (c) => c.json(await client.workers()));

  app.post(`${api}/jobs/:id/retry`, async (c) => written(c, await client.retry(c.req.param('id'))));
  app.post(`${api}/jobs/:id/cancel`, async (c) => written(c, await client.cancel(c.req.param('id'))));
  app.post(`${api}/jobs/:id/delete`, async (c) => {
    const job = await client.get(c.req.param('id'));
    const deleted = await client.delete(job.id);
    // Deleted from its own page: that page is gone, so go to the list.
    const fromItsPage = (c.req.header('hx-current-url') ?? '').split('?')[0]!.endsWith(`/jobs/${job.id}`);
    return written(c, { id: job.id, deleted }, fromItsPage ? `${base}/jobs` : undefined);
  });

  app.post(`${api}/failed/retry`, async (c) => {
    const params = new URL(c.req.url).searchParams;
    const filter: { queue?: string; name?: string } = {};
    if (params.get('queue')) filter.queue = params.get('queue')!;
    if (params.get('name')) filter.name = params.get('name')!;
    return written(c, await client.retryFailed(filter));
  });
  app.post(`${api}/failed/flush`, async (c) => written(c, { deleted: await client.prune({ olderThan: 0, states: ['failed'] }) }));

  app.get(`${api}/queues`, async (c) => c.json((await client.stats()).queues));
  for (const verb of ['pause', 'resume'] as const) {
    app.post(`${api}/queues/:queue/${verb}`, async (c) => {
      const queue = c.req.param('queue');
      await (verb === 'pause' ? client.pause(queue) : client.resume(queue));
      return written(c, { queue, paused: verb === 'pause' });
    });
  }

  const withZone = (record: ScheduleRecord) => {
    const zone = scheduleZone(record);
    return { ...record, zone, nextRunInZone: record.enabled && record.nextRunAt !== null ? wallTime(record.nextRunAt, zone) : null };
  };
  app.get(`${api}/schedules`, async (c) => c.json((await (await context.scheduler()).list()).map(withZone)));
  app.post(`${api}/schedules/:id/enable`, async (c) => written(c, withZone(await (await context.scheduler()).enable(c.req.param('id')))));
  app.post(`${api}/schedules/:id/disable`, async (c) => written(c, withZone(await (await context.scheduler()).disable(c.req.param('id')))));
  app.post(`${api}/schedules/:id/run`, async (c) => {
    const id = c.req.param('id');
    return written(c, { schedule: id, id: await (await context.scheduler()).runNow(id) });
  });
}
