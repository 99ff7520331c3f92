import { expect } from 'vitest';
import type { Settlement } from '../../contract/backend.ts';
import { LeaseLostError } from '../../domain/errors.ts';
import type { ConformanceSuite } from './index.ts';

/** The queue role at the store: claim order and timing, contention, leases and their fencing, outcomes written twice. */
export function queueTests(suite: ConformanceSuite): void {
  const { test, options, newJob, noop, enqueueOne, claimBy } = suite;

  // ── ordering and timing ────────────────────────────────────────────────

  test('claims by priority, then first in, first out', async ({ backend }) => {
    const spec = [
      ['a', 0],
      ['b', 5],
      ['c', 0],
      ['d', 5],
      ['e', 10],
      ['f', -1],
    ] as const;
    const ids = new Map<string, string>();
    for (const [label, priority] of spec) {
      const [result] = await backend.enqueue([await newJob(noop, label, { priority })]);
      ids.set(result!.id, label);
    }
    const order: string[] = [];
    for (let i = 0; i < spec.length; i++) {
      const { jobs } = await backend.claim(claimBy('w', 1));
      order.push(ids.get(jobs[0]!.id)!);
    }
    expect(order).toEqual(['e', 'b', 'd', 'a', 'c', 'f']);
  });

  test('a batch claim returns the same order as single claims', async ({ backend }) => {
    const labels = ['low1', 'high', 'low2', 'mid'];
    const priorities = [0, 9, 0, 3];
    await backend.enqueue(await Promise.all(labels.map((label, i) => newJob(noop, label, { priority: priorities[i]! }))));
    const { jobs } = await backend.claim(claimBy('w', 10));
    expect(jobs.map((job) => job.payload)).toEqual(['high', 'mid', 'low1', 'low2']);
  });

  test('delay and runAt hold a job until its time, driven by the clock', async ({ clock, backend }) => {
    const now = clock.now();
    await backend.enqueue([
      await newJob(noop, 'now'),
      await newJob(noop, 'in-5s', { delay: '5s' }),
      await newJob(noop, 'at-10s', { runAt: new Date(now + 10_000) }),
    ]);
    expect((await backend.get((await backend.list({ state: 'scheduled' })).jobs[0]!.id))?.state).toBe('scheduled');
    const first = await backend.claim(claimBy('w', 10, { leaseMs: 3_600_000 }));
    expect(first.jobs.map((job) => job.payload)).toEqual(['now']);
    expect(first.nextRunAt).toBe(now + 5000);
    await clock.advance(4999);
    expect((await backend.claim(claimBy('w', 10, { leaseMs: 3_600_000 }))).jobs).toHaveLength(0);
    await clock.advance(1);
    expect((await backend.claim(claimBy('w', 10, { leaseMs: 3_600_000 }))).jobs.map((job) => job.payload)).toEqual(['in-5s']);
    await clock.advance(5000);
    const last = await backend.claim(claimBy('w', 10, { leaseMs: 3_600_000 }));
    expect(last.jobs.map((job) => job.payload)).toEqual(['at-10s']);
    expect(last.jobs[0]!.runAt).toBe(now + 10_000);
  });

  // ── claiming under contention ──────────────────────────────────────────

  test('no job is claimed twice when hundreds of claims race', async ({ backend }) => {
    const total = options.raceJobs ?? 300;
    const jobs = await Promise.all(Array.from({ length: total }, (_, i) => newJob(noop, i)));
    await backend.enqueue(jobs);
    const claims = await Promise.all(
      Array.from({ length: total }, (_, i) => backend.claim(claimBy(`worker-${i % 37}`, 1 + (i % 3)))),
    );
    const claimed = claims.flatMap((result) => result.jobs.map((job) => job.id));
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.length).toBe(total);
  });

  // ── leases ─────────────────────────────────────────────────────────────

  test('an expired lease is recovered by another worker, counted as a crash, not an attempt', async ({ clock, backend }) => {
    const { id } = await enqueueOne(await newJob(noop, 1, { maxAttempts: 1 }));
    const first = await backend.claim(claimBy('w1', 1));
    expect(first.jobs[0]!.id).toBe(id);
    expect((await backend.claim(claimBy('w2', 1))).jobs).toHaveLength(0);
    await clock.advance(999);
    expect((await backend.claim(claimBy('w2', 1))).jobs).toHaveLength(0);
    await clock.advance(1);
    const second = await backend.claim(claimBy('w2', 1));
    expect(second.jobs).toHaveLength(1);
    const recovered = second.jobs[0]!;
    expect(recovered).toMatchObject({ id, recovered: true, crashes: 1, attempts: 0, state: 'running' });
    expect(recovered.lease.workerId).toBe('w2');
    expect(recovered.lease.token).not.toBe(first.jobs[0]!.lease.token);
    // A crash during the last attempt does not use it up: the job still completes.
    const settled = await backend.settle([{ kind: 'complete', id, token: recovered.lease.token, result: 'ok', expiresAt: null }]);
    expect(settled.applied).toEqual([true]);
    expect(await backend.get(id)).toMatchObject({ state: 'completed', attempts: 1, crashes: 1 });
  });

  test('renewing a lease keeps the job from being recovered', async ({ clock, backend }) => {
    await backend.enqueue([await newJob(noop, 1)]);
    const { jobs } = await backend.claim(claimBy('w1', 1));
    const lease = { id: jobs[0]!.id, token: jobs[0]!.lease.token };
    for (let i = 0; i < 5; i++) {
      await clock.advance(800);
      expect(await backend.renewLeases([lease], 1000)).toEqual([{ id: lease.id, held: true, cancelRequested: false }]);
      expect((await backend.claim(claimBy('w2', 1))).jobs).toHaveLength(0);
    }
  });

  test('a completion racing the takeover of its expired lease ends in exactly one state', async ({ clock, backend }) => {
    for (let round = 0; round < 40; round++) {
      const { id } = await enqueueOne(await newJob(noop, round));
      const first = (await backend.claim(claimBy('w1', 1))).jobs[0]!;
      expect(first.id).toBe(id);
      await clock.advance(1000);
      const complete = () => backend.settle([{ kind: 'complete', id, token: first.lease.token, result: 'late', expiresAt: null }]);
      const takeOver = () => backend.claim(claimBy('w2', 1));
      // Alternate who starts first; over a network store they truly race.
      const [settled, claimed] =
        round % 2 === 0 ? await Promise.all([complete(), takeOver()]) : await Promise.all([takeOver(), complete()]).then(([c, s]) => [s, c] as const);
      const tookOver = claimed.jobs.some((job) => job.id === id);
      expect(settled.applied[0] !== tookOver, `round ${round}: exactly one of completion and takeover wins`).toBe(true);
      const record = (await backend.get(id))!;
      if (tookOver) expect(record).toMatchObject({ state: 'running', result: null, crashes: 1, lease: { workerId: 'w2' } });
      else expect(record).toMatchObject({ state: 'completed', result: 'late', lease: null });
      if (tookOver) {
        const lease = claimed.jobs.find((job) => job.id === id)!.lease;
        await backend.settle([{ kind: 'complete', id, token: lease.token, result: 'w2', expiresAt: null }]);
      }
    }
  });

  test('a stale attempt is fenced: its complete, fail, progress, log and renew are rejected', async ({ clock, backend }) => {
    const { id } = await enqueueOne(await newJob(noop, 1));
    const stale = (await backend.claim(claimBy('w1', 1))).jobs[0]!;
    await clock.advance(1000);
    const fresh = (await backend.claim(claimBy('w2', 1))).jobs[0]!;
    const staleLease = { id, token: stale.lease.token };
    const outcome = await backend.settle([
      { kind: 'complete', ...staleLease, result: 'zombie', expiresAt: null },
      { kind: 'fail', ...staleLease, error: { name: 'Error', message: 'zombie', at: 0, attempt: 1 }, countAttempt: true, expiresAt: null, hookPending: true },
      { kind: 'retry', ...staleLease, error: null, runAt: clock.now(), countAttempt: true },
      { kind: 'cancel', ...staleLease, error: null, expiresAt: null },
      { kind: 'hook-done', ...staleLease },
    ]);
    expect(outcome.applied).toEqual([false, false, false, false, false]);
    expect(await backend.renewLeases([staleLease], 1000)).toEqual([{ id, held: false, cancelRequested: false }]);
    await expect(backend.recordProgress(staleLease, { percent: 50, message: null, at: clock.now() })).rejects.toBeInstanceOf(LeaseLostError);
    await expect(backend.appendLog(staleLease, { at: clock.now(), attempt: 1, message: 'zombie', fields: null })).rejects.toBeInstanceOf(LeaseLostError);
    expect(await backend.get(id)).toMatchObject({ state: 'running', attempts: 0, progress: null, logs: [] });
    const done = await backend.settle([{ kind: 'complete', id, token: fresh.lease.token, result: 'real', expiresAt: null }]);
    expect(done.applied).toEqual([true]);
    expect(await backend.get(id)).toMatchObject({ state: 'completed', result: 'real' });
    // Still fenced once the job has ended, under another attempt's outcome.
    expect((await backend.settle([{ kind: 'complete', ...staleLease, result: 'zombie', expiresAt: null }])).applied).toEqual([false]);
    expect(await backend.get(id)).toMatchObject({ state: 'completed', result: 'real', failedHook: null });
  });

  test('a cancel is reported through renewLeases, and a crashed cancelled job is not run again', async ({ clock, backend }) => {
    const { id } = await enqueueOne(await newJob(noop, 1));
    const { jobs } = await backend.claim(claimBy('w1', 1));
    await backend.cancel(id);
    expect(await backend.renewLeases([{ id, token: jobs[0]!.lease.token }], 1000)).toEqual([{ id, held: true, cancelRequested: true }]);
    await clock.advance(1001);
    expect((await backend.claim(claimBy('w2', 1))).jobs).toHaveLength(0);
    expect(await backend.get(id)).toMatchObject({ state: 'cancelled' });
  });

  // ── outcomes written twice ─────────────────────────────────────────────

  test('an outcome written again with the same lease (its reply was lost) is applied once and reported applied', async ({ clock, backend }) => {
    const failure = { name: 'Error', message: 'boom', at: clock.now(), attempt: 1 };
    await backend.enqueue(await Promise.all(['c', 'f', 'x', 'r'].map((label) => newJob(noop, label))));
    const claimed = (await backend.claim(claimBy('w1', 4, { leaseMs: 60_000 }))).jobs;
    const lease = (label: string) => {
      const job = claimed.find((candidate) => candidate.payload === label)!;
      return { id: job.id, token: job.lease.token };
    };
    const outcomes: Settlement[] = [
      { kind: 'complete', ...lease('c'), result: 'ok', expiresAt: null },
      { kind: 'fail', ...lease('f'), error: failure, countAttempt: true, expiresAt: null, hookPending: false },
      { kind: 'cancel', ...lease('x'), error: null, expiresAt: null },
      { kind: 'retry', ...lease('r'), error: failure, runAt: clock.now() + 60_000, countAttempt: true },
    ];
    expect((await backend.settle(outcomes)).applied).toEqual([true, true, true, true]);
    const records = await Promise.all(outcomes.map((outcome) => backend.get(outcome.id)));
    const stats = await backend.stats();
    // Later, so a second write would show in the finish times too.
    await clock.advance(5);
    expect((await backend.settle(outcomes)).applied).toEqual([true, true, true, true]);
    for (const outcome of outcomes) expect((await backend.settle([outcome])).applied).toEqual([true]);
    expect(await Promise.all(outcomes.map((outcome) => backend.get(outcome.id)))).toEqual(records);
    expect(await backend.stats()).toEqual(stats);
    // The retried job runs again under a new lease; the old attempt's retry written again leaves it be.
    await clock.advance('1m');
    const again = (await backend.claim(claimBy('w2', 1))).jobs[0]!;
    expect(again.id).toBe(lease('r').id);
    expect((await backend.settle([outcomes[3]!])).applied).toEqual([true]);
    expect(await backend.get(again.id)).toMatchObject({ state: 'running', attempts: 1, lease: { token: again.lease.token, workerId: 'w2' } });
  });
}
