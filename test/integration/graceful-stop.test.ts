/**
 * A worker process told to stop (SIGTERM → `worker.stop({ timeout: '200ms' })`) while
 * its handlers are far from done must hand its jobs back to the queue at once, without
 * spending an attempt and without it counting as a crash, so another worker runs them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createIntegrationEnv, describeCounts, type IntegrationEnv, waitUntil } from './fixtures/harness.ts';
import { historiesByJob, numeric } from './fixtures/ledger.ts';
import type { WorkerChildConfig } from './fixtures/worker-config.ts';

const concurrency = 4;
// More jobs than A can hold: the rest must stay queued, as a stopping worker claims nothing new.
const jobCount = 6;

const base = {
  concurrency,
  // Long enough that nothing in this test is recovered by lease expiry: a job back in
  // `queued` can only have been released by the stopping worker.
  lease: '30s',
  heartbeat: '1s',
  pollInterval: '100ms',
  stopTimeout: '200ms',
} satisfies Omit<WorkerChildConfig, 'dbPath' | 'ledgerDir' | 'hold'>;

describe('sqlite backend: a worker process stops on SIGTERM', () => {
  let env: IntegrationEnv;

  beforeEach(() => {
    env = createIntegrationEnv('stop');
  });

  afterEach(async () => {
    await env.dispose();
  });

  it('releases its long-running jobs to queued without spending an attempt; another worker completes them', { timeout: 60_000 }, async () => {
    const ids = await env.enqueue(jobCount);

    // A's handlers would run for ten minutes: only the stop timeout can end them.
    const a = env.workers.start(env.workerConfig({ ...base, hold: { minMs: 600_000, maxMs: 600_000 } }));
    await a.ready;
    await waitUntil(
      `worker A is running ${concurrency} handlers`,
      async () => {
        const { counts } = await env.client.stats();
        const started = env.ledger().filter((entry) => entry.kind === 'S').length;
        return counts.running === concurrency && started === concurrency ? true : `${describeCounts(counts)}; handlers started: ${started}`;
      },
      { timeoutMs: 30_000, intervalMs: 50, alive: [a] },
    );

    a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(a.messages().some((message) => message.type === 'stopped')).toBe(true);
    expect(a.workerErrors()).toEqual([]);

    // ── Right after the stop, before anyone else touches the file ──
    const released = await env.allJobs();
    expect(released).toHaveLength(jobCount);
    for (const job of released) {
      expect(job, `job ${job.id}`).toMatchObject({ state: 'queued', attempts: 0, crashes: 0, lease: null, error: null });
    }
    const afterStop = env.ledger();
    const startedByA = afterStop.filter((entry) => entry.kind === 'S').map((entry) => entry.jobId);
    expect(startedByA).toHaveLength(concurrency);
    // Each of A's handlers saw its signal abort with the shutdown reason; none finished.
    expect(afterStop.filter((entry) => entry.kind === 'D')).toEqual([]);
    const aborts = afterStop.filter((entry) => entry.kind === 'A');
    expect(aborts.map((entry) => entry.jobId).sort()).toEqual([...startedByA].sort());
    expect(aborts.every((entry) => entry.reason === 'WorkerShutdownError')).toBe(true);

    // ── Another worker picks them up ──
    const b = env.workers.start(env.workerConfig({ ...base, hold: { minMs: 5, maxMs: 10 } }));
    await b.ready;
    await waitUntil(
      'worker B has completed every job',
      async () => {
        const { counts } = await env.client.stats();
        return counts.completed === jobCount ? true : describeCounts(counts);
      },
      { timeoutMs: 30_000, intervalMs: 100, alive: [b] },
    );
    b.kill('SIGTERM');
    expect(await b.exited).toEqual({ code: 0, signal: null });

    const jobs = await env.allJobs();
    expect(jobs.map((job) => job.id).sort()).toEqual([...ids].sort());
    for (const job of jobs) expect(job, `job ${job.id}`).toMatchObject({ state: 'completed', attempts: 1, crashes: 0 });

    const histories = historiesByJob(env.ledger());
    for (const id of ids) {
      const history = histories.get(id)!;
      // Sorted: ledgers are read file by file, so their order across processes is not time order.
      const expectedStarts = startedByA.includes(id) ? [a.pid, b.pid] : [b.pid];
      expect(history.starts.map((start) => start.pid).sort(numeric), `job ${id}`).toEqual(expectedStarts.sort(numeric));
      // The released run did not count: B's run is attempt 1 again.
      expect(history.starts.every((start) => start.attempt === 1), `job ${id}`).toBe(true);
      expect(history.dones.map((done) => done.pid), `job ${id}`).toEqual([b.pid]);
    }
    // A release is not a crash: B took nothing over from an expired lease.
    expect(b.messages().filter((message) => message.type === 'stalled')).toEqual([]);
    expect(b.workerErrors()).toEqual([]);
    expect(env.integrityCheck()).toBe('ok');
  });
});
