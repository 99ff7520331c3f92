import { expect } from 'vitest';
import { defineJob } from '../../domain/define-job.ts';
import { isJobsmithError, WaitTimeoutError } from '../../domain/errors.ts';
import type { ConformanceSuite } from './index.ts';

/** A real worker running jobs: delays, cancelling a running job, progress and logs, running inline, waiting, stopping. */
export function workerTests(suite: ConformanceSuite): void {
  const { test, startWorker, eventually, stateOf, untilState } = suite;

  // ── delays ─────────────────────────────────────────────────────────────

  test('a worker runs a delayed job when its time comes, not before', async ({ clock, client }) => {
    const ran: number[] = [];
    const job = defineJob({ name: 'delayed', run: () => void ran.push(clock.now()) });
    await startWorker([job]);
    const start = clock.now();
    const { id } = await client.enqueue(job, null, { delay: '1m' });
    await clock.advance('59s');
    expect(ran).toEqual([]);
    await clock.advance('1s');
    await untilState(id, 'completed');
    expect(ran).toEqual([start + 60_000]);
  });

  // ── cancel ─────────────────────────────────────────────────────────────

  test('cancelling a running job aborts its signal and ends it cancelled', async ({ clock, client }) => {
    let seen: AbortSignal | undefined;
    const job = defineJob({
      name: 'cancellable',
      run: (_: null, ctx) =>
        new Promise((_resolve, reject) => {
          seen = ctx.signal;
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    });
    const worker = await startWorker([job]);
    const cancelled: string[] = [];
    worker.on('job:cancelled', ({ job: record }) => cancelled.push(record.id));
    const { id } = await client.enqueue(job, null);
    await untilState(id, 'running');
    expect((await client.cancel(id)).outcome).toBe('cancel-requested');
    // Another process learns of it through its heartbeat; this one may hear sooner.
    await clock.advance('5s');
    await untilState(id, 'cancelled');
    expect(seen!.aborted).toBe(true);
    expect(isJobsmithError(seen!.reason, 'CANCELLED')).toBe(true);
    expect(cancelled).toEqual([id]);
  });

  // ── progress, logs, results ────────────────────────────────────────────

  test('progress with its history, logs and the result are stored with the job', async ({ backend, client }) => {
    const job = defineJob({
      name: 'reporter',
      run: async (_: null, ctx) => {
        await ctx.progress(10, 'fetching');
        await ctx.log('fetched', { rows: 3 });
        await ctx.progress(100, 'done');
        for (let i = 0; i < 210; i++) await ctx.log(`line ${i}`);
        return { rows: 3 };
      },
    });
    const worker = await startWorker([job]);
    const progress: number[] = [];
    worker.on('job:progress', ({ progress: p }) => progress.push(p.percent));
    const { id } = await client.enqueue(job, null);
    await untilState(id, 'completed');
    const record = (await backend.get(id))!;
    expect(record.result).toEqual({ rows: 3 });
    expect(record.progress).toMatchObject({ percent: 100, message: 'done' });
    expect(record.progressHistory.map((p) => [p.percent, p.message])).toEqual([
      [10, 'fetching'],
      [100, 'done'],
    ]);
    expect(record.logs).toHaveLength(200);
    expect(record.logs.at(-1)).toMatchObject({ message: 'line 209', attempt: 1 });
    expect(progress).toEqual([10, 100]);
    const early = (await client.get(id)).logs;
    expect(early[0]!.message).toBe('line 10');
  });

  test('an invalid progress value is rejected inside the handler', async ({ backend, client }) => {
    const job = defineJob({ name: 'bad-progress', maxAttempts: 1, run: async (_: null, ctx) => ctx.progress(150) });
    await startWorker([job]);
    const { id } = await client.enqueue(job, null);
    await untilState(id, 'failed');
    expect((await backend.get(id))!.error).toMatchObject({ code: 'INVALID_OPTION' });
  });

  // ── running inline, waiting, shutting down ─────────────────────────────

  test('job.now runs in this process and is recorded like any other run', async ({ clock, client }) => {
    const job = defineJob({ name: 'inline', run: async (n: number, ctx) => { await ctx.progress(50); return n * 2; } });
    const bound = client.job(job);
    const run = await bound.now(21);
    expect(run.data).toBe(42);
    expect(run.metadata).toMatchObject({ name: 'inline', status: 'completed', attempts: 1, error: null });
    expect(run.metadata.completedAt!.getTime()).toBe(clock.now());
    expect(run.metadata.durationMs).toBe(0);
    const record = await client.get(run.metadata.id);
    expect(record).toMatchObject({ state: 'completed', result: 42, progress: { percent: 50 } });
    const failing = defineJob({ name: 'inline-fail', maxAttempts: 1, run: () => { throw new Error('nope'); } });
    const failed = await client.job(failing).now(null);
    expect(failed.data).toBeUndefined();
    expect(failed.metadata).toMatchObject({ status: 'failed', error: { message: 'nope' } });
    const id = await bound.later(1);
    expect(await stateOf(id)).toBe('queued');
  });

  test('job.batch runs with bounded concurrency and answers in input order', async ({ client }) => {
    let running = 0;
    let peak = 0;
    const job = defineJob({
      name: 'batched',
      maxAttempts: 1,
      run: async (n: number) => {
        running++;
        peak = Math.max(peak, running);
        // Long enough, in real time, for the other lane to start even over a network store.
        await new Promise((resolve) => setTimeout(resolve, 25));
        running--;
        if (n === 3) throw new Error('three');
        return n * 10;
      },
    });
    const outcomes = await client.job(job).batch([1, 2, 3, 4, 5, 6], { concurrency: 2 });
    expect(outcomes.map((outcome) => outcome.data)).toEqual([10, 20, undefined, 40, 50, 60]);
    expect(outcomes[2]!.metadata?.status).toBe('failed');
    expect(peak).toBe(2);
    const stopped = await client.job(job).batch([3, 1, 2, 4], { concurrency: 1, stopOnError: true });
    expect(stopped.map((outcome) => outcome.skipped)).toEqual([false, true, true, true]);
  });

  test('waitFor resolves when the job ends, and times out on the clock', async ({ clock, client }) => {
    const job = defineJob({ name: 'noop', run: () => 'waited' });
    const pending = await client.enqueue(job, null, { delay: '1h' });
    const timedOut = client.waitFor(pending.id, { timeout: '5s' });
    const assertion = expect(timedOut).rejects.toBeInstanceOf(WaitTimeoutError);
    await clock.advance('5s');
    await assertion;
    await startWorker([job]);
    const { id } = await client.enqueue(job, null);
    const record = await client.waitFor(id);
    expect(record).toMatchObject({ state: 'completed', result: 'waited' });
  });

  test('stop waits for running jobs, then releases the rest without spending an attempt', async ({ clock, backend, client }) => {
    const started = new Set<string>();
    const quick = defineJob({
      name: 'quick',
      run: (_: null, ctx) =>
        new Promise((resolve) => {
          started.add(ctx.id);
          const cancel = clock.setTimer(1000, () => resolve('quick'));
          ctx.signal.addEventListener('abort', cancel);
        }),
    });
    const stuck = defineJob({ name: 'stuck', run: (_: null, ctx) => new Promise(() => started.add(ctx.id)) });
    const worker = await startWorker([quick, stuck], { concurrency: 5 });
    const a = await client.enqueue(quick, null);
    const b = await client.enqueue(stuck, null);
    // Started, not only claimed: a claimed job the worker has not started yet goes back on stop.
    await eventually(() => started.has(a.id) && started.has(b.id), 'both handlers to start');
    const stopping = worker.stop({ timeout: '5s' });
    const late = await client.enqueue(quick, null);
    await clock.advance('1s');
    await untilState(a.id, 'completed');
    expect(await stateOf(b.id)).toBe('running');
    await clock.advance('4s');
    await stopping;
    expect(await backend.get(b.id)).toMatchObject({ state: 'queued', attempts: 0, lease: null });
    expect(await stateOf(late.id)).toBe('queued');
  });
}
