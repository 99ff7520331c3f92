import { expect } from 'vitest';
import { createWorker } from '../../create.ts';
import { defineJob } from '../../domain/define-job.ts';
import { PermanentError } from '../../domain/errors.ts';
import type { ConformanceSuite } from './index.ts';

/** The failed hook: run once after the last attempt, stored as pending under the lease, and taken over when its worker dies. */
export function failedHookTests(suite: ConformanceSuite): void {
  const { test, startWorker, eventually, untilState, newJob, noop, enqueueOne, claimBy } = suite;

  test('the failed hook runs exactly once, after the last attempt, with the error', async ({ clock, backend, client }) => {
    const hookCalls: Array<{ payload: unknown; error: unknown; attempt: number }> = [];
    let runs = 0;
    const job = defineJob({
      name: 'hooked',
      maxAttempts: 3,
      backoff: 'none',
      run: () => {
        runs++;
        throw new Error(`boom ${runs}`);
      },
      failed: (payload: unknown, error, ctx) => void hookCalls.push({ payload, error, attempt: ctx.attempt }),
    });
    await startWorker([job]);
    const { id } = await client.enqueue(job, { user: 7 });
    await untilState(id, 'failed');
    await eventually(() => hookCalls.length > 0, 'the hook');
    await clock.advance('10s');
    expect(runs).toBe(3);
    expect(hookCalls).toHaveLength(1);
    expect(hookCalls[0]!.payload).toEqual({ user: 7 });
    expect((hookCalls[0]!.error as Error).message).toBe('boom 3');
    expect(hookCalls[0]!.attempt).toBe(3);
    await eventually(async () => (await backend.get(id))?.failedHook === 'done', 'the hook to be stored as run');
    expect(await backend.get(id)).toMatchObject({ state: 'failed', lease: null });
  });

  test('job:failed fires once the failure is stored; the hook holds its lease until it has run, and a hook that throws has run', async ({ clock, backend, client, workers }) => {
    let finishHook: (() => void) | undefined;
    const slowHook = defineJob({
      name: 'slow-hook',
      maxAttempts: 1,
      run: () => {
        throw new PermanentError('no');
      },
      failed: () => new Promise<void>((resolve) => (finishHook = resolve)),
    });
    const throwingHook = defineJob({
      name: 'throwing-hook',
      maxAttempts: 1,
      run: () => {
        throw new PermanentError('no');
      },
      failed: () => {
        throw new Error('hook bug');
      },
    });
    const worker = createWorker({ backend, clock, jobs: [slowHook, throwingHook], lease: '30s', pollInterval: '1s', pruneInterval: null });
    workers.push(worker);
    const failed: string[] = [];
    const errors: Array<{ during: string; error: unknown }> = [];
    worker.on('job:failed', ({ job: record }) => failed.push(record.id));
    worker.on('worker:error', ({ during, error }) => errors.push({ during, error }));
    await worker.start();
    const slow = await client.enqueue(slowHook, null);
    await eventually(() => failed.includes(slow.id) && finishHook !== undefined, 'job:failed and the hook to start');
    expect(await backend.get(slow.id)).toMatchObject({ state: 'failed', failedHook: 'pending', lease: { workerId: worker.id } });
    // Longer than the lease: the heartbeat keeps it, so no claim takes the hook over.
    await clock.advance('1m');
    expect(await backend.get(slow.id)).toMatchObject({ failedHook: 'pending', crashes: 0, lease: { workerId: worker.id } });
    finishHook!();
    await eventually(async () => (await backend.get(slow.id))?.failedHook === 'done', 'the slow hook to be stored as run');
    expect(await backend.get(slow.id)).toMatchObject({ lease: null, crashes: 0 });
    const throwing = await client.enqueue(throwingHook, null);
    await eventually(async () => (await backend.get(throwing.id))?.failedHook === 'done', 'the throwing hook to be stored as run');
    expect(failed).toEqual([slow.id, throwing.id]);
    expect(errors.map(({ during, error }) => [during, (error as Error).message])).toEqual([['failed hook', 'hook bug']]);
  });

  // ── the failed hook survives its worker ────────────────────────────────

  test('a failure is stored with its failed hook pending under the lease, which nothing but the hook can end', async ({ clock, backend, client }) => {
    const { id } = await enqueueOne(await newJob(noop, 1));
    const claimed = (await backend.claim(claimBy('w1', 1))).jobs[0]!;
    const lease = { id, token: claimed.lease.token };
    const failure = { name: 'Error', message: 'boom', at: clock.now(), attempt: 1 };
    // Retention already lapsed, so only the pending hook keeps the job from being pruned.
    expect((await backend.settle([{ kind: 'fail', ...lease, error: failure, countAttempt: true, expiresAt: clock.now(), hookPending: true }])).applied).toEqual([true]);
    expect(await backend.get(id)).toMatchObject({ state: 'failed', attempts: 1, failedHook: 'pending', error: { message: 'boom' }, lease: { token: lease.token, workerId: 'w1' } });
    expect((await backend.stats()).counts).toMatchObject({ failed: 1, running: 0 });
    // The heartbeat keeps the lease while the hook runs, and no one takes it meanwhile.
    await clock.advance(800);
    expect(await backend.renewLeases([lease], 1000)).toEqual([{ id, held: true, cancelRequested: false }]);
    await clock.advance(800);
    expect((await backend.claim(claimBy('w2', 5))).jobs).toEqual([]);
    // Neither an operator nor retention loses a pending hook.
    await expect(client.delete(id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(client.retry(id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(await backend.prune({ finishedBy: clock.now(), expired: true })).toBe(0);
    expect((await client.cancel(id)).outcome).toBe('already-finished');
    expect((await backend.settle([{ kind: 'hook-done', id, token: 'not-the-lease' }])).applied).toEqual([false]);
    expect((await backend.settle([{ kind: 'hook-done', ...lease }])).applied).toEqual([true]);
    const done = await backend.get(id);
    expect(done).toMatchObject({ state: 'failed', attempts: 1, failedHook: 'done', lease: null });
    // Written again (a lost reply), the same hook-done changes nothing.
    expect((await backend.settle([{ kind: 'hook-done', ...lease }])).applied).toEqual([true]);
    expect(await backend.get(id)).toEqual(done);
    expect(await backend.renewLeases([lease], 1000)).toEqual([{ id, held: false, cancelRequested: false }]);
    expect(await client.retry(id)).toMatchObject({ state: 'queued', failedHook: null, lease: null });
    // A failure with no hook to run keeps neither a flag nor a lease.
    const again = (await backend.claim(claimBy('w1', 1))).jobs[0]!;
    await backend.settle([{ kind: 'fail', id, token: again.lease.token, error: failure, countAttempt: true, expiresAt: null, hookPending: false }]);
    expect(await backend.get(id)).toMatchObject({ state: 'failed', failedHook: null, lease: null });
  });

  test('a pending hook whose lease lapsed is taken over, ahead of queued jobs, by a worker that knows the job', async ({ clock, backend }) => {
    const { id } = await enqueueOne(await newJob(noop, 'failed'));
    const dead = (await backend.claim(claimBy('w1', 1))).jobs[0]!;
    const failure = { name: 'Error', message: 'boom', at: clock.now(), attempt: 1 };
    await backend.settle([{ kind: 'fail', id, token: dead.lease.token, error: failure, countAttempt: true, expiresAt: null, hookPending: true }]);
    const queued = await enqueueOne(await newJob(noop, 'queued'));
    await clock.advance(999);
    expect((await backend.claim(claimBy('w2', 1, { names: ['other'] }))).jobs).toEqual([]);
    await clock.advance(1);
    // Only a worker that knows the job, serving its queue, may run its hook.
    expect((await backend.claim(claimBy('w2', 5, { names: ['other'] }))).jobs).toEqual([]);
    expect((await backend.claim(claimBy('w2', 5, { queues: ['elsewhere'] }))).jobs).toEqual([]);
    const taken = (await backend.claim(claimBy('w2', 1))).jobs;
    expect(taken).toHaveLength(1);
    expect(taken[0]).toMatchObject({ id, state: 'failed', failedHook: 'pending', recovered: true, crashes: 1, attempts: 1, lease: { workerId: 'w2' } });
    expect(taken[0]!.lease.token).not.toBe(dead.lease.token);
    expect((await backend.claim(claimBy('w2', 1))).jobs.map((job) => job.id)).toEqual([queued.id]);
    // The dead worker's lease writes nothing more, though the failure it stored is its own.
    expect(await backend.renewLeases([{ id, token: dead.lease.token }], 1000)).toEqual([{ id, held: false, cancelRequested: false }]);
    expect((await backend.settle([{ kind: 'hook-done', id, token: dead.lease.token }])).applied).toEqual([false]);
    expect(await backend.get(id)).toMatchObject({ failedHook: 'pending', lease: { workerId: 'w2' } });
    expect((await backend.settle([{ kind: 'hook-done', id, token: taken[0]!.lease.token }])).applied).toEqual([true]);
    expect(await backend.get(id)).toMatchObject({ state: 'failed', failedHook: 'done', crashes: 1, lease: null });
    await clock.advance('1h');
    expect((await backend.claim(claimBy('w3', 5))).jobs.map((job) => job.id)).not.toContain(id);
  });

  test('a worker runs only the hook of a failed job taken over from a dead worker, with the stored error', async ({ clock, backend, workers }) => {
    let runs = 0;
    const hookCalls: Array<{ payload: unknown; error: unknown; attempt: number }> = [];
    const job = defineJob({
      name: 'noop',
      run: () => ++runs,
      failed: (payload: unknown, error, ctx) => void hookCalls.push({ payload, error, attempt: ctx.attempt }),
    });
    const { id } = await enqueueOne(await newJob(job, { card: 4 }));
    // The dead worker's part: it failed the job, stored the hook as pending, and died.
    const dead = (await backend.claim(claimBy('dead', 1))).jobs[0]!;
    const failure = { name: 'CardError', message: 'card declined', code: 'DECLINED', at: clock.now(), attempt: 1 };
    await backend.settle([{ kind: 'fail', id, token: dead.lease.token, error: failure, countAttempt: true, expiresAt: null, hookPending: true }]);
    await clock.advance(1000);
    const worker = createWorker({ backend, clock, jobs: [job], lease: '30s', pollInterval: '1s', pruneInterval: null });
    workers.push(worker);
    const events: string[] = [];
    for (const name of ['job:started', 'job:completed', 'job:failed', 'job:stalled'] as const) worker.on(name, () => events.push(name));
    await worker.start();
    await eventually(async () => (await backend.get(id))?.failedHook === 'done', 'the hook to be stored as run');
    expect(runs).toBe(0);
    expect(hookCalls).toHaveLength(1);
    expect(hookCalls[0]).toMatchObject({ payload: { card: 4 }, attempt: 1, error: { name: 'CardError', message: 'card declined', code: 'DECLINED' } });
    expect(hookCalls[0]!.error).toBeInstanceOf(Error);
    // job:failed fired once already, where the failure was stored.
    expect(events).toEqual(['job:stalled']);
    expect(await backend.get(id)).toMatchObject({ state: 'failed', attempts: 1, crashes: 1, lease: null });
  });

  test('a worker that stops while a hook runs leaves it pending, and another worker runs it after the lease', async ({ clock, backend, client }) => {
    const hookCalls: string[] = [];
    const job = defineJob({
      name: 'hooked',
      maxAttempts: 1,
      run: () => {
        throw new PermanentError('no');
      },
      // The first call never ends; its worker gives up on it when it stops.
      failed: (_: null, _error, ctx) => {
        hookCalls.push(ctx.id);
        return hookCalls.length === 1 ? new Promise<void>(() => {}) : undefined;
      },
    });
    const first = await startWorker([job], { lease: '10s', heartbeat: '1s' });
    const { id } = await client.enqueue(job, null);
    await eventually(() => hookCalls.length === 1, 'the hook to start');
    const stopping = first.stop({ timeout: '2s' });
    await clock.advance('2s');
    await stopping;
    expect(await backend.get(id)).toMatchObject({ state: 'failed', failedHook: 'pending', lease: { workerId: first.id } });
    await clock.advance('10s');
    await startWorker([job]);
    await eventually(async () => (await backend.get(id))?.failedHook === 'done', 'the hook to be stored as run');
    expect(hookCalls).toEqual([id, id]);
    expect(await backend.get(id)).toMatchObject({ crashes: 1, lease: null });
  });
}
