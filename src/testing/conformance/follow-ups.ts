import { expect } from 'vitest';
import { defineJob } from '../../domain/define-job.ts';
import type { ConformanceSuite } from './index.ts';

/** Follow-up jobs (`onSuccess`, `onFailure`): written with the outcome, atomically, or not at all. */
export function followUpTests(suite: ConformanceSuite): void {
  const { test, startWorker, eventually, untilState, newJob, noop, enqueueOne, claimBy } = suite;

  test('a settlement adds its follow-up jobs with the outcome it writes, and none when fenced or written again', async ({ clock, backend }) => {
    const { id } = await enqueueOne(await newJob(noop, null));
    const [first] = (await backend.claim(claimBy('w1', 1))).jobs;
    await clock.advance(1500);
    const [second] = (await backend.claim(claimBy('w2', 1))).jobs;
    const fenced = await newJob(noop, 'from the zombie');
    const zombie = await backend.settle([{ id, token: first!.lease.token, kind: 'complete', result: 1, expiresAt: null, followUps: [fenced] }]);
    expect(zombie.applied).toEqual([false]);
    expect(await backend.get(fenced.id)).toBeNull();

    const followUp = await newJob(noop, 'next', { delay: '1m' });
    const settled = await backend.settle([{ id, token: second!.lease.token, kind: 'complete', result: 2, expiresAt: null, followUps: [followUp] }]);
    expect(settled.applied).toEqual([true]);
    expect(await backend.get(followUp.id)).toMatchObject({ state: 'scheduled', payload: 'next', runAt: clock.now() + 60_000 });
    // The same outcome again (its reply was lost): applied, and no second set of follow-ups.
    const again = await newJob(noop, 'again');
    const rewritten = await backend.settle([{ id, token: second!.lease.token, kind: 'complete', result: 2, expiresAt: null, followUps: [again] }]);
    expect(rewritten.applied).toEqual([true]);
    expect(await backend.get(again.id)).toBeNull();
  });

  test('a final failure adds its follow-up jobs with it', async ({ backend }) => {
    const { id } = await enqueueOne(await newJob(noop, null));
    const [claimed] = (await backend.claim(claimBy('w1', 1))).jobs;
    const followUp = await newJob(noop, 'after the failure');
    const error = { name: 'Error', message: 'gave up', at: 0, attempt: 1 };
    const settled = await backend.settle([
      { id, token: claimed!.lease.token, kind: 'fail', error, countAttempt: true, expiresAt: null, hookPending: false, followUps: [followUp] },
    ]);
    expect(settled.applied).toEqual([true]);
    expect(await backend.get(id)).toMatchObject({ state: 'failed' });
    expect(await backend.get(followUp.id)).toMatchObject({ state: 'queued', payload: 'after the failure' });
  });

  test('onSuccess and onFailure enqueue follow-ups on success and on the final failure only', async ({ backend, client }) => {
    const notified: unknown[] = [];
    const notify = defineJob({ name: 'notify', run: (message: string) => void notified.push(message) });
    const order = defineJob({
      name: 'order',
      maxAttempts: 2,
      backoff: 'none',
      run: (n: number, ctx) => {
        if (n < 0) throw new Error(`bad order in attempt ${ctx.attempt}`);
        return { total: n * 2 };
      },
      onSuccess: (result, n) => [{ job: notify, payload: `order ${n} done: ${result.total}` }],
      onFailure: (error, n) => [{ job: notify, payload: `order ${n} failed: ${(error as Error).message}` }],
    });
    await startWorker([order, notify]);
    const { id: good } = await client.enqueue(order, 21);
    const { id: bad } = await client.enqueue(order, -1);
    await untilState(good, 'completed');
    await untilState(bad, 'failed');
    await eventually(() => notified.length === 2, 'both follow-ups to run');
    expect(notified.sort()).toEqual(['order -1 failed: bad order in attempt 2', 'order 21 done: 42']);
    expect((await backend.get(bad))!.attempts).toBe(2);
    const notifications = await client.list({ name: 'notify' });
    expect(notifications.jobs).toHaveLength(2);
  });

  test('an onSuccess that throws fails the attempt: no success is stored without its follow-ups', async ({ backend, client }) => {
    const order = defineJob({
      name: 'order-bad-follow-up',
      maxAttempts: 1,
      run: () => 'done',
      onSuccess: () => {
        throw new Error('cannot build the follow-ups');
      },
    });
    await startWorker([order]);
    const { id } = await client.enqueue(order, null);
    await untilState(id, 'failed');
    expect(await backend.get(id)).toMatchObject({ result: null, error: { message: 'cannot build the follow-ups' } });
  });
}
