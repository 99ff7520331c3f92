import { expect } from 'vitest';
import type { JobPage } from '../../contract/backend.ts';
import { defineJob } from '../../domain/define-job.ts';
import { AmbiguousIdError, InvalidOptionError, JobNotFoundError, PermanentError } from '../../domain/errors.ts';
import type { ConformanceSuite } from './index.ts';

/** The administration role: cancel, pause and resume, lookup by id prefix, listing, stats, pruning, retry and delete. */
export function adminTests(suite: ConformanceSuite): void {
  const { test, startWorker, eventually, stateOf, untilState, newJob, noop, enqueueOne, claimBy } = suite;

  // ── cancel ─────────────────────────────────────────────────────────────

  test('cancelling a waiting job cancels it at once', async ({ clock, backend, client }) => {
    const { id } = await enqueueOne(await newJob(noop, 1, { delay: '1h' }));
    const result = await client.cancel(id);
    expect(result.outcome).toBe('cancelled');
    expect(await backend.get(id)).toMatchObject({ state: 'cancelled' });
    await clock.advance('2h');
    expect((await backend.claim(claimBy('w', 5))).jobs).toHaveLength(0);
    expect((await client.cancel(id)).outcome).toBe('already-finished');
  });

  // ── pause and resume ───────────────────────────────────────────────────

  test('a paused queue is not claimed from until it is resumed', async ({ backend, client }) => {
    await backend.enqueue([await newJob(noop, 1), await newJob(noop, 2, { queue: 'other' })]);
    await client.pause('default');
    expect((await backend.claim(claimBy('w', 5, { queues: ['default', 'other'] }))).jobs.map((job) => job.payload)).toEqual([2]);
    const stats = await client.stats();
    expect(stats.queues.find((queue) => queue.queue === 'default')?.paused).toBe(true);
    await client.resume('default');
    expect((await backend.claim(claimBy('w', 5))).jobs.map((job) => job.payload)).toEqual([1]);
  });

  // ── lookup, listing, stats, pruning ────────────────────────────────────

  test('get finds a job by a unique id prefix; an ambiguous prefix lists the matches', async ({ backend, client }) => {
    // In two states, so a store that indexes jobs by state must look in each.
    const [a, b] = await backend.enqueue([await newJob(noop, 1, { delay: '1h' }), await newJob(noop, 2)]);
    let common = 0;
    while (a!.id[common] === b!.id[common]) common++;
    await expect(client.get(a!.id.slice(0, common))).rejects.toSatisfy(
      (error: unknown) => error instanceof AmbiguousIdError && error.matches.includes(a!.id) && error.matches.includes(b!.id),
    );
    expect((await client.get(a!.id.slice(0, common + 1))).id).toBe(a!.id);
    expect((await client.get(b!.id.toUpperCase())).id).toBe(b!.id);
    await expect(client.get('ffffffff')).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(client.get('not an id')).rejects.toBeInstanceOf(InvalidOptionError);
  });

  test('an id prefix that matches more jobs than are listed says "more than 10", not how many it fetched', async ({ backend, client }) => {
    // Enqueued in the same millisecond: their ids share the time part (the first 12 hex digits).
    const stored = await backend.enqueue(await Promise.all(Array.from({ length: 14 }, (_, n) => newJob(noop, n))));
    const prefix = stored[0]!.id.slice(0, 8);
    expect(stored.every((job) => job.id.startsWith(prefix))).toBe(true);
    const error = await client.get(prefix).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AmbiguousIdError);
    expect(error).toMatchObject({ more: true });
    expect((error as AmbiguousIdError).matches).toHaveLength(10);
    expect((error as Error).message).toMatch(new RegExp(`^Id prefix "${prefix}" matches more than 10 jobs: `));
    // Exactly ten are counted, not "more than".
    for (const job of stored.slice(10)) await backend.delete(job.id);
    await expect(client.get(prefix)).rejects.toThrow(`Id prefix "${prefix}" matches 10 jobs: `);
  });

  test('list filters by state, queue and name, and pages without gaps or repeats', async ({ backend, client }) => {
    const other = defineJob({ name: 'other', run: () => null });
    const items = [];
    for (let i = 0; i < 25; i++) items.push(await newJob(i % 2 ? noop : other, i, { queue: i % 3 ? 'default' : 'q2', delay: i < 5 ? '1h' : 0 }));
    await backend.enqueue(items);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await client.list({ limit: 10, cursor });
      seen.push(...page.jobs.map((job) => job.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(25);
    expect(seen).toEqual([...seen].sort().reverse());
    const all: string[] = [];
    for await (const job of client.jobs({ queue: 'q2' })) all.push(job.id);
    expect(all).toHaveLength(items.filter((job) => job.queue === 'q2').length);
    expect((await client.list({ name: 'other', limit: 100 })).jobs).toHaveLength(13);
    expect((await client.list({ state: 'scheduled', limit: 100 })).jobs).toHaveLength(5);
    expect((await client.list({ state: ['scheduled', 'queued'], limit: 100 })).jobs).toHaveLength(25);
    expect((await client.list({ state: 'queued', queue: 'q2', name: 'other', limit: 100 })).jobs.every((job) => job.queue === 'q2' && job.name === 'other')).toBe(true);
  });

  test('running jobs are listed, paged and found by id prefix like jobs in any other state', async ({ client }) => {
    const release: Array<() => void> = [];
    const blocking = defineJob({ name: 'blocking', run: () => new Promise<void>((resolve) => release.push(resolve)) });
    const ids: string[] = [];
    for (let n = 0; n < 6; n++) ids.push((await client.enqueue(blocking, null)).id);
    await startWorker([blocking], { concurrency: 3, prefetch: 0 });
    await eventually(() => release.length === 3, 'three jobs to start');
    const running = (await client.list({ state: 'running', limit: 100 })).jobs.map((job) => job.id);
    expect(running).toHaveLength(3);
    expect(running).toEqual([...running].sort().reverse());
    for (const id of running) expect(ids).toContain(id);
    // Paged one at a time across the running and queued jobs: every job once, newest first.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: JobPage = await client.list({ state: ['running', 'queued'], limit: 1, cursor });
      seen.push(...page.jobs.map((job) => job.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual([...ids].sort().reverse());
    expect((await client.list({ limit: 100 })).jobs.map((job) => job.id)).toEqual([...ids].sort().reverse());
    for (const id of running) expect((await client.get(id.slice(0, 30))).id).toBe(id);
    for (const done of release) done();
  });

  test('stats count jobs per state and queue, and finished jobs per minute and hour', async ({ clock, client }) => {
    const flaky = defineJob({ name: 'noop', run: (n: number) => { if (n < 0) throw new PermanentError('negative'); return n; } });
    await startWorker([flaky], { queues: ['default', 'q2'] });
    const ok = await client.enqueue(flaky, 1);
    const bad = await client.enqueue(flaky, -1);
    await client.enqueue(flaky, 2, { delay: '1d' });
    await client.enqueue(flaky, 3, { queue: 'q2', delay: '1d' });
    await untilState(ok.id, 'completed');
    await untilState(bad.id, 'failed');
    const stats = await client.stats();
    expect(stats.counts).toMatchObject({ completed: 1, failed: 1, scheduled: 2, running: 0 });
    expect(stats.completedLastMinute).toBe(1);
    expect(stats.failedLastMinute).toBe(1);
    expect(stats.lastProcessedAt).toBe(clock.now());
    const q2 = stats.queues.find((queue) => queue.queue === 'q2')!;
    expect(q2.counts.scheduled).toBe(1);
    await clock.advance('2m');
    const later = await client.stats();
    expect(later).toMatchObject({ completedLastMinute: 0, failedLastMinute: 0, completedLastHour: 1, failedLastHour: 1 });
    // Per minute: 60 whole minutes ending with the current one; the two finishes sit in the minute they happened in.
    const minutes = later.lastHourByMinute;
    expect(minutes).toHaveLength(60);
    expect(minutes.at(-1)!.at).toBe(Math.floor(clock.now() / 60_000) * 60_000);
    expect(minutes.every((minute, index) => index === 0 || minute.at - minutes[index - 1]!.at === 60_000)).toBe(true);
    const busy = minutes.filter((minute) => minute.completed + minute.failed > 0);
    expect(busy).toEqual([{ at: Math.floor(stats.lastProcessedAt! / 60_000) * 60_000, completed: 1, failed: 1 }]);
    await clock.advance('59m');
    // Retention removes rows, never the counters; the hour window does.
    const hourLater = await client.stats();
    expect(hourLater).toMatchObject({ completedLastHour: 0, failedLastHour: 0 });
    expect(hourLater.lastHourByMinute.every((minute) => minute.completed === 0 && minute.failed === 0)).toBe(true);
    expect(hourLater.counts.completed).toBe(1);
  });

  test('a queue tells when it last processed a job, to within a second', async ({ clock, client }) => {
    await startWorker([noop]);
    const lastProcessedAt = async () => {
      const stats = await client.stats();
      expect(stats.queues.find((queue) => queue.queue === 'default')?.lastProcessedAt ?? null).toBe(stats.lastProcessedAt);
      return stats.lastProcessedAt;
    };
    expect(await lastProcessedAt()).toBeNull();
    const first = await client.enqueue(noop, 1);
    await untilState(first.id, 'completed');
    const firstAt = clock.now();
    expect(await lastProcessedAt()).toBe(firstAt);
    // A store may keep the moment it wrote within the last second (a write a job saved), never an older one.
    for (const step of ['400ms', '1500ms', '30s'] as const) {
      await clock.advance(step);
      const next = await client.enqueue(noop, 2);
      await untilState(next.id, 'completed');
      const at = await lastProcessedAt();
      expect(at).not.toBeNull();
      expect(at!).toBeLessThanOrEqual(clock.now());
      expect(at!).toBeGreaterThan(clock.now() - 1000);
    }
  });

  test('stats tell, per queue, since when its longest-waiting job has waited, whatever the priorities', async ({ clock, client }) => {
    const noop = defineJob({ name: 'noop', run: () => null });
    const first = await client.enqueue(noop, null, { queue: 'behind', priority: -5 });
    await clock.advance('1m');
    await client.enqueue(noop, null, { queue: 'behind', priority: 10 });
    await client.enqueue(noop, null, { queue: 'behind', priority: 0 });
    const delayed = await client.enqueue(noop, null, { queue: 'later', delay: '1h' });
    const since = (stats: Awaited<ReturnType<typeof client.stats>>, queue: string) => stats.queues.find((row) => row.queue === queue)?.oldestWaitingSince;
    const startedAt = (await client.get(first.id)).runAt;
    const stats = await client.stats();
    // The longest-waiting job has the lowest priority: it is not the next one to run, but it has waited longest.
    expect(since(stats, 'behind')).toBe(startedAt);
    expect(since(stats, 'later')).toBeNull();
    expect(stats.oldestWaitingSince).toBe(startedAt);
    await clock.advance('2h');
    // The delayed job is due now, and has waited since its run time.
    const later = await client.stats();
    expect(since(later, 'later')).toBe((await client.get(delayed.id)).runAt);
    await client.cancel(first.id);
    expect(since(await client.stats(), 'behind')).toBe(startedAt + 60_000);
  });

  test('prune removes finished jobs older than asked, and jobs whose retention lapsed', async ({ clock, backend, client }) => {
    const [done, kept, waiting, shortLived, forever] = await backend.enqueue([
      await newJob(noop, 1),
      await newJob(noop, 2),
      await newJob(noop, 3, { delay: '1d' }),
      await newJob(noop, 4, { keepCompleted: '10s' }),
      await newJob(noop, 5, { keepCompleted: null }),
    ]);
    const complete = async (ids: string[]) => {
      const { jobs } = await backend.claim(claimBy('w', ids.length));
      const byId = new Map(jobs.map((job) => [job.id, job]));
      await backend.settle(
        ids.map((id) => ({ kind: 'complete' as const, id, token: byId.get(id)!.lease.token, result: null, expiresAt: byId.get(id)!.keepCompletedMs === null ? null : clock.now() + byId.get(id)!.keepCompletedMs! })),
      );
    };
    await complete([done!.id, kept!.id, shortLived!.id, forever!.id].sort());
    await clock.advance('11s');
    expect(await backend.prune({ expired: true })).toBe(1);
    expect(await backend.get(shortLived!.id)).toBeNull();
    expect(await client.prune({ olderThan: '1h' })).toBe(0);
    await clock.advance('2h');
    expect(await client.prune({ olderThan: '1h', states: ['failed'] })).toBe(0);
    expect(await client.prune({ olderThan: '1h' })).toBe(3);
    expect(await backend.get(waiting!.id)).toMatchObject({ state: 'scheduled' });
    expect(await backend.get(forever!.id)).toBeNull();
    await expect(client.prune({ olderThan: '1h', states: ['running'] })).rejects.toBeInstanceOf(InvalidOptionError);
  });

  test('retry puts a failed job back with fresh attempts; delete removes it', async ({ backend, client }) => {
    const job = defineJob({ name: 'fails', maxAttempts: 1, run: () => { throw new Error('x'); } });
    await startWorker([job]);
    const { id } = await client.enqueue(job, null);
    await untilState(id, 'failed');
    // Paused, so the retried job waits: retrying a job that is not failed or cancelled is refused.
    await client.pause('default');
    expect(await client.retry(id)).toMatchObject({ state: 'queued', attempts: 0, crashes: 0, finishedAt: null });
    await expect(client.retry(id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await client.resume('default');
    await untilState(id, 'failed');
    expect((await backend.get(id))!.attempts).toBe(1);
    // Retrying starts the attempts afresh but keeps the history: both failures are there.
    expect((await backend.get(id))!.attemptHistory.map(({ attempt, outcome, error }) => [attempt, outcome, error?.message])).toEqual([
      [1, 'failed', 'x'],
      [1, 'failed', 'x'],
    ]);
    expect(await client.delete(id)).toBe(true);
    expect(await backend.get(id)).toBeNull();
    await expect(client.delete(id)).rejects.toBeInstanceOf(JobNotFoundError);
  });

  test('failed jobs can be listed and flushed, leaving the rest', async ({ client }) => {
    const job = defineJob({ name: 'fails', maxAttempts: 1, run: (n: number) => { if (n > 0) throw new Error('x'); return n; } });
    await startWorker([job]);
    const failed = [await client.enqueue(job, 1), await client.enqueue(job, 2)];
    const ok = await client.enqueue(job, 0);
    for (const { id } of failed) await untilState(id, 'failed');
    await untilState(ok.id, 'completed');
    expect((await client.list({ state: 'failed' })).jobs.map((record) => record.id).sort()).toEqual(failed.map(({ id }) => id).sort());
    expect(await client.prune({ olderThan: 0, states: ['failed'] })).toBe(2);
    expect((await client.list({ state: 'failed' })).jobs).toHaveLength(0);
    expect(await stateOf(ok.id)).toBe('completed');
  });

  test('a running job cannot be deleted', async ({ backend, client }) => {
    const { id } = await enqueueOne(await newJob(noop, 1));
    await backend.claim(claimBy('w', 1));
    await expect(client.delete(id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });
}
