/**
 * Redis fails under running workers: a restart (with AOF, so the data survives) and every
 * client connection killed. Workers must resume on their own within 5 s of Redis
 * accepting connections again (BullMQ #4585: workers that never resume), and no job is lost.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient, createWorker, defineJob, type Worker } from '../../src/index.ts';
import { waitUntil } from '../integration/fixtures/harness.ts';
import { type RedisServer, requireServers, startRedis } from '../support/index.ts';

const servers = requireServers('redis');

describe.skipIf(servers.skip)('redis backend under Redis faults', () => {
  let server: RedisServer;
  let workers: Worker[] = [];
  let clients: Client[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    server = await startRedis({ appendonly: true, appendfsync: 'always' });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    for (const worker of workers) await worker.stop({ timeout: 0 }).catch(() => undefined);
    for (const client of clients) await client.close();
    workers = [];
    clients = [];
  });

  const ran = new Map<number, number>();
  const slow = defineJob({
    name: 'slow',
    maxAttempts: 1,
    run: async (n: number) => {
      ran.set(n, (ran.get(n) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      return n;
    },
  });

  /** Polls until `check` holds; the store may be down meanwhile, so a failed check only means "not yet". */
  const waitFor = (what: string, check: () => Promise<boolean>, timeoutMs: number) =>
    waitUntil(what, async () => ((await check()) ? true : 'not yet'), { timeoutMs, intervalMs: 100, tolerateErrors: true });

  for (const fault of ['restart', 'CLIENT KILL'] as const) {
    it(`workers resume after a Redis ${fault} and finish every job`, { timeout: 90_000 }, async () => {
      ran.clear();
      const url = `${server.url}?prefix=faults-${++prefixes}`;
      const client = createClient({ backend: url, jobs: [slow] });
      clients.push(client);
      const errors: string[] = [];
      const worker = createWorker({ backend: url, jobs: [slow], concurrency: 10, lease: '5s', heartbeat: '500ms', pollInterval: '250ms' });
      worker.on('worker:error', ({ during }) => errors.push(during));
      workers.push(worker);
      await worker.start();
      const total = 600;
      await client.enqueueMany(Array.from({ length: total }, (_, n) => ({ job: slow, payload: n })));
      const completed = async () => (await client.stats()).counts.completed;
      await waitFor('some progress', async () => (await completed()) >= 100, 30_000);

      if (fault === 'restart') await server.restart();
      else expect(await server.clientKillAll()).toBeGreaterThan(0);
      const back = Date.now();
      const before = await completed().catch(() => 0);
      await waitFor('the worker to resume', async () => (await completed()) > before + 20, 5_000);
      const resumedAfterMs = Date.now() - back;
      await waitFor('every job to complete', async () => (await completed()) === total, 60_000);

      expect([...ran.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, n) => n));
      const jobs = [];
      for await (const job of client.jobs({ limit: 1000 })) jobs.push(job);
      expect(jobs).toHaveLength(total);
      expect(jobs.every((job) => job.state === 'completed')).toBe(true);
      expect(worker.health()).toMatchObject({ running: true });
      expect(errors.length).toBeGreaterThan(0);
      console.log(`redis ${fault}: resumed ${resumedAfterMs} ms after Redis was back; ${errors.length} errors reported`);
    });
  }

  it('a worker started while Redis is down keeps trying, and works within 5 s of it coming up', { timeout: 60_000 }, async () => {
    const down = await startRedis();
    try {
      const url = `${down.url}?prefix=late`;
      await down.kill();
      const worker = createWorker({ backend: url, jobs: [slow], pollInterval: '250ms' });
      const errors: unknown[] = [];
      worker.on('worker:error', ({ error }) => errors.push(error));
      workers.push(worker);
      await worker.start();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(errors.length).toBeGreaterThan(0);
      await down.start();
      const up = Date.now();
      const client = createClient({ backend: url, jobs: [slow] });
      clients.push(client);
      const { id } = await client.enqueue(slow, 1);
      await client.waitFor(id, { timeout: '10s' });
      expect(Date.now() - up).toBeLessThan(5000);
    } finally {
      await down.stop();
    }
  });
});
