/**
 * The documented trade-off: heartbeats run on the worker's event loop, so a handler that
 * blocks it for longer than the lease lets the lease lapse. The job is then taken over by a
 * live worker, and the blocked attempt is fenced: when it wakes, its outcome is rejected and
 * its signal aborts. The job ends in one state, written by the worker that took it over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, defineJob, isJobsmithError } from '../../src/index.ts';
import { createIntegrationEnv, waitUntil } from '../integration/fixtures/harness.ts';
import { ledgerJobName } from '../integration/fixtures/ledger-job.ts';
import { historiesByJob } from '../integration/fixtures/ledger.ts';
import { type RedisServer, requireServers, startRedis } from '../support/index.ts';

const servers = requireServers('redis');

describe.skipIf(servers.skip)('redis backend: a handler that blocks the event loop past its lease', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('is taken over by a live worker, and the blocked attempt is fenced when it wakes', { timeout: 60_000 }, async () => {
    const url = `${server.url}?prefix=blocked`;
    const env = createIntegrationEnv('redis-blocked', { backendUrl: url });
    let releaseBlock!: () => void;
    const thiefReady = new Promise<void>((resolve) => (releaseBlock = resolve));
    let aborted: unknown = null;
    const blocking = defineJob({
      name: ledgerJobName,
      maxAttempts: 1,
      run: async (_payload: unknown, ctx) => {
        await thiefReady;
        const until = Date.now() + 3000; // three leases
        while (Date.now() < until) {
          // A synchronous loop: nothing else in this process runs, heartbeats included.
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
        aborted = ctx.signal.aborted ? ctx.signal.reason : null;
        return 'zombie result';
      },
    });
    const errors: unknown[] = [];
    const worker = createWorker({ backend: url, jobs: [blocking], concurrency: 1, lease: '1s', heartbeat: '200ms', pollInterval: '100ms' });
    worker.on('worker:error', ({ error }) => errors.push(error));
    try {
      await worker.start();
      const [id] = await env.enqueue(1);
      await waitUntil('the job to start here', async () => ((await env.client.get(id!)).state === 'running' ? true : 'not yet'), {
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      const thief = env.workers.start(
        env.workerConfig({ concurrency: 1, hold: { minMs: 0, maxMs: 0 }, lease: '30s', heartbeat: '5s', pollInterval: '50ms', stopTimeout: '1s' }),
      );
      await thief.ready;
      releaseBlock();
      await waitUntil('the blocked attempt to wake and be fenced', () => (aborted !== null ? true : 'still blocked'), { timeoutMs: 20_000, intervalMs: 100 });
      await waitUntil('the takeover to complete the job', async () => ((await env.client.get(id!)).state === 'completed' ? true : 'not yet'), {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      const job = await env.client.get(id!);
      // The live worker's outcome stands; the zombie's was rejected.
      expect(job).toMatchObject({ state: 'completed', crashes: 1, attempts: 1, result: null, lease: null });
      expect(isJobsmithError(aborted, 'LEASE_LOST')).toBe(true);
      await waitUntil('the rejected write to be reported', () => (errors.some((error) => isJobsmithError(error, 'LEASE_LOST')) ? true : 'not yet'), {
        timeoutMs: 5000,
        intervalMs: 50,
      });
      // The cost of the trade-off: the handler ran twice, once in each process.
      const history = historiesByJob(env.ledger()).get(id!);
      expect(history?.starts).toHaveLength(1);
      expect(history?.dones).toHaveLength(1);
      thief.kill('SIGTERM');
      await thief.exited;
    } finally {
      await worker.stop({ timeout: 0 });
      await env.dispose();
    }
  });

  it('is never taken over by its own worker when no other worker is there', { timeout: 60_000 }, async () => {
    const url = `${server.url}?prefix=lone`;
    const env = createIntegrationEnv('redis-lone', { backendUrl: url });
    let runs = 0;
    let aborted: unknown = null;
    const blocking = defineJob({
      name: ledgerJobName,
      maxAttempts: 1,
      run: async (_payload: unknown, ctx) => {
        runs++;
        const until = Date.now() + 3000; // three leases, with no heartbeat
        while (Date.now() < until) {
          // A synchronous loop: nothing else in this process runs, heartbeats included.
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
        aborted = ctx.signal.aborted ? ctx.signal.reason : null;
        return 'done';
      },
    });
    const stalled: string[] = [];
    const worker = createWorker({ backend: url, jobs: [blocking], concurrency: 2, lease: '1s', heartbeat: '200ms', pollInterval: '100ms' });
    worker.on('job:stalled', ({ job }) => stalled.push(job.id));
    try {
      await worker.start();
      const [id] = await env.enqueue(1);
      await waitUntil('the job to complete', async () => ((await env.client.get(id!)).state === 'completed' ? true : 'not yet'), {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      // Its lease lapsed while the loop was blocked, but the worker renewed it before it claimed again.
      expect(await env.client.get(id!)).toMatchObject({ state: 'completed', crashes: 0, attempts: 1, result: 'done' });
      expect(runs).toBe(1);
      expect(stalled).toEqual([]);
      expect(aborted).toBeNull();
    } finally {
      await worker.stop({ timeout: 0 });
      await env.dispose();
    }
  });
});
