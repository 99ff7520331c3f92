import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/contract/backend.ts';
import { createClient, defineJob } from '../../src/index.ts';
import { FakeClock, MemoryBackend } from '../../src/testing/index.ts';

describe('client.waitFor', () => {
  it('sees a job that ends between its read and its wait (it listens before it reads)', async () => {
    const clock = new FakeClock();
    const memory = new MemoryBackend({ clock });
    const job = defineJob({ name: 'quick', run: () => 'done' });
    let finishDuringRead: (() => Promise<void>) | null = null;
    let reads = 0;
    // waitFor reads the job twice before it waits (to resolve the id, then to look at its
    // state). The second read returns it still queued, and the job completes right after
    // that read, before waitFor waits: the `settled` event fires in that gap.
    const racing = new Proxy(memory, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === 'get') {
          return async (id: string) => {
            const record = await target.get(id);
            if (++reads === 2) await finishDuringRead?.();
            return record;
          };
        }
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as Backend;
    const client = createClient({ backend: racing, clock });
    const { id } = await client.enqueue(job, null);
    finishDuringRead = async () => {
      const { jobs } = await memory.claim({ workerId: 'w', leaseMs: 30_000, queues: ['default'], names: ['quick'], limit: 1 });
      const claimed = jobs[0]!;
      await memory.settle([{ id, token: claimed.lease.token, kind: 'complete', result: 'done', expiresAt: null }]);
    };
    // The fake clock never moves, so only the event can end the wait: missing it would hang.
    const outcome = await Promise.race([
      client.waitFor(id),
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 2000).unref()),
    ]);
    expect(outcome).toMatchObject({ id, state: 'completed', result: 'done' });
    await client.close();
  });
});
