/**
 * Several worker processes share one SQLite file and compete for the same queue. With
 * no faults at all, every job must start exactly once: a second start would mean two
 * processes claimed one row.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createIntegrationEnv, describeCounts, type IntegrationEnv, waitUntil } from './fixtures/harness.ts';
import { historiesByJob, numeric, startsPerPid } from './fixtures/ledger.ts';
import type { WorkerChildConfig } from './fixtures/worker-config.ts';

const processCount = 4;
const jobCount = 3000;

const settings: Omit<WorkerChildConfig, 'dbPath' | 'ledgerDir'> = {
  // Small batches of short-but-not-zero handlers cap what one process can drain (about
  // 4 jobs per ~4 ms), so a process that loses a few races for SQLite's write lock (its
  // busy handler backs off rather than queueing) is not starved of work.
  concurrency: 4,
  hold: { minMs: 2, maxMs: 6 },
  // A long lease: on a loaded 2-core machine an event-loop stall must not expire a live
  // lease, or a legitimate recovery would look like a double claim.
  lease: '30s',
  heartbeat: '2s',
  pollInterval: '50ms',
  stopTimeout: '5s',
};

describe('sqlite backend: several worker processes on one file', () => {
  let env: IntegrationEnv;

  beforeEach(() => {
    env = createIntegrationEnv('multi');
  });

  afterEach(async () => {
    await env.dispose();
  });

  it('never claim a job twice', { timeout: 60_000 }, async () => {
    const workers = Array.from({ length: processCount }, () => env.workers.start(env.workerConfig(settings)));
    // Enqueue only once all are polling, so every process competes from the first job.
    await Promise.all(workers.map((worker) => worker.ready));
    const ids = await env.enqueue(jobCount);

    await waitUntil(
      'the workers have completed every job',
      async () => {
        const { counts } = await env.client.stats();
        return counts.completed === jobCount ? true : describeCounts(counts);
      },
      { timeoutMs: 50_000, intervalMs: 200, alive: workers },
    );
    for (const worker of workers) worker.kill('SIGTERM');
    for (const worker of workers) expect(await worker.exited, `worker ${worker.pid}`).toEqual({ code: 0, signal: null });

    // ── The store ──
    const jobs = await env.allJobs();
    expect(jobs.map((job) => job.id).sort()).toEqual([...ids].sort());
    for (const job of jobs) expect(job, `job ${job.id}`).toMatchObject({ state: 'completed', attempts: 1, crashes: 0, lease: null });
    expect((await env.client.stats()).completedLastHour).toBe(jobCount);

    // ── The ledger: exactly one start and one finish per job, across all processes ──
    const entries = env.ledger();
    const histories = historiesByJob(entries);
    expect(histories.size).toBe(jobCount);
    const duplicates = [...histories].filter(([, history]) => history.starts.length !== 1 || history.dones.length !== 1);
    expect(duplicates.map(([id, history]) => ({ id, starts: history.starts, dones: history.dones }))).toEqual([]);
    expect(entries.filter((entry) => entry.kind === 'A')).toEqual([]);

    const perPid = startsPerPid(entries);
    console.log(`multi-process test: jobs started per worker process: ${[...perPid].map(([pid, n]) => `${pid}=${n}`).join(' ')}`);
    expect([...perPid.keys()].sort(numeric)).toEqual(workers.map((worker) => worker.pid).sort(numeric));
    for (const worker of workers) expect(perPid.get(worker.pid), `worker ${worker.pid} did some work`).toBeGreaterThan(0);

    for (const worker of workers) expect(worker.workerErrors(), `worker ${worker.pid}`).toEqual([]);
    expect(env.integrityCheck()).toBe('ok');
  });
});
