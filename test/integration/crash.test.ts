/**
 * A worker process dies by SIGKILL in the middle of a batch (no `finally`, no graceful
 * stop, its leases simply stop being renewed), and a second worker process recovers
 * its jobs from the same SQLite file. What the store says is checked against the
 * ledger of what the handlers really did.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createIntegrationEnv, describeCounts, type IntegrationEnv, waitUntil } from './fixtures/harness.ts';
import { historiesByJob, interruptedIn, numeric, startsPerPid } from './fixtures/ledger.ts';
import type { WorkerChildConfig } from './fixtures/worker-config.ts';

const jobCount = 300;
const concurrency = 10;

// A short lease so the survivor recovers the dead worker's jobs within ~2 s; the
// heartbeat renews well inside it, so no live job's lease lapses by accident.
const settings: Omit<WorkerChildConfig, 'dbPath' | 'ledgerDir'> = {
  concurrency,
  lease: '2s',
  heartbeat: '500ms',
  pollInterval: '100ms',
  hold: { minMs: 20, maxMs: 50 },
  stopTimeout: '5s',
};

describe('sqlite backend: a worker process crashes', () => {
  let env: IntegrationEnv;

  beforeEach(() => {
    env = createIntegrationEnv('crash');
  });

  afterEach(async () => {
    await env.dispose();
  });

  it('SIGKILL a worker mid-run, start another, nothing is lost', { timeout: 60_000 }, async () => {
    const ids = await env.enqueue(jobCount);

    const a = env.workers.start(env.workerConfig(settings));
    await a.ready;
    // Kill only once A is demonstrably mid-batch: some jobs done, others under its lease.
    await waitUntil(
      'worker A has completed some jobs and holds others',
      async () => {
        const { counts } = await env.client.stats();
        return counts.completed >= 60 && counts.running > 0 ? true : describeCounts(counts);
      },
      { timeoutMs: 30_000, intervalMs: 20, alive: [a] },
    );
    a.kill('SIGKILL');
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // Handlers A started and never finished: the kill cut them off. Each must run again.
    const interrupted = interruptedIn(env.ledger(), a.pid);
    expect(interrupted.size, 'the kill interrupted running handlers').toBeGreaterThan(0);

    const b = env.workers.start(env.workerConfig(settings));
    await b.ready;
    await waitUntil(
      'worker B has completed every job',
      async () => {
        const { counts } = await env.client.stats();
        return counts.completed === jobCount ? true : describeCounts(counts);
      },
      { timeoutMs: 40_000, intervalMs: 100, alive: [b] },
    );
    b.kill('SIGTERM');
    expect(await b.exited).toEqual({ code: 0, signal: null });

    // ── The store: every job completed, and completed once. ──
    const jobs = await env.allJobs();
    expect(jobs.map((job) => job.id).sort()).toEqual([...ids].sort());
    for (const job of jobs) {
      expect(job, `job ${job.id}`).toMatchObject({ state: 'completed', attempts: 1, lease: null });
    }
    // The completion counter is bumped by each applied `complete` settlement: a job
    // completed twice (say, by A's late write and B's) would count twice here.
    expect((await env.client.stats()).completedLastHour).toBe(jobCount);

    // ── The ledger: what the handlers really did. ──
    const entries = env.ledger();
    const histories = historiesByJob(entries);
    expect([...histories.keys()].sort(), 'the ledger names exactly the enqueued jobs').toEqual([...ids].sort());
    for (const [id, history] of histories) {
      expect(history.dones.length, `job ${id} finished at least once`).toBeGreaterThanOrEqual(1);
      // A crash is not an attempt: a recovered job runs again as attempt 1.
      expect(history.starts.map((start) => start.attempt), `job ${id}`).toEqual(history.starts.map(() => 1));
      const pids = history.starts.map((start) => start.pid);
      expect(new Set(pids).size, `job ${id} was started twice by one process`).toBe(pids.length);
    }
    expect([...startsPerPid(entries).keys()].sort(numeric)).toEqual([a.pid, b.pid].sort(numeric));

    const reruns = [...histories].filter(([, history]) => history.starts.length > 1).map(([id]) => id);
    console.log(
      `crash test: ${reruns.length} job(s) ran twice after SIGKILL (${interrupted.size} cut off mid-handler; A's concurrency ${concurrency})`,
    );
    // Only what was in flight on the killed worker may run twice, and it all must. In flight:
    // handlers running (at most `concurrency`), and handlers that had finished while their
    // outcome was still on its way to the store; a slot starts a held job as soon as its
    // handler finishes, so those number at most concurrency + prefetch (on SQLite, the jobs
    // finished in the last 20 ms: about 6 of these 20–50 ms jobs at concurrency 10).
    // Each re-run job is also checked below to have been recovered from A's lease.
    expect(reruns.length).toBeGreaterThan(0);
    expect(reruns.length).toBeLessThanOrEqual(3 * concurrency);
    for (const id of interrupted) expect(reruns, `interrupted job ${id} ran again`).toContain(id);
    for (const id of reruns) {
      // Once on A (cut off), once on B. Ledger order across files is not time order, hence the sort.
      expect(histories.get(id)!.starts.map((start) => start.pid).sort(numeric), `job ${id}: started on A and on B`).toEqual([a.pid, b.pid].sort(numeric));
    }

    // ── Crash accounting: recovered jobs are marked, and only they. ──
    const byId = new Map(jobs.map((job) => [job.id, job]));
    for (const id of reruns) expect(byId.get(id)!.crashes, `re-run job ${id}`).toBe(1);
    // Also counts a job A claimed but was killed before its handler wrote a line, and the
    // jobs A held prefetched (about 6 here, by default) under its lease.
    const crashed = jobs.filter((job) => job.crashes > 0).map((job) => job.id);
    expect(crashed.length).toBeLessThanOrEqual(4 * concurrency);
    expect(jobs.every((job) => job.crashes <= 1)).toBe(true);
    // B reported a `job:stalled` for exactly the jobs it took over from expired leases.
    const stalled = b.messages().flatMap((message) => (message.type === 'stalled' ? [message.jobId] : []));
    expect(stalled.sort()).toEqual(crashed.sort());
    expect(b.workerErrors()).toEqual([]);

    expect(env.integrityCheck()).toBe('ok');
  });
});
