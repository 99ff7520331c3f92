import { expect } from 'vitest';
import { defineJob } from '../../domain/define-job.ts';
import type { ConformanceSuite } from './index.ts';

/** A worker claiming ahead of its free slots: when it does, the order it starts jobs in, and what it gives back. */
export function workerPrefetchTests(suite: ConformanceSuite): void {
  const { test, current, startWorker, eventually, stateOf, untilState } = suite;

  test('a worker claims ahead by default: its concurrency on a store apart from it, none in this process until jobs finish', async ({ backend, client }) => {
    const release: Array<() => void> = [];
    const blocking = defineJob({ name: 'blocking', run: () => new Promise<void>((resolve) => release.push(resolve)) });
    const ids: string[] = [];
    for (let n = 0; n < 20; n++) ids.push((await client.enqueue(blocking, null)).id);
    const running = async () => (await Promise.all(ids.map((id) => stateOf(id)))).filter((state) => state === 'running').length;
    // Concurrency 1: prefetch 1 on a store apart (2 running), none in this process (1 running).
    const first = await startWorker([blocking], { concurrency: 1 });
    await eventually(() => release.length === 1, 'the first job to start');
    const expectedAtOne = backend.inProcess ? 1 : 2;
    await eventually(async () => (await running()) === expectedAtOne, `${expectedAtOne} running`);
    expect(await running()).toBe(expectedAtOne);
    expect(release).toHaveLength(1);
    const stopping = first.stop({ timeout: '5s' });
    release.shift()!();
    await stopping;
    // Concurrency 8: prefetch 8 on a store apart (16 running), none in this process (8 running).
    await startWorker([blocking], { concurrency: 8 });
    await eventually(() => release.length === 8, 'eight jobs to start');
    const expectedAtEight = backend.inProcess ? 8 : 16;
    await eventually(async () => (await running()) === expectedAtEight, `${expectedAtEight} running`);
    expect(await running()).toBe(expectedAtEight);
    expect(release).toHaveLength(8);
    for (const done of release) done();
  });

  /**
   * A worker at `concurrency` that has just finished `finished` quick jobs within one window of
   * its pace (the fake clock stands still while they run, then moves on by `windowMs`), and a
   * job that blocks until released; `count(state)` counts the given jobs in a state.
   */
  async function afterQuickJobs(finished: number, concurrency: number, windowMs: number) {
    const { clock, client } = current();
    const quick = defineJob({ name: 'quick', run: () => null });
    const release: Array<() => void> = [];
    const blocking = defineJob({ name: 'blocking', run: () => new Promise<void>((resolve) => release.push(resolve)) });
    await client.enqueueMany(Array.from({ length: finished }, () => ({ job: quick, payload: null })));
    await startWorker([quick, blocking], { concurrency });
    await eventually(async () => (await client.stats()).counts.completed === finished, `${finished} quick jobs to complete`);
    await clock.advance(windowMs);
    const count = async (ids: readonly string[], state: string) => (await Promise.all(ids.map((id) => stateOf(id)))).filter((each) => each === state).length;
    return { blocking, release, count };
  }

  test('a worker whose jobs finish fast claims ahead as many as it finished in the last window: 100 ms on a store apart, 20 ms in this process', async ({ backend, client }) => {
    // 30 finished within one window: the worker now claims 30 ahead instead of 1 (a store apart) or 0 (in this process).
    const { blocking, release, count } = await afterQuickJobs(30, 1, backend.inProcess ? 20 : 100);
    const ids: string[] = [];
    for (let n = 0; n < 40; n++) ids.push((await client.enqueue(blocking, null)).id);
    await eventually(() => release.length === 1, 'a blocking job to start');
    await eventually(async () => (await count(ids, 'running')) === 31, '30 held and 1 running');
    // No more than that: the other 9 stay queued for another worker.
    expect(await count(ids, 'queued')).toBe(9);
    expect(release).toHaveLength(1);
    for (const done of release) done();
  });

  test('in this process, a worker holds ahead at most 2 × (50 − its concurrency), so a call writes and claims about 50 jobs', async ({ backend, client }) => {
    if (!backend.inProcess) return; // on a store apart the bound is 1,000 (the test above shows the pace)
    const { blocking, release, count } = await afterQuickJobs(200, 10, 20);
    const ids = (await client.enqueueMany(Array.from({ length: 150 }, () => ({ job: blocking, payload: null })))).map((job) => job.id);
    await eventually(() => release.length === 10, 'ten blocking jobs to start');
    // 200 finished in the window, but the worker holds at most 2 × (50 − 10) = 80 ahead of its 10 slots.
    await eventually(async () => (await count(ids, 'running')) === 90, '80 held and 10 running');
    expect(await count(ids, 'queued')).toBe(60);
    for (const done of release) done();
  });

  test('in this process, a worker at concurrency 50 or more holds none ahead: its free slots alone make calls of 50', async ({ backend, client }) => {
    if (!backend.inProcess) return; // on a store apart it holds at least its concurrency (the tests above)
    const { blocking, release, count } = await afterQuickJobs(200, 50, 20);
    const ids = (await client.enqueueMany(Array.from({ length: 80 }, () => ({ job: blocking, payload: null })))).map((job) => job.id);
    await eventually(() => release.length === 50, 'fifty blocking jobs to start');
    // 200 finished in the window, yet 2 × (50 − 50) = 0 held: only the 50 running, 30 left queued.
    expect(await count(ids, 'running')).toBe(50);
    expect(await count(ids, 'queued')).toBe(30);
    for (const done of release) done();
  });

  test('prefetched jobs start as slots free, go back unstarted when held too long, and go back on stop', async ({ clock, backend, client }) => {
    const started: number[] = [];
    const finishers = new Map<number, () => void>();
    const job = defineJob({
      name: 'held',
      run: (n: number) =>
        new Promise<number>((resolve) => {
          started.push(n);
          finishers.set(n, () => resolve(n));
        }),
    });
    const ids: string[] = [];
    for (const n of [1, 2, 3, 4]) ids.push((await client.enqueue(job, n)).id);
    const worker = await startWorker([job], { concurrency: 1, prefetch: 2 });
    await eventually(() => started.length === 1, 'the first job to start');
    // One runs and two are held under this worker's lease, unstarted; the fourth stays queued.
    const records = await Promise.all(ids.map((id) => backend.get(id)));
    expect(records.map((record) => record?.state)).toEqual(['running', 'running', 'running', 'queued']);
    expect(records.slice(1, 3).every((record) => record?.lease?.workerId === worker.id)).toBe(true);
    // A freed slot starts a held job at once, in claim order.
    finishers.get(1)!();
    await eventually(() => started.length === 2, 'a held job to start');
    expect(started).toEqual([1, 2]);
    await untilState(ids[0]!, 'completed');
    // Held past 500 ms while the slot stays busy: back to the queue, no attempt spent, no crash counted.
    await clock.advance('600ms');
    await eventually(async () => (await stateOf(ids[2]!)) === 'queued', 'the held job to go back');
    expect(await backend.get(ids[2]!)).toMatchObject({ state: 'queued', attempts: 0, crashes: 0, lease: null });
    expect(started).toEqual([1, 2]);
    // A stop gives back whatever is held and waits for the running one.
    finishers.get(2)!();
    await eventually(() => started.length === 3, 'the next job to start');
    const stopping = worker.stop({ timeout: '5s' });
    finishers.get(started[2]!)!();
    await stopping;
    const after = await Promise.all(ids.map((id) => stateOf(id)));
    expect(after.filter((state) => state === 'completed')).toHaveLength(3);
    expect(after.filter((state) => state === 'queued')).toHaveLength(1);
    expect(started).toHaveLength(3);
  });

  test('a worker at concurrency 1 with its default prefetch starts jobs by priority, then first in, first out', async ({ backend, client }) => {
    const started: Array<{ index: number; priority: number }> = [];
    const job = defineJob({
      name: 'ordered',
      run: (payload: { index: number; priority: number }) => void started.push(payload),
    });
    const priorities = [0, 5, -5, 10, 1];
    const count = 300;
    const items = Array.from({ length: count }, (_, index) => {
      const priority = priorities[index % priorities.length]!;
      return { job, payload: { index, priority }, options: { priority } };
    });
    // Several batches, so the backlog is as a busy app leaves it, not one transaction's.
    for (let from = 0; from < count; from += 50) await client.enqueueMany(items.slice(from, from + 50));
    await startWorker([job], { concurrency: 1 });
    await eventually(async () => (await backend.stats()).counts.completed === count, 'every job to complete');
    const expected = [...started].sort((a, b) => b.priority - a.priority || a.index - b.index);
    expect(started.map((entry) => entry.index)).toEqual(expected.map((entry) => entry.index));
  });

  test('a held job given back keeps its place in line', async ({ clock, backend, client }) => {
    const started: number[] = [];
    let finishFirst: (() => void) | undefined;
    const job = defineJob({
      name: 'in-line',
      run: (n: number) =>
        new Promise<void>((resolve) => {
          started.push(n);
          if (n === 0) finishFirst = resolve;
          else resolve();
        }),
    });
    const ids: string[] = [];
    for (const n of [0, 1, 2, 3]) {
      ids.push((await client.enqueue(job, n)).id);
      await clock.advance('10ms');
    }
    await startWorker([job], { concurrency: 1, prefetch: 1 });
    await eventually(() => started.length === 1, 'the first job to start');
    await untilState(ids[1]!, 'running');
    // Held past 500 ms while job 0 runs: job 1 goes back, ahead of 2 and 3, queued after it.
    await clock.advance('600ms');
    await untilState(ids[1]!, 'queued');
    finishFirst!();
    await eventually(async () => (await backend.stats()).counts.completed === 4, 'every job to complete');
    expect(started).toEqual([0, 1, 2, 3]);
  });

  test('a prefetched job cancelled while held is cancelled without running', async ({ clock, client }) => {
    let runs = 0;
    let finishFirst: (() => void) | undefined;
    const job = defineJob({
      name: 'held',
      run: () =>
        new Promise<void>((resolve) => {
          runs++;
          finishFirst ??= resolve;
        }),
    });
    const first = await client.enqueue(job, null);
    const second = await client.enqueue(job, null);
    const worker = await startWorker([job], { concurrency: 1, prefetch: 1 });
    const startedIds: string[] = [];
    worker.on('job:started', ({ job: started }) => startedIds.push(started.id));
    await untilState(first.id, 'running');
    await untilState(second.id, 'running');
    expect(await client.cancel(second.id)).toMatchObject({ outcome: 'cancel-requested' });
    // The heartbeat (or the store's event) tells the worker; the held job never runs its handler.
    await clock.advance('5s');
    finishFirst!();
    await untilState(second.id, 'cancelled');
    await untilState(first.id, 'completed');
    expect(runs).toBe(1);
    // No job:started for the job that never started.
    expect(startedIds).not.toContain(second.id);
  });
}
