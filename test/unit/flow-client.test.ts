import { describe, expect, it } from 'vitest';
import { MemoryBackend, createClient, defineJob, step, waitingForChildrenRunAt } from '../../src/index.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';

const item = defineJob({ name: 'item', queue: 'items', run: (n: number) => n });
const report = defineJob({ name: 'report', queue: 'reports', run: () => null });

function setup() {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const backend = new MemoryBackend({ clock });
  return { clock, backend, client: createClient({ backend, clock }) };
}

describe('client flows on the memory backend', () => {
  it('explainWait says how many children a waiting parent waits for, and no delay', async () => {
    const { backend, client } = setup();
    const { ids } = await client.flow({
      a: step(item, 1),
      b: step(item, 2),
      c: step(item, 3),
      sum: step(report, null, { children: ['a', 'b', 'c'] }),
    });
    const claimed = await backend.claim({ workerId: 'w', leaseMs: 1000, queues: ['items'], names: ['item'], limit: 1 });
    await backend.settle([{ id: claimed.jobs[0]!.id, token: claimed.jobs[0]!.lease.token, kind: 'complete', result: 1, expiresAt: null }]);
    const { job, reasons } = await client.explainWait(ids.sum);
    expect(job).toMatchObject({ state: 'scheduled', runAt: waitingForChildrenRunAt, flow: { children: 3, pendingChildren: 2 } });
    expect(reasons[0]).toEqual({
      code: 'waiting-for-children',
      blocking: true,
      pendingChildren: 2,
      children: 3,
      flowId: job.flow!.flowId,
      message: 'It is waiting for 2 of 3 children of its flow to finish; it is queued when they have.',
    });
    expect(reasons.map((reason) => reason.code)).not.toContain('delayed');
    await client.close();
  });

  it('chain and batch return their ids in order; batchProgress counts the items done of total', async () => {
    const { backend, client } = setup();
    const chain = await client.chain([step(item, 1), step(item, 2)]);
    expect((await backend.listChildren(chain.ids[1]!)).map((child) => [child.id, child.onChildFailure])).toEqual([[chain.ids[0], 'cancel']]);
    expect((await backend.get(chain.ids[0]!))!.flow).toEqual({ flowId: chain.flowId, children: 0, pendingChildren: 0, hasParents: true });

    const batch = await client.batch([step(item, 1), step(item, 2), step(item, 3)], { onComplete: step(report, null) });
    expect(batch.callbacks).toEqual({ onComplete: expect.any(String) });
    expect((await backend.listChildren(batch.callbacks.onComplete!)).map((child) => child.id)).toEqual(batch.ids);
    expect(await client.batchProgress(batch.batchId)).toEqual({ total: 3, done: 0, completed: 0, failed: 0, cancelled: 0 });
    await backend.cancel(batch.ids[1]!);
    expect(await client.batchProgress(batch.batchId)).toEqual({ total: 3, done: 1, completed: 0, failed: 0, cancelled: 1 });
    expect(await client.batchProgress('0190f3c2-1a2b-7c3d-8e4f-5a6b7c8d9e0f')).toBeNull();
    await client.close();
  });

  it('refuses an invalid flow with nothing written, and a transaction the memory backend cannot join', async () => {
    const { backend, client } = setup();
    await expect(client.flow({ a: step(item, 1), b: step(report, null, { children: ['a', 'nope'] }) })).rejects.toMatchObject({
      code: 'INVALID_FLOW',
      reason: '"b" lists child "nope", which is not in the flow',
    });
    await expect(client.chain([step(item, 1)], { tx: {} })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    expect((await backend.list({})).jobs).toEqual([]);
    await client.close();
  });
});
