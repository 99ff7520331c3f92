/**
 * The client sends an enqueue again after a transient store error (`enqueueRetries`), with the
 * same job ids, so a call written though its reply was lost is not stored twice; anything else
 * fails at once. The store's side of that promise (a batch sent again answered as created) is
 * tested on real servers: test/postgres/lost-reply.test.ts and test/redis/lost-reply.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { EnqueueCallOptions, EnqueueResult, NewJob } from '../../src/contract/backend.ts';
import { createClient, defineJob, InvalidOptionError, MemoryBackend, StoreError } from '../../src/index.ts';

const hello = defineJob({ name: 'hello', run: (payload: { n: number }) => payload.n });

/** A store whose next calls fail as scripted: after writing (a lost reply) or before. */
class FlakyBackend extends MemoryBackend {
  readonly calls: Array<readonly string[]> = [];
  readonly resent: boolean[] = [];
  constructor(private readonly script: Array<'written-then-lost' | 'refused' | 'broken'>) {
    super();
  }
  override async enqueue(jobs: readonly NewJob[], options?: EnqueueCallOptions): Promise<EnqueueResult[]> {
    this.calls.push(jobs.map((job) => job.id));
    this.resent.push(options?.resent === true);
    const fault = this.script.shift();
    if (fault === 'refused') throw new StoreError('connection refused', { transient: true });
    if (fault === 'broken') throw new StoreError('permission denied', { transient: false });
    // A batch sent again after its reply was lost is answered as created (as PostgreSQL and Redis do).
    const stored = await Promise.all(jobs.map(async (job) => (await this.get(job.id)) !== null));
    if (stored.every(Boolean)) return jobs.map((job) => ({ id: job.id, created: true }));
    const results = await super.enqueue(jobs, options);
    if (fault === 'written-then-lost') throw new StoreError('Connection terminated unexpectedly', { transient: true });
    return results;
  }
}

describe('client enqueue retries', () => {
  it('a transient failure after the write: sent again with the same ids, answered as created, stored once', async () => {
    const backend = new FlakyBackend(['written-then-lost', 'refused']);
    const client = createClient({ backend, jobs: [hello] });
    try {
      const results = await client.enqueueMany([1, 2, 3].map((n) => ({ job: hello, payload: { n } })));
      expect(results.map((result) => result.created)).toEqual([true, true, true]);
      expect(backend.calls).toHaveLength(3);
      expect(backend.calls[1]).toEqual(backend.calls[0]);
      expect(backend.calls[2]).toEqual(backend.calls[0]);
      expect(results.map((result) => result.id)).toEqual(backend.calls[0]);
      // The calls sent again say so, for a store that must look for the ids first.
      expect(backend.resent).toEqual([false, true, true]);
      expect((await client.stats()).counts.queued).toBe(3);
    } finally {
      await client.close();
    }
  });

  it('a transient failure before the write: the single enqueue goes again and is stored once', async () => {
    const backend = new FlakyBackend(['refused']);
    const client = createClient({ backend, jobs: [hello] });
    try {
      const { id, created } = await client.enqueue(hello, { n: 1 });
      expect(created).toBe(true);
      expect(backend.calls).toEqual([[id], [id]]);
      expect((await client.get(id)).payload).toEqual({ n: 1 });
    } finally {
      await client.close();
    }
  });

  it('a failure that is not transient, or one more than enqueueRetries allows, is thrown as it is', async () => {
    const broken = new FlakyBackend(['broken']);
    const client = createClient({ backend: broken, jobs: [hello] });
    await expect(client.enqueue(hello, { n: 1 })).rejects.toMatchObject({ message: 'permission denied', transient: false });
    expect(broken.calls).toHaveLength(1);
    await client.close();

    const down = new FlakyBackend(['refused', 'refused']);
    const once = createClient({ backend: down, jobs: [hello], enqueueRetries: 1 });
    await expect(once.enqueue(hello, { n: 1 })).rejects.toMatchObject({ message: 'connection refused', transient: true });
    expect(down.calls).toHaveLength(2);
    await once.close();

    const off = new FlakyBackend(['refused']);
    const never = createClient({ backend: off, jobs: [hello], enqueueRetries: 0 });
    await expect(never.enqueue(hello, { n: 1 })).rejects.toBeInstanceOf(StoreError);
    expect(off.calls).toHaveLength(1);
    await never.close();
  });

  it('enqueueRetries must be an integer from 0 to 10', () => {
    for (const bad of [-1, 1.5, 11, '3']) {
      expect(() => createClient({ backend: new MemoryBackend(), enqueueRetries: bad as number })).toThrow(InvalidOptionError);
    }
  });
});
