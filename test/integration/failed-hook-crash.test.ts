/**
 * A worker process dies by SIGKILL while the `failed` hook of one job runs and the hooks of
 * the other jobs that failed in the same batch have not started. Each failure was stored
 * with its hook pending, under the dead worker's lease; a second worker process takes the
 * pending hooks over once those leases lapse, and runs the hooks (never the handlers).
 * The ledger says what the hooks really did; on SQLite, PostgreSQL and Redis.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireServers, startPostgres, startRedis } from '../support/index.ts';
import { createIntegrationEnv, type IntegrationEnv, waitUntil } from './fixtures/harness.ts';
import { historiesByJob } from './fixtures/ledger.ts';
import type { WorkerChildConfig } from './fixtures/worker-config.ts';

const jobCount = 6;

const settings = (hookHoldMs: number): Omit<WorkerChildConfig, 'dbPath' | 'ledgerDir'> => ({
  // Every job in one batch, each failing at once.
  concurrency: jobCount,
  lease: '2s',
  heartbeat: '500ms',
  pollInterval: '100ms',
  hold: { minMs: 0, maxMs: 0 },
  stopTimeout: '5s',
  failing: { hookHold: { minMs: hookHoldMs, maxMs: hookHoldMs } },
});

async function pendingHooks(env: IntegrationEnv): Promise<number> {
  return (await env.allJobs()).filter((job) => job.state === 'failed' && job.failedHook === 'pending').length;
}

async function killDuringHooksThenRecover(env: IntegrationEnv): Promise<void> {
  const ids = await env.enqueue(jobCount);
  // A's hooks last a minute each, one at a time: the first is cut off, the rest never start there.
  const a = env.workers.start(env.workerConfig(settings(60_000)));
  await a.ready;
  await waitUntil(
    "every failure stored with its hook pending, and A's first hook running",
    async () => {
      const pending = await pendingHooks(env);
      const hooksStarted = env.ledger().filter((entry) => entry.kind === 'H').length;
      return pending === jobCount && hooksStarted === 1 ? true : `${pending} pending, ${hooksStarted} hook(s) started`;
    },
    { timeoutMs: 30_000, intervalMs: 50, alive: [a] },
  );
  a.kill('SIGKILL');
  expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
  const atKill = historiesByJob(env.ledger());
  const cutOff = [...atKill].filter(([, history]) => history.hookStarts.length === 1).map(([id]) => id);
  expect(cutOff, 'one hook was running when A died').toHaveLength(1);
  expect([...atKill.values()].every((history) => history.hookEnds.length === 0)).toBe(true);
  // What an application sees: every job failed, its hook still to run.
  expect(await pendingHooks(env)).toBe(jobCount);

  const b = env.workers.start(env.workerConfig(settings(10)));
  await b.ready;
  await waitUntil(
    'every hook to have run',
    async () => {
      const pending = await pendingHooks(env);
      return pending === 0 ? true : `${pending} hook(s) pending`;
    },
    { timeoutMs: 40_000, intervalMs: 100, alive: [b] },
  );
  b.kill('SIGTERM');
  expect(await b.exited).toEqual({ code: 0, signal: null });

  const jobs = await env.allJobs();
  expect(jobs.map((job) => job.id).sort()).toEqual([...ids].sort());
  for (const job of jobs) {
    // The hook's takeover is counted as a crash; the failed attempt is the only attempt.
    expect(job, `job ${job.id}`).toMatchObject({ state: 'failed', failedHook: 'done', attempts: 1, crashes: 1, lease: null, error: { code: 'PERMANENT' } });
  }
  const histories = historiesByJob(env.ledger());
  for (const [id, history] of histories) {
    // The handler ran once, on A; B ran the hook alone.
    expect(history.starts.map((entry) => entry.pid), `job ${id}`).toEqual([a.pid]);
    expect(history.hookEnds.map((entry) => entry.pid), `job ${id}: its hook ran to the end on B`).toEqual([b.pid]);
    expect(history.hookStarts.map((entry) => entry.pid).sort(), `job ${id}`).toEqual(cutOff.includes(id) ? [a.pid, b.pid].sort() : [b.pid]);
    // The hook knows which attempt failed.
    expect(history.hookStarts.every((entry) => entry.attempt === 1)).toBe(true);
  }
  const stalled = b.messages().flatMap((message) => (message.type === 'stalled' ? [message.jobId] : []));
  expect(stalled.sort()).toEqual([...ids].sort());
  expect(b.workerErrors()).toEqual([]);
}

describe('a worker killed while failed hooks are pending', () => {
  let env: IntegrationEnv | undefined;

  afterEach(async () => {
    await env?.dispose();
    env = undefined;
  });

  it('sqlite: another worker runs every pending hook', { timeout: 90_000 }, async () => {
    env = createIntegrationEnv('failed-hook');
    await killDuringHooksThenRecover(env);
    expect(env.integrityCheck()).toBe('ok');
  });

  const servers = [
    { kind: 'postgres', start: startPostgres, startTimeoutMs: 120_000, url: (base: string) => `${base}?schema=failed_hook` },
    { kind: 'redis', start: startRedis, startTimeoutMs: 60_000, url: (base: string) => `${base}?prefix=failed-hook` },
  ] as const;
  for (const store of servers) {
    describe.skipIf(requireServers(store.kind).skip)(store.kind, () => {
      let server: { url: string; stop(): Promise<void> } | undefined;
      beforeAll(async () => {
        server = await store.start();
      }, store.startTimeoutMs);
      afterAll(async () => {
        await server?.stop();
      });

      it('another worker runs every pending hook', { timeout: 90_000 }, async () => {
        env = createIntegrationEnv(`${store.kind}-failed-hook`, { backendUrl: store.url(server!.url) });
        await killDuringHooksThenRecover(env);
      });
    });
  }
});
