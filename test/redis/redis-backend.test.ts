/**
 * Redis specifics: nothing leaks when jobs are pruned or deleted, a risky eviction policy
 * is reported loudly at start, connection strings, and processes sharing one server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { createClient, createWorker, defineJob, openBackend } from '../../src/index.ts';
import { createIntegrationEnv, describeCounts, drainWithProcesses, type IntegrationEnv, waitUntil } from '../integration/fixtures/harness.ts';
import { type RedisServer, requireServers, startRedis } from '../support/index.ts';

const servers = requireServers('redis');

describe.skipIf(servers.skip)('redis backend', () => {
  let server: RedisServer;
  let env: IntegrationEnv | undefined;

  beforeAll(async () => {
    server = await startRedis();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    await env?.dispose();
    env = undefined;
  });

  const work = defineJob({
    name: 'work',
    keepCompleted: '1s',
    keepFailed: '1s',
    run: async (n: number, ctx) => {
      await ctx.progress(50, 'half');
      await ctx.log('working', { n });
      if (n % 5 === 0) throw new Error('every fifth fails');
      return { n };
    },
  });

  it('pruning and deleting remove every key a job had: nothing leaks', async () => {
    const prefix = 'leaks';
    const backend = new RedisBackend({ url: server.url, prefix, onWarning: () => {} });
    const client = createClient({ backend, jobs: [work] });
    const worker = createWorker({ backend, jobs: [work], concurrency: 20, pruneInterval: null });
    await worker.start();
    const before = await backend.keyCount();
    const total = 500;
    await client.enqueueMany(Array.from({ length: total }, (_, n) => ({ job: work, payload: n + 1, options: { maxAttempts: 1 } })));
    const held = await client.enqueue(work, 0, { delay: '1h', key: 'k1' });
    await waitUntil(
      'every job to finish',
      async () => {
        const { counts } = await client.stats();
        return counts.completed + counts.failed === total ? true : describeCounts(counts);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await worker.stop();
    // Each job had a hash, a log list and a progress list; each failed one an attempt history too.
    expect(await backend.keyCount()).toBeGreaterThanOrEqual(before + total * 3 + total / 5);
    expect(await client.delete(held.id)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await backend.prune({ expired: true })).toBe(total);
    const keys = (await server.command('KEYS', `{${prefix}}:*`)) as string[];
    // What stays is per queue, not per job: flags, counters and the empty indexes' absence.
    expect(keys.filter((key) => /:(job|logs|prog|attempts):/.test(key))).toEqual([]);
    for (const index of ['scheduled', 'running', 'expiry', 'finished', 'state:completed', 'state:failed', 'ready:default']) {
      expect(await server.command('ZCARD', `{${prefix}}:${index}`), index).toBe(0);
    }
    expect(await server.command('HLEN', `{${prefix}}:keys`)).toBe(0);
    expect(keys.length).toBeLessThanOrEqual(5);
    expect((await client.stats()).counts).toMatchObject({ completed: 0, failed: 0, scheduled: 0, queued: 0, running: 0 });
    await client.close();
    await backend.close();
  });

  it('warns loudly at start when maxmemory-policy is not noeviction', async () => {
    const warnings: string[] = [];
    await server.command('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const backend = new RedisBackend({ url: server.url, prefix: 'policy', onWarning: (message) => warnings.push(message) });
      await backend.open();
      await backend.close();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/allkeys-lru.*evict.*noeviction/s);
    } finally {
      await server.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    }
    const quiet: string[] = [];
    const backend = new RedisBackend({ url: server.url, prefix: 'policy', onWarning: (message) => quiet.push(message) });
    await backend.open();
    await backend.close();
    expect(quiet).toEqual([]);
  });

  it('redis:// selects the backend, with a prefix parameter; a malformed one is a typed error', async () => {
    const backend = await openBackend(`${server.url}/0?prefix=from-url`);
    expect(backend).toBeInstanceOf(RedisBackend);
    expect((backend as RedisBackend).prefix).toBe('from-url');
    await backend.close();
    await expect(openBackend('redis://:secret@/0')).rejects.toSatisfy(
      (error: unknown) => (error as { code?: string }).code === 'INVALID_URL' && !(error as Error).message.includes('secret'),
    );
    await expect(openBackend('redis://localhost/zero')).rejects.toMatchObject({ code: 'INVALID_URL' });
  });

  it('four worker processes process 20,000 jobs: each exactly once, none lost', { timeout: 240_000 }, async () => {
    env = createIntegrationEnv('redis-multi', { backendUrl: `${server.url}?prefix=multi` });
    await drainWithProcesses(env, {
      processes: 4,
      jobCount: 20_000,
      config: { concurrency: 25, hold: { minMs: 0, maxMs: 0 }, lease: '30s', heartbeat: '5s', pollInterval: '200ms', stopTimeout: '5s' },
      timeoutMs: 200_000,
    });
    const jobs = await env.allJobs();
    expect(jobs.every((job) => job.state === 'completed' && job.attempts === 1 && job.crashes === 0)).toBe(true);
    expect(jobs).toHaveLength(20_000);
  });
});
