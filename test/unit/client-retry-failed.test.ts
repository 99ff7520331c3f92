/**
 * `client.retryFailed()`: every failed job back in its queue, page by page, optionally of one
 * queue or name; one that cannot be retried (its key is held by an active job) is skipped
 * and counted, and the rest still go.
 */
import { describe, expect, it } from 'vitest';
import { createClient, defineJob, MemoryBackend } from '../../src/index.ts';

const broken = defineJob({ name: 'broken', maxAttempts: 1, run: () => { throw new Error('no'); } });
const other = defineJob({ name: 'other', maxAttempts: 1, run: () => { throw new Error('no'); } });

describe('client.retryFailed', () => {
  it('retries every failed job across pages, by queue and by name, and skips one whose key is taken', async () => {
    const client = createClient({ backend: new MemoryBackend(), jobs: [broken, other] });
    try {
      for (let n = 0; n < 1203; n++) await client.job(broken).now(null);
      const inOther = (await client.job(broken).now(null, { queue: 'q2' })).metadata.id;
      const named = (await client.job(other).now(null)).metadata.id;
      const keyed = (await client.job(broken).now(null, { key: 'k' })).metadata.id;
      await client.enqueue(broken, null, { key: 'k' });

      expect(await client.retryFailed({ queue: 'q2' })).toEqual({ retried: 1, skipped: 0 });
      expect((await client.get(inOther)).state).toBe('queued');
      expect(await client.retryFailed({ name: 'other' })).toEqual({ retried: 1, skipped: 0 });
      expect((await client.get(named)).state).toBe('queued');
      expect(await client.retryFailed()).toEqual({ retried: 1203, skipped: 1 });
      expect((await client.get(keyed)).state).toBe('failed');
      expect((await client.stats()).counts.failed).toBe(1);
    } finally {
      await client.close();
    }
  });
});
