import { expect } from 'vitest';
import type { ClaimRequest, Settlement } from '../../contract/backend.ts';
import { createWorker } from '../../create.ts';
import { defineJob } from '../../domain/define-job.ts';
import { LeaseLostError, PayloadNotJsonError, StoreError } from '../../domain/errors.ts';
import type { JobContext } from '../../domain/job-context.ts';
import type { ConformanceSuite } from './index.ts';

/** A worker facing a store that fails: lost replies, stalled heartbeats, unreachable or refusing stores, values no store keeps, listeners that throw. */
export function workerFaultTests(suite: ConformanceSuite): void {
  const { test, startWorker, eventually, stateOf, untilState, newJob, noop, enqueueOne, claimBy } = suite;

  test('a settle whose reply was lost is written again by the worker, and job:completed fires', async ({ clock, backend, client, workers }) => {
    let loseReply = true;
    // The store commits, then the connection drops before the answer arrives.
    const lossy = new Proxy(backend, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (property !== 'settle') return (value as (...a: unknown[]) => unknown).bind(target);
        return async (...args: unknown[]) => {
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (!loseReply) return result;
          loseReply = false;
          throw new StoreError('connection lost before the reply', { transient: true });
        };
      },
    });
    const job = defineJob({ name: 'noop', run: () => 'done' });
    const worker = createWorker({ backend: lossy, clock, jobs: [job], pruneInterval: null });
    workers.push(worker);
    const completed: string[] = [];
    const errors: unknown[] = [];
    worker.on('job:completed', ({ job: record }) => completed.push(record.id));
    worker.on('worker:error', ({ error }) => errors.push(error));
    await worker.start();
    const { id } = await client.enqueue(job, null);
    for (let i = 0; i < 10 && completed.length === 0; i++) await clock.advance('1s');
    await eventually(() => completed.length === 1, 'job:completed');
    expect(completed).toEqual([id]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StoreError);
    expect(await backend.get(id)).toMatchObject({ state: 'completed', attempts: 1, result: 'done' });
    expect((await backend.stats()).completedLastMinute).toBe(1);
  });

  test('a store outage under the handler (a ctx call failing transiently) gives the attempt back without spending it', async ({ clock, backend, client, workers }) => {
    let outagesLeft = 1;
    // The store restarts while the handler reports progress: that ctx call fails, transiently.
    const restarting = new Proxy(backend, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (property !== 'recordProgress') return (value as (...a: unknown[]) => unknown).bind(target);
        return (...args: unknown[]) => {
          if (outagesLeft-- > 0) return Promise.reject(new StoreError('connection terminated unexpectedly', { transient: true }));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    // One attempt only: spending it on the outage would fail the job for good.
    const job = defineJob({
      name: 'reports-progress',
      maxAttempts: 1,
      async run(_: null, ctx: JobContext) {
        await ctx.progress(50);
        return 'done';
      },
    });
    const worker = createWorker({ backend: restarting, clock, jobs: [job], pruneInterval: null });
    workers.push(worker);
    const retried: unknown[] = [];
    worker.on('job:retrying', ({ error }) => retried.push(error));
    await worker.start();
    const { id } = await client.enqueue(job, null);
    await eventually(() => retried.length === 1, 'the outage to end the first attempt');
    expect(retried[0]).toBeInstanceOf(StoreError);
    for (let i = 0; i < 5 && (await stateOf(id)) !== 'completed'; i++) await clock.advance('1s');
    await untilState(id, 'completed');
    expect(await backend.get(id)).toMatchObject({ state: 'completed', attempts: 1, result: 'done' });
  });

  test('a worker whose lease lapsed is fenced: its attempt aborts with LeaseLostError and writes nothing', async ({ clock, backend, client, workers }) => {
    let signal: AbortSignal | undefined;
    const job = defineJob({
      name: 'slow',
      run: (_: null, ctx: JobContext) =>
        new Promise((resolve) => {
          signal = ctx.signal;
          // Finishes "successfully" after the takeover, like a zombie would.
          ctx.signal.addEventListener('abort', () => resolve('zombie result'));
        }),
    });
    let heartbeatsBlocked = false;
    const stalling = new Proxy(backend, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === 'renewLeases' && typeof value === 'function') {
          return (...args: unknown[]) =>
            heartbeatsBlocked ? Promise.reject(new Error('event loop stalled')) : (value as (...a: unknown[]) => unknown).apply(target, args);
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    // Concurrency 1 and no prefetch keep this worker from recovering its own job: the thief must.
    const worker = createWorker({ backend: stalling, clock, jobs: [job], concurrency: 1, prefetch: 0, lease: '3s', heartbeat: '1s', pruneInterval: null });
    workers.push(worker);
    await worker.start();
    const { id } = await client.enqueue(job, null);
    await untilState(id, 'running');
    heartbeatsBlocked = true;
    await clock.advance('3s');
    const thief = await backend.claim({ workerId: 'thief', leaseMs: 60_000, queues: ['default'], names: ['slow'], limit: 1 });
    expect(thief.jobs[0]).toMatchObject({ id, recovered: true, crashes: 1 });
    heartbeatsBlocked = false;
    await clock.advance('1s');
    await eventually(() => signal?.aborted === true, 'the stale attempt to be aborted');
    expect(signal!.reason).toBeInstanceOf(LeaseLostError);
    await clock.advance('1s');
    expect(await backend.get(id)).toMatchObject({ state: 'running', result: null, lease: { workerId: 'thief' } });
  });

  test('an attempt lost to a crash is kept as crashed, with its worker, once another worker takes the job over', async ({ clock, backend }) => {
    const { id } = await enqueueOne(await newJob(noop, 1));
    const startedAt = clock.now();
    await backend.claim(claimBy('doomed', 1, { leaseMs: 2000 }));
    await clock.advance('5s');
    expect((await backend.get(id))!.attemptHistory).toEqual([]);
    const [taken] = (await backend.claim(claimBy('rescuer', 1))).jobs;
    expect(taken).toMatchObject({ id, recovered: true });
    expect(await backend.get(id)).toMatchObject({
      crashes: 1,
      lease: { workerId: 'rescuer' },
      attemptHistory: [{ attempt: 1, workerId: 'doomed', startedAt, endedAt: startedAt + 2000, outcome: 'crashed', error: null, retryAt: null }],
    });
  });

  test('a worker survives failing backend calls: it reports, backs off and carries on', async ({ clock, backend, client, workers }) => {
    let failuresLeft = 3;
    const flaky = new Proxy(backend, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if ((property === 'claim' || property === 'settle') && typeof value === 'function') {
          return (...args: unknown[]) => {
            if (failuresLeft > 0) {
              failuresLeft--;
              return Promise.reject(new Error('store unreachable'));
            }
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const job = defineJob({ name: 'noop', run: () => 'ok' });
    const worker = createWorker({ backend: flaky, clock, jobs: [job], pruneInterval: null });
    workers.push(worker);
    const errors: unknown[] = [];
    worker.on('worker:error', ({ error }) => errors.push(error));
    await worker.start();
    const { id } = await client.enqueue(job, null);
    for (let i = 0; i < 10 && (await stateOf(id)) !== 'completed'; i++) await clock.advance('1s');
    await untilState(id, 'completed');
    expect(errors.length).toBe(3);
    expect(worker.health()).toMatchObject({ backendReachable: true, consecutiveFailures: 0 });
  });

  test('a listener that throws never crashes the worker', async ({ client }) => {
    const job = defineJob({ name: 'noop', run: () => 1 });
    const worker = await startWorker([job]);
    const reported: string[] = [];
    worker.on('job:completed', () => {
      throw new Error('listener bug');
    });
    worker.on('worker:error', ({ during }) => reported.push(during));
    const a = await client.enqueue(job, null);
    const b = await client.enqueue(job, null);
    await untilState(a.id, 'completed');
    await untilState(b.id, 'completed');
    await eventually(() => reported.filter((during) => during === 'listener of job:completed').length === 2, 'both listener errors');
  });

  test('a result no store can keep fails its job for good, naming the path; what the worker stores itself is cleaned; the others go on', async ({ backend, client }) => {
    const logError: unknown[] = [];
    const echo = defineJob({
      name: 'echo',
      run: async (kind: string, ctx) => {
        if (kind === 'bad-result') return { rows: [{ text: 'a\u0000b' }] };
        if (kind === 'noisy') {
          await ctx.progress(50, 'half\u0000way \ud800');
          await ctx.log('line\u0000 \udc00', { ok: true });
          await ctx.log('fields', { bad: '\u0000' }).catch((error: unknown) => logError.push(error));
          throw Object.assign(new Error('boom\u0000 \ud83d'), { name: 'Odd\u0000Error' });
        }
        return kind;
      },
    });
    const failed: unknown[] = [];
    const worker = await startWorker([echo], { concurrency: 6 });
    worker.on('job:failed', ({ error }) => failed.push(error));
    const kinds = ['ok-1', 'bad-result', 'ok-2', 'noisy', 'ok-3'];
    const ids: string[] = [];
    for (const kind of kinds) ids.push((await client.enqueue(echo, kind, { maxAttempts: kind === 'noisy' ? 1 : 3 })).id);
    for (const [index, id] of ids.entries()) await untilState(id, kinds[index]!.startsWith('ok') ? 'completed' : 'failed');
    const bad = (await backend.get(ids[1]!))!;
    expect(bad).toMatchObject({ attempts: 1, result: null, error: { code: 'PAYLOAD_NOT_JSON' } });
    expect(bad.error!.message).toBe('result cannot be stored as JSON: rows[0].text contains a NUL character (\\u0000), which PostgreSQL cannot store.');
    expect(failed.some((error) => error instanceof PayloadNotJsonError && error.path === 'rows[0].text')).toBe(true);
    const noisy = (await backend.get(ids[3]!))!;
    expect(noisy.error).toMatchObject({ name: 'Odd\ufffdError', message: 'boom\ufffd \ufffd' });
    expect(noisy.progress).toMatchObject({ percent: 50, message: 'half\ufffdway \ufffd' });
    expect(noisy.logs.map((entry) => entry.message)).toEqual(['line\ufffd \ufffd']);
    expect(logError).toHaveLength(1);
    expect(logError[0]).toMatchObject({ code: 'PAYLOAD_NOT_JSON', field: 'log fields', path: 'bad' });
  });

  test('an outcome the store refuses for good is set apart: the rest of its batch is written, and that job alone fails', async ({ clock, backend, client, workers }) => {
    let poisoned = '';
    let refusals = 0;
    // Refuses, for good, any batch that carries one job's completion, as a store refuses a
    // value it cannot keep: the whole batch fails, and would fail again unchanged.
    const refusing = new Proxy(backend, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === 'settle') {
          return (settlements: readonly Settlement[], next?: ClaimRequest) => {
            if (settlements.some((settlement) => settlement.id === poisoned && settlement.kind === 'complete')) {
              refusals++;
              return Promise.reject(new StoreError('the store refuses this value', { transient: false }));
            }
            return target.settle(settlements, next);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const release: Array<() => void> = [];
    const held = defineJob({ name: 'held', run: (n: number) => new Promise<number>((resolve) => release.push(() => resolve(n))) });
    const ids: string[] = [];
    for (let n = 0; n < 6; n++) ids.push((await client.enqueue(held, n)).id);
    poisoned = ids[2]!;
    const worker = createWorker({ backend: refusing, clock, jobs: [held], concurrency: 6, prefetch: 0, pruneInterval: null });
    workers.push(worker);
    const failed: unknown[] = [];
    const reported: unknown[] = [];
    worker.on('job:failed', ({ job, error }) => failed.push([job.id, error]));
    worker.on('worker:error', ({ error }) => reported.push(error));
    await worker.start();
    await eventually(() => release.length === 6, 'all six to start');
    // All finish in one tick, so their outcomes go in one batch.
    for (const done of release) done();
    for (const [n, id] of ids.entries()) await untilState(id, n === 2 ? 'failed' : 'completed');
    expect((await backend.get(poisoned))!.error).toMatchObject({ code: 'STORE_ERROR', message: 'the store refuses this value' });
    expect(failed).toEqual([[poisoned, expect.objectContaining({ code: 'STORE_ERROR' })]]);
    expect(refusals).toBe(2);
    expect(reported.length).toBeGreaterThan(0);
  });

  test('a store that refuses every write for a while keeps the outcomes and writes them when it accepts again', async ({ clock, backend, client, workers }) => {
    let refusing = true;
    const flaky = new Proxy(backend, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === 'settle') {
          return (settlements: readonly Settlement[], next?: ClaimRequest) =>
            refusing ? Promise.reject(new StoreError('permission denied', { transient: false })) : target.settle(settlements, next);
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const job = defineJob({ name: 'noop', run: (n: number) => n });
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) ids.push((await client.enqueue(job, n)).id);
    const worker = createWorker({ backend: flaky, clock, jobs: [job], concurrency: 3, prefetch: 0, pruneInterval: null });
    workers.push(worker);
    const errors: unknown[] = [];
    worker.on('worker:error', ({ error }) => errors.push(error));
    await worker.start();
    await eventually(() => errors.length >= 1, 'a refused write');
    // Each round of backoff, the worker tries again, and is refused again.
    for (let i = 0; i < 20 && errors.length < 4; i++) await clock.advance('1s');
    expect(errors.length).toBeGreaterThanOrEqual(4);
    // Not one job failed for it: the store, not an outcome, was at fault.
    expect((await Promise.all(ids.map((id) => stateOf(id)))).every((state) => state === 'running')).toBe(true);
    refusing = false;
    for (let i = 0; i < 10 && (await stateOf(ids[2]!)) !== 'completed'; i++) await clock.advance('1s');
    for (const id of ids) await untilState(id, 'completed');
  });
}
