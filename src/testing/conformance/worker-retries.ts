import { expect } from 'vitest';
import type { BackoffOption } from '../../domain/backoff.ts';
import { defineJob } from '../../domain/define-job.ts';
import { isJobsmithError, PermanentError } from '../../domain/errors.ts';
import { recordLimits } from '../../domain/job-record.ts';
import type { ConformanceSuite } from './index.ts';

/** What a worker does with a failed attempt: backoff, permanent errors, timeouts, odd values thrown, crashes. */
export function workerRetryTests(suite: ConformanceSuite): void {
  const { test, startWorker, eventually, untilState, newJob, enqueueOne, claimBy, noop } = suite;

  // ── outcomes: retries, backoff, permanent errors, timeouts, crashes ─────

  const backoffCases: Array<[string, BackoffOption, number[]]> = [
    ['none', 'none', [0, 0, 0]],
    ['fixed', { type: 'fixed', delay: '2s' }, [2000, 2000, 2000]],
    ['linear', { type: 'linear', delay: 1000 }, [1000, 2000, 3000]],
    ['exponential', { type: 'exponential', delay: 1000 }, [1000, 2000, 4000]],
    ['exponential capped by max', { type: 'exponential', delay: 1000, max: 3000 }, [1000, 2000, 3000]],
    ['a function', (attempt: number) => attempt * 7, [7, 14, 21]],
  ];

  for (const [label, backoff, expected] of backoffCases) {
    test(`backoff ${label} waits exactly ${expected.join(', ')} ms`, async ({ clock, backend, client }) => {
      const job = defineJob({
        name: 'always-fails',
        maxAttempts: 4,
        backoff,
        run: () => {
          throw new Error('nope');
        },
      });
      const delays: number[] = [];
      const worker = await startWorker([job]);
      worker.on('job:retrying', ({ runAt }) => delays.push(runAt - clock.now()));
      const { id } = await client.enqueue(job, null);
      for (let retry = 0; retry < 3; retry++) {
        await eventually(() => delays.length > retry, `retry ${retry + 1}`);
        expect(delays[retry]).toBe(expected[retry]);
        await clock.advance(expected[retry]!);
      }
      await untilState(id, 'failed');
      expect(delays).toEqual(expected);
      expect((await backend.get(id))!.attempts).toBe(4);
    });
  }

  test('a backoff given at enqueue overrides the job definition', async ({ clock, backend, client }) => {
    const job = defineJob({ name: 'fails-once', maxAttempts: 2, backoff: 'none', run: (_: null, ctx) => { if (ctx.attempt === 1) throw new Error('first'); return ctx.attempt; } });
    const worker = await startWorker([job]);
    const delays: number[] = [];
    worker.on('job:retrying', ({ runAt }) => delays.push(runAt - clock.now()));
    const { id } = await client.enqueue(job, null, { backoff: { type: 'fixed', delay: '10s' } });
    await eventually(() => delays.length === 1, 'the retry');
    expect(delays).toEqual([10_000]);
    await clock.advance('10s');
    await untilState(id, 'completed');
    expect((await backend.get(id))!.result).toBe(2);
  });

  test('PermanentError fails the job at once, with no retry', async ({ backend, client }) => {
    let runs = 0;
    const job = defineJob({
      name: 'permanent',
      maxAttempts: 5,
      run: () => {
        runs++;
        throw new PermanentError('account closed');
      },
    });
    await startWorker([job]);
    const { id } = await client.enqueue(job, null);
    await untilState(id, 'failed');
    expect(runs).toBe(1);
    expect(await backend.get(id)).toMatchObject({ attempts: 1, error: { code: 'PERMANENT', message: 'account closed' } });
  });

  test('timeout aborts the signal and fails the attempt with a retryable TimeoutError', async ({ clock, backend, client }) => {
    const signals: AbortSignal[] = [];
    const job = defineJob({
      name: 'hangs',
      timeout: '2s',
      maxAttempts: 2,
      backoff: 'none',
      // Ignores its signal on purpose: the worker must not wait for it.
      run: (_: null, ctx) => {
        signals.push(ctx.signal);
        return new Promise(() => {});
      },
      failed: (_: null, error, ctx) => void hookCalls.push({ error, aborted: ctx.signal.aborted }),
    });
    const hookCalls: Array<{ error: unknown; aborted: boolean }> = [];
    const worker = await startWorker([job]);
    const retried: unknown[] = [];
    worker.on('job:retrying', ({ error }) => retried.push(error));
    const { id } = await client.enqueue(job, null);
    await untilState(id, 'running');
    await clock.advance(1999);
    expect(signals[0]!.aborted).toBe(false);
    await clock.advance(1);
    await eventually(() => retried.length === 1, 'the timeout retry');
    expect(signals[0]!.aborted).toBe(true);
    expect(isJobsmithError(signals[0]!.reason, 'TIMEOUT')).toBe(true);
    await eventually(() => signals.length === 2, 'the second attempt');
    await clock.advance('2s');
    await untilState(id, 'failed');
    expect(await backend.get(id)).toMatchObject({ attempts: 2, error: { code: 'TIMEOUT' } });
    expect((await backend.get(id))!.attemptHistory.map(({ outcome, retryAt }) => [outcome, retryAt === null])).toEqual([
      ['timed-out', false],
      ['timed-out', true],
    ]);
    // The hook runs at once, on a signal of its own (the attempt's aborted on its timeout).
    await eventually(async () => (await backend.get(id))?.failedHook === 'done', 'the hook to be stored as run');
    expect(hookCalls).toHaveLength(1);
    expect(isJobsmithError(hookCalls[0]!.error, 'TIMEOUT')).toBe(true);
    expect(hookCalls[0]!.aborted).toBe(false);
    expect(await backend.get(id)).toMatchObject({ crashes: 0, lease: null });
  });

  test("a timed-out attempt is retried after the job definition's backoff", async ({ clock, backend, client }) => {
    const job = defineJob({
      name: 'hangs-then-waits',
      timeout: '1s',
      maxAttempts: 2,
      backoff: { type: 'fixed', delay: '1m' },
      run: () => new Promise(() => {}),
    });
    const worker = await startWorker([job]);
    const retries: number[] = [];
    worker.on('job:retrying', ({ runAt }) => retries.push(runAt));
    const { id } = await client.enqueue(job, null);
    await untilState(id, 'running');
    const timedOutAt = clock.now() + 1000;
    await clock.advance('1s');
    await eventually(() => retries.length === 1, 'the timeout retry');
    expect(retries[0]).toBe(timedOutAt + 60_000);
    expect(await backend.get(id)).toMatchObject({ state: 'scheduled', runAt: timedOutAt + 60_000, attempts: 1 });
  });

  test('each failed attempt is kept with its worker, times, error and retry time; a first-time success keeps none', async ({ clock, backend, client }) => {
    const gates: Array<(error: Error) => void> = [];
    const job = defineJob({
      name: 'fails-twice',
      maxAttempts: 3,
      backoff: { type: 'fixed', delay: '1s' },
      run: (fail: boolean, ctx) => (fail && ctx.attempt < 3 ? new Promise((_resolve, reject) => gates.push(reject)) : `done on ${ctx.attempt}`),
    });
    const worker = await startWorker([job], { workerId: 'history-worker' });
    const ok = await client.enqueue(job, false);
    await untilState(ok.id, 'completed');
    expect(await backend.get(ok.id)).toMatchObject({ attemptHistory: [], attemptHistoryDropped: 0 });

    const { id } = await client.enqueue(job, true);
    const firstStart = clock.now();
    await eventually(() => gates.length === 1, 'the first attempt');
    await clock.advance(300);
    gates[0]!(new Error('first'));
    await untilState(id, 'scheduled');
    await clock.advance('1s');
    await eventually(() => gates.length === 2, 'the second attempt');
    const secondStart = clock.now();
    await clock.advance(200);
    gates[1]!(new Error('second'));
    await untilState(id, 'scheduled');
    await clock.advance('1s');
    await untilState(id, 'completed');
    const record = (await backend.get(id))!;
    expect(record).toMatchObject({ attempts: 3, result: 'done on 3', attemptHistoryDropped: 0 });
    expect(record.attemptHistory).toEqual([
      {
        attempt: 1,
        workerId: worker.id,
        startedAt: firstStart,
        endedAt: firstStart + 300,
        outcome: 'failed',
        error: expect.objectContaining({ message: 'first', attempt: 1, stack: expect.stringContaining('first') }),
        retryAt: firstStart + 1300,
      },
      {
        attempt: 2,
        workerId: worker.id,
        startedAt: secondStart,
        endedAt: secondStart + 200,
        outcome: 'failed',
        error: expect.objectContaining({ message: 'second', attempt: 2 }),
        retryAt: secondStart + 1200,
      },
    ]);
  });

  test(`a job retried forever keeps its latest ${recordLimits.maxAttemptHistory} attempts and counts the dropped ones`, async ({ clock, backend }) => {
    const { id } = await enqueueOne(await newJob(noop, 1, { maxAttempts: 1000 }));
    const total = recordLimits.maxAttemptHistory + 2;
    for (let attempt = 1; attempt <= total; attempt++) {
      const [claimed] = (await backend.claim(claimBy('w', 1))).jobs;
      const error = { name: 'Error', message: `failure ${attempt}`, at: clock.now(), attempt };
      expect((await backend.settle([{ id, token: claimed!.lease.token, kind: 'retry', error, runAt: clock.now(), countAttempt: true }])).applied).toEqual([true]);
    }
    const record = (await backend.get(id))!;
    expect(record.attemptHistory).toHaveLength(recordLimits.maxAttemptHistory);
    expect(record.attemptHistoryDropped).toBe(2);
    expect(record.attemptHistory[0]).toMatchObject({ attempt: 3, error: { message: 'failure 3' } });
    expect(record.attemptHistory.at(-1)).toMatchObject({ attempt: total, error: { message: `failure ${total}` } });
  });

  test('a handler that throws an odd value is retried and recorded, and the worker goes on', async ({ backend, client }) => {
    const thrown: unknown[] = [null, undefined, 'a string', { circular: null as unknown }];
    (thrown[3] as { circular: unknown }).circular = thrown[3];
    const job = defineJob({
      name: 'odd',
      maxAttempts: 1,
      run: (index: number) => {
        throw thrown[index];
      },
    });
    await startWorker([job]);
    const ids = [];
    for (let i = 0; i < thrown.length; i++) ids.push((await client.enqueue(job, i)).id);
    for (const id of ids) await untilState(id, 'failed');
    const errors = await Promise.all(ids.map(async (id) => (await backend.get(id))!.error!));
    expect(errors.map((error) => error.name)).toEqual(['NonError', 'NonError', 'NonError', 'NonError']);
    expect(errors[2]!.message).toBe('a string');
    // Its contents, not "[object Object]".
    expect(errors[3]!.message).toBe('<ref *1> { circular: [Circular *1] }');
    const after = await client.enqueue(job, 2);
    await untilState(after.id, 'failed');
  });

  test('a job whose workers keep crashing fails with WORKER_CRASHED after maxCrashRetries, and its hook runs once', async ({ clock, backend }) => {
    const hook: unknown[] = [];
    const job = defineJob({ name: 'noop', run: () => 'never', failed: (_p, error) => void hook.push(error) });
    const { id } = await enqueueOne(await newJob(job, null));
    for (let crash = 0; crash < 3; crash++) {
      expect((await backend.claim(claimBy(`crashy-${crash}`, 1))).jobs).toHaveLength(1);
      await clock.advance(1000);
    }
    await startWorker([job], { maxCrashRetries: 2 });
    await untilState(id, 'failed');
    const record = (await backend.get(id))!;
    expect(record).toMatchObject({ crashes: 3, attempts: 0, error: { code: 'WORKER_CRASHED' } });
    // The hook runs once the failure is stored, which a poll of the store may see first.
    await eventually(() => hook.length > 0, 'the failed hook');
    await clock.advance('1s');
    expect(hook).toHaveLength(1);
    expect(isJobsmithError(hook[0], 'WORKER_CRASHED')).toBe(true);
  });
}
