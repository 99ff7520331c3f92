/**
 * Several worker processes share one SQLite file and compete for the same queue. With
 * no faults at all, every job must start exactly once: a second start would mean two
 * processes claimed one row.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createIntegrationEnv, drainWithProcesses, type IntegrationEnv } from './fixtures/harness.ts';
import type { WorkerChildConfig } from './fixtures/worker-config.ts';

const processCount = 4;
const jobCount = 3000;

const settings: Omit<WorkerChildConfig, 'dbPath' | 'ledgerDir' | 'backendUrl'> = {
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
    const { ids, perPid } = await drainWithProcesses(env, { processes: processCount, jobCount, config: settings, timeoutMs: 50_000 });

    // ── The store ──
    const jobs = await env.allJobs();
    expect(jobs.map((job) => job.id).sort()).toEqual([...ids].sort());
    for (const job of jobs) expect(job, `job ${job.id}`).toMatchObject({ state: 'completed', attempts: 1, crashes: 0, lease: null });
    expect((await env.client.stats()).completedLastHour).toBe(jobCount);
    expect(env.ledger().filter((entry) => entry.kind === 'A')).toEqual([]);
    console.log(`multi-process test: jobs started per worker process: ${[...perPid].map(([pid, n]) => `${pid}=${n}`).join(' ')}`);
    expect(env.integrityCheck()).toBe('ok');
  });
});
