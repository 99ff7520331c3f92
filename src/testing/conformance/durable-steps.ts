import { expect } from 'vitest';
import { defineJob } from '../../domain/define-job.ts';
import { isJobsmithError } from '../../domain/errors.ts';
import type { StepRecord } from '../../domain/job-record.ts';
import { testWithCapability } from './capabilities.ts';
import type { ConformanceSuite } from './index.ts';

/** Capability `durable-steps`: steps stored fenced by the lease, skipped once completed, kept across attempts and sleeps. */
export function durableStepTests(suite: ConformanceSuite): void {
  const test = testWithCapability(suite, 'durable-steps');
  const { startWorker, eventually, untilState, newJob, noop, enqueueOne, claimBy } = suite;

  const step = (name: string, at: number, fields: Partial<StepRecord> = {}): StepRecord => ({
    name,
    outcome: 'completed',
    result: { name },
    error: null,
    attempt: 1,
    startedAt: at,
    durationMs: 5,
    wakeAt: null,
    ...fields,
  });

  test('records steps under the lease, in start order, one record per name, removed with the job', async ({ clock, backend }) => {
    const { id } = await enqueueOne(await newJob(noop, null));
    const [claimed] = (await backend.claim(claimBy('w1', 1))).jobs;
    const lease = { id, token: claimed!.lease.token };
    const now = clock.now();
    await backend.recordStep!(lease, step('second', now + 1, { outcome: 'failed', result: null, error: { name: 'Error', message: 'boom', at: now + 2, attempt: 1 } }));
    await backend.recordStep!(lease, step('first', now, { result: { nested: [1, 'two', null, true] } }));
    await backend.recordStep!(lease, step('second', now + 3, { result: 42 }));
    const steps = await backend.listSteps!(id);
    expect(steps).toEqual([step('first', now, { result: { nested: [1, 'two', null, true] } }), step('second', now + 3, { result: 42 })]);
    expect((await backend.get(id))!.steps).toEqual(steps);
    expect(await backend.listSteps!('00000000-0000-4000-8000-000000000000')).toEqual([]);
    await backend.settle([{ ...lease, kind: 'complete', result: null, expiresAt: null }]);
    expect(await backend.delete(id)).toBe(true);
    expect(await backend.listSteps!(id)).toEqual([]);
  });

  test('a zombie attempt (its lease taken over, or its outcome written) cannot record a step', async ({ clock, backend }) => {
    const { id } = await enqueueOne(await newJob(noop, null));
    const [zombie] = (await backend.claim(claimBy('w1', 1))).jobs;
    await backend.recordStep!({ id, token: zombie!.lease.token }, step('before', clock.now()));
    await clock.advance(1500);
    const [taker] = (await backend.claim(claimBy('w2', 1))).jobs;
    expect(taker).toMatchObject({ id, recovered: true });
    const refused = await backend.recordStep!({ id, token: zombie!.lease.token }, step('late', clock.now())).catch((error: unknown) => error);
    expect(isJobsmithError(refused, 'LEASE_LOST')).toBe(true);
    await backend.recordStep!({ id, token: taker!.lease.token }, step('taker', clock.now(), { attempt: 2 }));
    await backend.settle([{ id, token: taker!.lease.token, kind: 'complete', result: null, expiresAt: null }]);
    const afterSettle = await backend.recordStep!({ id, token: taker!.lease.token }, step('after', clock.now())).catch((error: unknown) => error);
    expect(isJobsmithError(afterSettle, 'LEASE_LOST')).toBe(true);
    expect((await backend.listSteps!(id)).map((record) => record.name)).toEqual(['before', 'taker']);
  });

  test('in a worker, a zombie attempt gets LeaseLostError from its next step and the attempt holding the job records it', async ({ clock, backend, client }) => {
    let starts = 0;
    const outcomes: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const job = defineJob({
      name: 'zombie-steps',
      run: async (_: null, ctx) => {
        const run = ++starts;
        await ctx.step('a', () => run);
        await gate;
        try {
          await ctx.step('b', () => run);
          outcomes.push(`run ${run} recorded b`);
        } catch (error) {
          outcomes.push(`run ${run}: ${isJobsmithError(error, 'LEASE_LOST') ? 'lease lost' : String(error)}`);
          throw error;
        }
      },
    });
    await startWorker([job], { concurrency: 2 });
    const { id } = await client.enqueue(job, null);
    await eventually(() => starts === 1, 'the first attempt to start');
    // The job is handed back under the first attempt's feet: that attempt is now a zombie.
    const held = (await backend.get(id))!;
    await backend.settle([{ id, token: held.lease!.token, kind: 'retry', error: null, runAt: clock.now(), countAttempt: false }]);
    await eventually(() => starts === 2, 'a second attempt to start');
    release();
    await untilState(id, 'completed');
    await eventually(() => outcomes.length === 2, 'both attempts to reach step b');
    expect(outcomes.sort()).toEqual(['run 1: lease lost', 'run 2 recorded b']);
    expect((await backend.get(id))!.steps!.map((step) => [step.name, step.result])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  test('a retry resumes at the first step that had not finished; completed steps never run twice', async ({ clock, backend, client }) => {
    const runs: string[] = [];
    const job = defineJob({
      name: 'three-steps',
      maxAttempts: 3,
      backoff: 'none',
      run: async (n: number, ctx) => {
        const validated = await ctx.step('validate', () => (runs.push('validate'), { n, at: clock.now() }));
        const processed = await ctx.step('process', async () => {
          runs.push('process');
          await clock.advance(250);
          if (ctx.attempt === 1) throw new Error('process failed once');
          return validated.n * 2;
        });
        return ctx.step('report', () => (runs.push('report'), { validated, processed }));
      },
    });
    await startWorker([job]);
    const startedAt = clock.now();
    const { id } = await client.enqueue(job, 21);
    await untilState(id, 'completed');
    expect(runs).toEqual(['validate', 'process', 'process', 'report']);
    const record = (await backend.get(id))!;
    expect(record.result).toEqual({ validated: { n: 21, at: startedAt }, processed: 42 });
    expect(record.attempts).toBe(2);
    expect(record.steps!.map(({ name, outcome, attempt, error }) => ({ name, outcome, attempt, error }))).toEqual([
      { name: 'validate', outcome: 'completed', attempt: 1, error: null },
      { name: 'process', outcome: 'completed', attempt: 2, error: null },
      { name: 'report', outcome: 'completed', attempt: 2, error: null },
    ]);
    expect(record.steps![1]!.durationMs).toBe(250);
    expect(record.steps![1]!.result).toBe(42);
  });

  test('a step that throws is recorded failed with its error, and the error fails the attempt', async ({ backend, client }) => {
    const job = defineJob({
      name: 'step-fails',
      maxAttempts: 1,
      run: async (_: null, ctx) => {
        await ctx.step('ok', () => 'fine');
        await ctx.step('broken', () => {
          throw new TypeError('no such field');
        });
      },
    });
    await startWorker([job]);
    const { id } = await client.enqueue(job, null);
    await untilState(id, 'failed');
    const record = (await backend.get(id))!;
    expect(record.error).toMatchObject({ name: 'TypeError', message: 'no such field' });
    expect(record.steps).toMatchObject([
      { name: 'ok', outcome: 'completed', result: 'fine', error: null },
      { name: 'broken', outcome: 'failed', result: null, error: { name: 'TypeError', message: 'no such field', attempt: 1 } },
    ]);
  });

  test('parallel steps keep distinct results; a name used twice in one run is an error naming it', async ({ backend, client }) => {
    const parallel = defineJob({
      name: 'parallel-steps',
      run: async (_: null, ctx) => {
        const [a, b] = await Promise.all([ctx.step('left', async () => 'L'), ctx.step('right', async () => ({ side: 'R' }))]);
        return { a, b };
      },
    });
    const twice = defineJob({
      name: 'same-name-twice',
      maxAttempts: 1,
      run: async (_: null, ctx) => {
        await Promise.all([ctx.step('fetch', async () => 1), ctx.step('fetch', async () => 2)]);
      },
    });
    await startWorker([parallel, twice]);
    const { id: parallelId } = await client.enqueue(parallel, null);
    const { id: twiceId } = await client.enqueue(twice, null);
    await untilState(parallelId, 'completed');
    await untilState(twiceId, 'failed');
    const record = (await backend.get(parallelId))!;
    expect(record.result).toEqual({ a: 'L', b: { side: 'R' } });
    expect(Object.fromEntries(record.steps!.map((s) => [s.name, s.result]))).toEqual({ left: 'L', right: { side: 'R' } });
    const failed = (await backend.get(twiceId))!;
    expect(failed.error).toMatchObject({ code: 'DUPLICATE_STEP' });
    expect(failed.error!.message).toContain('"fetch"');
  });

  test('ctx.sleep ends the attempt without spending one or holding a slot, and resumes after the delay', async ({ clock, backend, client }) => {
    const runs: string[] = [];
    const sleeper = defineJob({
      name: 'sleeper',
      maxAttempts: 1,
      run: async (_: null, ctx) => {
        await ctx.step('validate', () => void runs.push('validate'));
        await ctx.sleep('validate-wait', '1m');
        return ctx.step('process', () => (runs.push('process'), 'processed'));
      },
    });
    const other = defineJob({ name: 'other', run: () => 'ran' });
    await startWorker([sleeper, other], { concurrency: 1 });
    const sleptAt = clock.now();
    const { id } = await client.enqueue(sleeper, null);
    await untilState(id, 'scheduled');
    expect(await backend.get(id)).toMatchObject({ attempts: 0, runAt: sleptAt + 60_000, lease: null });
    // The one slot is free for other work while the job sleeps.
    const { id: otherId } = await client.enqueue(other, null);
    await untilState(otherId, 'completed');
    expect(runs).toEqual(['validate']);
    // Every timer of the minute fires on the way (the poll's among them): a minute, not an hour.
    await clock.advance('1m');
    await untilState(id, 'completed');
    expect(runs).toEqual(['validate', 'process']);
    const record = (await backend.get(id))!;
    expect(record).toMatchObject({ result: 'processed', attempts: 1, crashes: 0 });
    expect(record.steps!.map(({ name, outcome }) => [name, outcome])).toEqual([
      ['validate', 'completed'],
      ['validate-wait', 'completed'],
      ['process', 'completed'],
    ]);
    expect(record.steps![1]).toMatchObject({ wakeAt: sleptAt + 60_000, durationMs: 60_000 });
    await eventually(async () => (await backend.get(otherId))?.state === 'completed', 'the other job');
  });
}
