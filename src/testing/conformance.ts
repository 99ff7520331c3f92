// These declarations use Node's types: load them for projects that list no `types`.
/// <reference types="node" preserve="true" />
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Client } from '../client/client.ts';
import { createClient, createWorker } from '../create.ts';
import { prepareJob } from '../execution/prepare-job.ts';
import type { Backend, BackendEvent, ClaimRequest, JobPage, NewJob, Settlement } from '../contract/backend.ts';
import { requireCapability } from '../contract/capabilities.ts';
import type { BackoffOption } from '../domain/backoff.ts';
import type { Clock } from '../domain/clock.ts';
import { type JobDefinition, defineJob } from '../domain/define-job.ts';
import {
  AmbiguousIdError,
  InvalidOptionError,
  JobNotFoundError,
  LeaseLostError,
  PayloadNotJsonError,
  PayloadValidationError,
  PermanentError,
  StoreError,
  UnknownJobError,
  UnknownOptionError,
  WaitTimeoutError,
  isJobsmithError,
} from '../domain/errors.ts';
import type { EnqueueOptions } from '../domain/job-options.ts';
import type { JobContext } from '../domain/job-context.ts';
import type { StandardSchemaV1 } from '../domain/standard-schema.ts';
import type { Worker, WorkerOptions } from '../worker/worker.ts';
import { FakeClock } from './fake-clock.ts';
import { InFlightCalls } from './in-flight-calls.ts';
import { runSchedulerConformance } from './scheduler-conformance.ts';

export interface ConformanceHarness {
  /** A fresh, empty store, not yet opened. */
  backend: Backend;
  /** Called after the test, once the backend is closed: remove files, drop schemas. */
  cleanup?: () => Promise<void> | void;
}

export interface ConformanceOptions {
  /** Names the backend in test titles. */
  name: string;
  /** Builds an isolated backend on the given clock. Called once per test. */
  makeBackend: (clock: Clock) => Promise<ConformanceHarness> | ConformanceHarness;
  /** Tests this backend cannot pass, each with the reason. */
  skip?: ReadonlyArray<{ test: string; reason: string }>;
  /** Jobs in the claim race. @default 300 */
  raceJobs?: number;
}

/**
 * The backend contract's conformance suite, for vitest. Every backend Jobsmith ships
 * runs it; a new backend is done when it passes. Time is a `FakeClock`, so delays,
 * backoff, leases and timeouts run without sleeping.
 * @example
 * runBackendConformance({ name: 'mine', makeBackend: (clock) => ({ backend: new MyBackend({ clock }) }) });
 */
export function runBackendConformance(options: ConformanceOptions): void {
  runSchedulerConformance(options);
  describe(`backend conformance: ${options.name}`, () => {
    let clock: FakeClock;
    let backend: Backend;
    let client: Client;
    let harness: ConformanceHarness;
    let workers: Worker[] = [];

    beforeEach(async () => {
      const calls = new InFlightCalls();
      clock = new FakeClock(Date.UTC(2026, 0, 1, 12), { settle: calls.idle });
      harness = await options.makeBackend(clock);
      backend = calls.wrap(harness.backend);
      await backend.open();
      client = createClient({ backend, clock });
    });

    afterEach(async () => {
      for (const worker of workers) await worker.stop({ timeout: 0 });
      workers = [];
      await client.close();
      await backend.close();
      await harness.cleanup?.();
    });

    const skipped = new Map((options.skip ?? []).map((entry) => [entry.test, entry.reason]));
    const test = (name: string, fn: () => Promise<void>) => (skipped.has(name) ? it.skip(`${name} (skipped: ${skipped.get(name)})`, fn) : it(name, fn, 30_000));

    const startWorker = async (jobs: WorkerOptions['jobs'], extra: Partial<WorkerOptions> = {}) => {
      const worker = createWorker({ backend, clock, jobs, lease: '30s', pollInterval: '1s', pruneInterval: null, ...extra });
      workers.push(worker);
      await worker.start();
      return worker;
    };

    /** Lets the worker loop run (real I/O and microtasks, no clock movement) until `check` passes. */
    // Bounded by real time, not by rounds: a loaded machine (or a slow store) needs more
    // rounds for the same work, and a round count gave up on it too early.
    const eventually = async (check: () => Promise<boolean> | boolean, what: string) => {
      const deadline = Date.now() + 15_000;
      for (let round = 0; ; round++) {
        if (await check()) return;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setImmediate(resolve));
        if (round % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    const stateOf = async (id: string) => (await backend.get(id))?.state;
    const untilState = (id: string, state: string) => eventually(async () => (await stateOf(id)) === state, `job ${id} to be ${state}`);

    const newJob = (definition: JobDefinition, payload: unknown, enqueueOptions: EnqueueOptions = {}): Promise<NewJob> =>
      prepareJob(definition, payload, enqueueOptions, clock.now());

    const noop = defineJob({ name: 'noop', run: () => 'done' });
    const enqueueOne = async (job: NewJob) => (await backend.enqueue([job]))[0]!;
    const claimBy = (workerId: string, limit: number, extra: Partial<ClaimRequest> = {}): ClaimRequest => ({
      workerId,
      leaseMs: 1000,
      queues: ['default'],
      names: ['noop'],
      limit,
      ...extra,
    });

    // ── capabilities ────────────────────────────────────────────────────────

    test('keeps the optional capabilities it declares, and refuses what it lacks with a typed error', async () => {
      expect(backend.capabilities).toBeInstanceOf(Set);
      for (const capability of backend.capabilities) expect(['transactional-enqueue', 'change-events']).toContain(capability);
      const job = await newJob(noop, null);
      if (backend.capabilities.has('change-events')) {
        expect(typeof backend.subscribe).toBe('function');
        const events: BackendEvent[] = [];
        const unsubscribe = backend.subscribe!((event) => events.push(event));
        try {
          await backend.enqueue([job]);
          // Some stores report through their own channel (Redis pub/sub), so the event may come a moment later.
          await eventually(() => events.some((event) => event.type === 'enqueued' || event.type === 'changed'), 'the enqueue to be reported');
        } finally {
          unsubscribe();
        }
      } else {
        await backend.enqueue([job]);
      }
      if (!backend.capabilities.has('transactional-enqueue')) {
        const refused = await backend.enqueue([await newJob(noop, null)], { tx: {} }).catch((error: unknown) => error);
        expect(isJobsmithError(refused)).toBe(true);
        expect(() => requireCapability(backend, 'transactional-enqueue')).toThrow(
          expect.objectContaining({ code: 'UNSUPPORTED_CAPABILITY', details: { backend: backend.kind, capability: 'transactional-enqueue' } }),
        );
      } else {
        expect(() => requireCapability(backend, 'transactional-enqueue')).not.toThrow();
      }
    });

    // ── ordering and timing ────────────────────────────────────────────────

    test('claims by priority, then first in, first out', async () => {
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

    test('a batch claim returns the same order as single claims', async () => {
      const labels = ['low1', 'high', 'low2', 'mid'];
      const priorities = [0, 9, 0, 3];
      await backend.enqueue(await Promise.all(labels.map((label, i) => newJob(noop, label, { priority: priorities[i]! }))));
      const { jobs } = await backend.claim(claimBy('w', 10));
      expect(jobs.map((job) => job.payload)).toEqual(['high', 'mid', 'low1', 'low2']);
    });

    test('delay and runAt hold a job until its time, driven by the clock', async () => {
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

    test('a worker runs a delayed job when its time comes, not before', async () => {
      const ran: number[] = [];
      const job = defineJob({ name: 'delayed', run: () => void ran.push(clock.now()) });
      await startWorker([job]);
      const start = clock.now();
      const { id } = await client.enqueue(job, null, { delay: '1m' });
      await clock.advance('59s');
      expect(ran).toEqual([]);
      await clock.advance('1s');
      await untilState(id, 'completed');
      expect(ran).toEqual([start + 60_000]);
    });

    // ── claiming under contention ──────────────────────────────────────────

    test('no job is claimed twice when hundreds of claims race', async () => {
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

    test('an expired lease is recovered by another worker, counted as a crash, not an attempt', async () => {
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

    test('renewing a lease keeps the job from being recovered', async () => {
      await backend.enqueue([await newJob(noop, 1)]);
      const { jobs } = await backend.claim(claimBy('w1', 1));
      const lease = { id: jobs[0]!.id, token: jobs[0]!.lease.token };
      for (let i = 0; i < 5; i++) {
        await clock.advance(800);
        expect(await backend.renewLeases([lease], 1000)).toEqual([{ id: lease.id, held: true, cancelRequested: false }]);
        expect((await backend.claim(claimBy('w2', 1))).jobs).toHaveLength(0);
      }
    });

    test('a completion racing the takeover of its expired lease ends in exactly one state', async () => {
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

    test('a stale attempt is fenced: its complete, fail, progress, log and renew are rejected', async () => {
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

    // ── outcomes written twice ─────────────────────────────────────────────

    test('an outcome written again with the same lease (its reply was lost) is applied once and reported applied', async () => {
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

    test('a settle whose reply was lost is written again by the worker, and job:completed fires', async () => {
      let loseReply = true;
      // The store commits, then the connection drops before the answer arrives.
      const lossy = new Proxy(backend, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (typeof value !== 'function') return value;
          if (property !== 'settle') return (value as (...a: unknown[]) => unknown).bind(target);
          return async (...args: unknown[]) => {
            const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (!loseReply) return result;
            loseReply = false;
            throw new StoreError('connection lost before the reply', { transient: true });
          };
        },
      });
      const job = defineJob({ name: 'noop', run: () => 'done' });
      const worker = createWorker({ backend: lossy, clock, jobs: [job], pruneInterval: null });
      workers.push(worker);
      const completed: string[] = [];
      const errors: unknown[] = [];
      worker.on('job:completed', ({ job: record }) => completed.push(record.id));
      worker.on('worker:error', ({ error }) => errors.push(error));
      await worker.start();
      const { id } = await client.enqueue(job, null);
      for (let i = 0; i < 10 && completed.length === 0; i++) await clock.advance('1s');
      await eventually(() => completed.length === 1, 'job:completed');
      expect(completed).toEqual([id]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(StoreError);
      expect(await backend.get(id)).toMatchObject({ state: 'completed', attempts: 1, result: 'done' });
      expect((await backend.stats()).completedLastMinute).toBe(1);
    });

    test('a worker whose lease lapsed is fenced: its attempt aborts with LeaseLostError and writes nothing', async () => {
      let signal: AbortSignal | undefined;
      const job = defineJob({
        name: 'slow',
        run: (_: null, ctx: JobContext) =>
          new Promise((resolve) => {
            signal = ctx.signal;
            // Finishes "successfully" after the takeover, like a zombie would.
            ctx.signal.addEventListener('abort', () => resolve('zombie result'));
          }),
      });
      let heartbeatsBlocked = false;
      const stalling = new Proxy(backend, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (property === 'renewLeases' && typeof value === 'function') {
            return (...args: unknown[]) =>
              heartbeatsBlocked ? Promise.reject(new Error('event loop stalled')) : (value as (...a: unknown[]) => unknown).apply(target, args);
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      // Concurrency 1 and no prefetch keep this worker from recovering its own job: the thief must.
      const worker = createWorker({ backend: stalling, clock, jobs: [job], concurrency: 1, prefetch: 0, lease: '3s', heartbeat: '1s', pruneInterval: null });
      workers.push(worker);
      await worker.start();
      const { id } = await client.enqueue(job, null);
      await untilState(id, 'running');
      heartbeatsBlocked = true;
      await clock.advance('3s');
      const thief = await backend.claim({ workerId: 'thief', leaseMs: 60_000, queues: ['default'], names: ['slow'], limit: 1 });
      expect(thief.jobs[0]).toMatchObject({ id, recovered: true, crashes: 1 });
      heartbeatsBlocked = false;
      await clock.advance('1s');
      await eventually(() => signal?.aborted === true, 'the stale attempt to be aborted');
      expect(signal!.reason).toBeInstanceOf(LeaseLostError);
      await clock.advance('1s');
      expect(await backend.get(id)).toMatchObject({ state: 'running', result: null, lease: { workerId: 'thief' } });
    });

    test('a job whose workers keep crashing fails with WORKER_CRASHED after maxCrashRetries, and its hook runs once', async () => {
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

    // ── outcomes: retries, backoff, permanent errors, hooks, timeouts ───────

    const backoffCases: Array<[string, BackoffOption, number[]]> = [
      ['none', 'none', [0, 0, 0]],
      ['fixed', { type: 'fixed', delay: '2s' }, [2000, 2000, 2000]],
      ['linear', { type: 'linear', delay: 1000 }, [1000, 2000, 3000]],
      ['exponential', { type: 'exponential', delay: 1000 }, [1000, 2000, 4000]],
      ['exponential capped by max', { type: 'exponential', delay: 1000, max: 3000 }, [1000, 2000, 3000]],
      ['a function', (attempt: number) => attempt * 7, [7, 14, 21]],
    ];
    for (const [label, backoff, expected] of backoffCases) {
      test(`backoff ${label} waits exactly ${expected.join(', ')} ms`, async () => {
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

    test('a backoff given at enqueue overrides the job definition', async () => {
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

    test('PermanentError fails the job at once, with no retry', async () => {
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

    test('the failed hook runs exactly once, after the last attempt, with the error', async () => {
      const hookCalls: Array<{ payload: unknown; error: unknown; attempt: number }> = [];
      let runs = 0;
      const job = defineJob({
        name: 'hooked',
        maxAttempts: 3,
        backoff: 'none',
        run: () => {
          runs++;
          throw new Error(`boom ${runs}`);
        },
        failed: (payload: unknown, error, ctx) => void hookCalls.push({ payload, error, attempt: ctx.attempt }),
      });
      await startWorker([job]);
      const { id } = await client.enqueue(job, { user: 7 });
      await untilState(id, 'failed');
      await eventually(() => hookCalls.length > 0, 'the hook');
      await clock.advance('10s');
      expect(runs).toBe(3);
      expect(hookCalls).toHaveLength(1);
      expect(hookCalls[0]!.payload).toEqual({ user: 7 });
      expect((hookCalls[0]!.error as Error).message).toBe('boom 3');
      expect(hookCalls[0]!.attempt).toBe(3);
      await eventually(async () => (await backend.get(id))?.failedHook === 'done', 'the hook to be stored as run');
      expect(await backend.get(id)).toMatchObject({ state: 'failed', lease: null });
    });

    // ── the failed hook survives its worker ────────────────────────────────

    test('a failure is stored with its failed hook pending under the lease, which nothing but the hook can end', async () => {
      const { id } = await enqueueOne(await newJob(noop, 1));
      const claimed = (await backend.claim(claimBy('w1', 1))).jobs[0]!;
      const lease = { id, token: claimed.lease.token };
      const failure = { name: 'Error', message: 'boom', at: clock.now(), attempt: 1 };
      // Retention already lapsed, so only the pending hook keeps the job from being pruned.
      expect((await backend.settle([{ kind: 'fail', ...lease, error: failure, countAttempt: true, expiresAt: clock.now(), hookPending: true }])).applied).toEqual([true]);
      expect(await backend.get(id)).toMatchObject({ state: 'failed', attempts: 1, failedHook: 'pending', error: { message: 'boom' }, lease: { token: lease.token, workerId: 'w1' } });
      expect((await backend.stats()).counts).toMatchObject({ failed: 1, running: 0 });
      // The heartbeat keeps the lease while the hook runs, and no one takes it meanwhile.
      await clock.advance(800);
      expect(await backend.renewLeases([lease], 1000)).toEqual([{ id, held: true, cancelRequested: false }]);
      await clock.advance(800);
      expect((await backend.claim(claimBy('w2', 5))).jobs).toEqual([]);
      // Neither an operator nor retention loses a pending hook.
      await expect(client.delete(id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await expect(client.retry(id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      expect(await backend.prune({ finishedBy: clock.now(), expired: true })).toBe(0);
      expect((await client.cancel(id)).outcome).toBe('already-finished');
      expect((await backend.settle([{ kind: 'hook-done', id, token: 'not-the-lease' }])).applied).toEqual([false]);
      expect((await backend.settle([{ kind: 'hook-done', ...lease }])).applied).toEqual([true]);
      const done = await backend.get(id);
      expect(done).toMatchObject({ state: 'failed', attempts: 1, failedHook: 'done', lease: null });
      // Written again (a lost reply), the same hook-done changes nothing.
      expect((await backend.settle([{ kind: 'hook-done', ...lease }])).applied).toEqual([true]);
      expect(await backend.get(id)).toEqual(done);
      expect(await backend.renewLeases([lease], 1000)).toEqual([{ id, held: false, cancelRequested: false }]);
      expect(await client.retry(id)).toMatchObject({ state: 'queued', failedHook: null, lease: null });
      // A failure with no hook to run keeps neither a flag nor a lease.
      const again = (await backend.claim(claimBy('w1', 1))).jobs[0]!;
      await backend.settle([{ kind: 'fail', id, token: again.lease.token, error: failure, countAttempt: true, expiresAt: null, hookPending: false }]);
      expect(await backend.get(id)).toMatchObject({ state: 'failed', failedHook: null, lease: null });
    });

    test('a pending hook whose lease lapsed is taken over, ahead of queued jobs, by a worker that knows the job', async () => {
      const { id } = await enqueueOne(await newJob(noop, 'failed'));
      const dead = (await backend.claim(claimBy('w1', 1))).jobs[0]!;
      const failure = { name: 'Error', message: 'boom', at: clock.now(), attempt: 1 };
      await backend.settle([{ kind: 'fail', id, token: dead.lease.token, error: failure, countAttempt: true, expiresAt: null, hookPending: true }]);
      const queued = await enqueueOne(await newJob(noop, 'queued'));
      await clock.advance(999);
      expect((await backend.claim(claimBy('w2', 1, { names: ['other'] }))).jobs).toEqual([]);
      await clock.advance(1);
      // Only a worker that knows the job, serving its queue, may run its hook.
      expect((await backend.claim(claimBy('w2', 5, { names: ['other'] }))).jobs).toEqual([]);
      expect((await backend.claim(claimBy('w2', 5, { queues: ['elsewhere'] }))).jobs).toEqual([]);
      const taken = (await backend.claim(claimBy('w2', 1))).jobs;
      expect(taken).toHaveLength(1);
      expect(taken[0]).toMatchObject({ id, state: 'failed', failedHook: 'pending', recovered: true, crashes: 1, attempts: 1, lease: { workerId: 'w2' } });
      expect(taken[0]!.lease.token).not.toBe(dead.lease.token);
      expect((await backend.claim(claimBy('w2', 1))).jobs.map((job) => job.id)).toEqual([queued.id]);
      // The dead worker's lease writes nothing more, though the failure it stored is its own.
      expect(await backend.renewLeases([{ id, token: dead.lease.token }], 1000)).toEqual([{ id, held: false, cancelRequested: false }]);
      expect((await backend.settle([{ kind: 'hook-done', id, token: dead.lease.token }])).applied).toEqual([false]);
      expect(await backend.get(id)).toMatchObject({ failedHook: 'pending', lease: { workerId: 'w2' } });
      expect((await backend.settle([{ kind: 'hook-done', id, token: taken[0]!.lease.token }])).applied).toEqual([true]);
      expect(await backend.get(id)).toMatchObject({ state: 'failed', failedHook: 'done', crashes: 1, lease: null });
      await clock.advance('1h');
      expect((await backend.claim(claimBy('w3', 5))).jobs.map((job) => job.id)).not.toContain(id);
    });

    test('a worker runs only the hook of a failed job taken over from a dead worker, with the stored error', async () => {
      let runs = 0;
      const hookCalls: Array<{ payload: unknown; error: unknown; attempt: number }> = [];
      const job = defineJob({
        name: 'noop',
        run: () => ++runs,
        failed: (payload: unknown, error, ctx) => void hookCalls.push({ payload, error, attempt: ctx.attempt }),
      });
      const { id } = await enqueueOne(await newJob(job, { card: 4 }));
      // The dead worker's part: it failed the job, stored the hook as pending, and died.
      const dead = (await backend.claim(claimBy('dead', 1))).jobs[0]!;
      const failure = { name: 'CardError', message: 'card declined', code: 'DECLINED', at: clock.now(), attempt: 1 };
      await backend.settle([{ kind: 'fail', id, token: dead.lease.token, error: failure, countAttempt: true, expiresAt: null, hookPending: true }]);
      await clock.advance(1000);
      const worker = createWorker({ backend, clock, jobs: [job], lease: '30s', pollInterval: '1s', pruneInterval: null });
      workers.push(worker);
      const events: string[] = [];
      for (const name of ['job:started', 'job:completed', 'job:failed', 'job:stalled'] as const) worker.on(name, () => events.push(name));
      await worker.start();
      await eventually(async () => (await backend.get(id))?.failedHook === 'done', 'the hook to be stored as run');
      expect(runs).toBe(0);
      expect(hookCalls).toHaveLength(1);
      expect(hookCalls[0]).toMatchObject({ payload: { card: 4 }, attempt: 1, error: { name: 'CardError', message: 'card declined', code: 'DECLINED' } });
      expect(hookCalls[0]!.error).toBeInstanceOf(Error);
      // job:failed fired once already, where the failure was stored.
      expect(events).toEqual(['job:stalled']);
      expect(await backend.get(id)).toMatchObject({ state: 'failed', attempts: 1, crashes: 1, lease: null });
    });

    test('a worker that stops while a hook runs leaves it pending, and another worker runs it after the lease', async () => {
      const hookCalls: string[] = [];
      const job = defineJob({
        name: 'hooked',
        maxAttempts: 1,
        run: () => {
          throw new PermanentError('no');
        },
        // The first call never ends; its worker gives up on it when it stops.
        failed: (_: null, _error, ctx) => {
          hookCalls.push(ctx.id);
          return hookCalls.length === 1 ? new Promise<void>(() => {}) : undefined;
        },
      });
      const first = await startWorker([job], { lease: '10s', heartbeat: '1s' });
      const { id } = await client.enqueue(job, null);
      await eventually(() => hookCalls.length === 1, 'the hook to start');
      const stopping = first.stop({ timeout: '2s' });
      await clock.advance('2s');
      await stopping;
      expect(await backend.get(id)).toMatchObject({ state: 'failed', failedHook: 'pending', lease: { workerId: first.id } });
      await clock.advance('10s');
      await startWorker([job]);
      await eventually(async () => (await backend.get(id))?.failedHook === 'done', 'the hook to be stored as run');
      expect(hookCalls).toEqual([id, id]);
      expect(await backend.get(id)).toMatchObject({ crashes: 1, lease: null });
    });

    test('job:failed fires once the failure is stored; the hook holds its lease until it has run, and a hook that throws has run', async () => {
      let finishHook: (() => void) | undefined;
      const slowHook = defineJob({
        name: 'slow-hook',
        maxAttempts: 1,
        run: () => {
          throw new PermanentError('no');
        },
        failed: () => new Promise<void>((resolve) => (finishHook = resolve)),
      });
      const throwingHook = defineJob({
        name: 'throwing-hook',
        maxAttempts: 1,
        run: () => {
          throw new PermanentError('no');
        },
        failed: () => {
          throw new Error('hook bug');
        },
      });
      const worker = createWorker({ backend, clock, jobs: [slowHook, throwingHook], lease: '30s', pollInterval: '1s', pruneInterval: null });
      workers.push(worker);
      const failed: string[] = [];
      const errors: Array<{ during: string; error: unknown }> = [];
      worker.on('job:failed', ({ job: record }) => failed.push(record.id));
      worker.on('worker:error', ({ during, error }) => errors.push({ during, error }));
      await worker.start();
      const slow = await client.enqueue(slowHook, null);
      await eventually(() => failed.includes(slow.id) && finishHook !== undefined, 'job:failed and the hook to start');
      expect(await backend.get(slow.id)).toMatchObject({ state: 'failed', failedHook: 'pending', lease: { workerId: worker.id } });
      // Longer than the lease: the heartbeat keeps it, so no claim takes the hook over.
      await clock.advance('1m');
      expect(await backend.get(slow.id)).toMatchObject({ failedHook: 'pending', crashes: 0, lease: { workerId: worker.id } });
      finishHook!();
      await eventually(async () => (await backend.get(slow.id))?.failedHook === 'done', 'the slow hook to be stored as run');
      expect(await backend.get(slow.id)).toMatchObject({ lease: null, crashes: 0 });
      const throwing = await client.enqueue(throwingHook, null);
      await eventually(async () => (await backend.get(throwing.id))?.failedHook === 'done', 'the throwing hook to be stored as run');
      expect(failed).toEqual([slow.id, throwing.id]);
      expect(errors.map(({ during, error }) => [during, (error as Error).message])).toEqual([['failed hook', 'hook bug']]);
    });

    test('timeout aborts the signal and fails the attempt with a retryable TimeoutError', async () => {
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
      // The hook runs at once, on a signal of its own (the attempt's aborted on its timeout).
      await eventually(async () => (await backend.get(id))?.failedHook === 'done', 'the hook to be stored as run');
      expect(hookCalls).toHaveLength(1);
      expect(isJobsmithError(hookCalls[0]!.error, 'TIMEOUT')).toBe(true);
      expect(hookCalls[0]!.aborted).toBe(false);
      expect(await backend.get(id)).toMatchObject({ crashes: 0, lease: null });
    });

    test("a timed-out attempt is retried after the job definition's backoff", async () => {
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

    test('a handler that throws an odd value is retried and recorded, and the worker goes on', async () => {
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

    test('a listener that throws never crashes the worker', async () => {
      const job = defineJob({ name: 'noop', run: () => 1 });
      const worker = await startWorker([job]);
      const reported: string[] = [];
      worker.on('job:completed', () => {
        throw new Error('listener bug');
      });
      worker.on('worker:error', ({ during }) => reported.push(during));
      const a = await client.enqueue(job, null);
      const b = await client.enqueue(job, null);
      await untilState(a.id, 'completed');
      await untilState(b.id, 'completed');
      await eventually(() => reported.filter((during) => during === 'listener of job:completed').length === 2, 'both listener errors');
    });

    test('a worker survives failing backend calls: it reports, backs off and carries on', async () => {
      let failuresLeft = 3;
      const flaky = new Proxy(backend, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if ((property === 'claim' || property === 'settle') && typeof value === 'function') {
            return (...args: unknown[]) => {
              if (failuresLeft > 0) {
                failuresLeft--;
                return Promise.reject(new Error('store unreachable'));
              }
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const job = defineJob({ name: 'noop', run: () => 'ok' });
      const worker = createWorker({ backend: flaky, clock, jobs: [job], pruneInterval: null });
      workers.push(worker);
      const errors: unknown[] = [];
      worker.on('worker:error', ({ error }) => errors.push(error));
      await worker.start();
      const { id } = await client.enqueue(job, null);
      for (let i = 0; i < 10 && (await stateOf(id)) !== 'completed'; i++) await clock.advance('1s');
      await untilState(id, 'completed');
      expect(errors.length).toBe(3);
      expect(worker.health()).toMatchObject({ backendReachable: true, consecutiveFailures: 0 });
    });

    // ── cancel ─────────────────────────────────────────────────────────────

    test('cancelling a waiting job cancels it at once', async () => {
      const { id } = await enqueueOne(await newJob(noop, 1, { delay: '1h' }));
      const result = await client.cancel(id);
      expect(result.outcome).toBe('cancelled');
      expect(await backend.get(id)).toMatchObject({ state: 'cancelled' });
      await clock.advance('2h');
      expect((await backend.claim(claimBy('w', 5))).jobs).toHaveLength(0);
      expect((await client.cancel(id)).outcome).toBe('already-finished');
    });

    test('cancelling a running job aborts its signal and ends it cancelled', async () => {
      let seen: AbortSignal | undefined;
      const job = defineJob({
        name: 'cancellable',
        run: (_: null, ctx) =>
          new Promise((_resolve, reject) => {
            seen = ctx.signal;
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          }),
      });
      const worker = await startWorker([job]);
      const cancelled: string[] = [];
      worker.on('job:cancelled', ({ job: record }) => cancelled.push(record.id));
      const { id } = await client.enqueue(job, null);
      await untilState(id, 'running');
      expect((await client.cancel(id)).outcome).toBe('cancel-requested');
      // Another process learns of it through its heartbeat; this one may hear sooner.
      await clock.advance('5s');
      await untilState(id, 'cancelled');
      expect(seen!.aborted).toBe(true);
      expect(isJobsmithError(seen!.reason, 'CANCELLED')).toBe(true);
      expect(cancelled).toEqual([id]);
    });

    test('a cancel is reported through renewLeases, and a crashed cancelled job is not run again', async () => {
      const { id } = await enqueueOne(await newJob(noop, 1));
      const { jobs } = await backend.claim(claimBy('w1', 1));
      await backend.cancel(id);
      expect(await backend.renewLeases([{ id, token: jobs[0]!.lease.token }], 1000)).toEqual([{ id, held: true, cancelRequested: true }]);
      await clock.advance(1001);
      expect((await backend.claim(claimBy('w2', 1))).jobs).toHaveLength(0);
      expect(await backend.get(id)).toMatchObject({ state: 'cancelled' });
    });

    // ── keys ───────────────────────────────────────────────────────────────

    test('a key returns the existing job while it waits or runs, and frees when it ends', async () => {
      const first = await client.enqueue(noop, 1, { key: 'user-7' });
      const again = await client.enqueue(noop, 2, { key: 'user-7' });
      expect(first.created).toBe(true);
      expect(again).toEqual({ id: first.id, created: false });
      const other = defineJob({ name: 'other', run: () => null });
      expect((await client.enqueue(other, 1, { key: 'user-7' })).created).toBe(true);
      const batch = await client.enqueueMany([
        { job: noop, payload: 3, options: { key: 'k2' } },
        { job: noop, payload: 4, options: { key: 'k2' } },
      ]);
      expect(batch[1]).toEqual({ id: batch[0]!.id, created: false });
      const { jobs } = await backend.claim(claimBy('w', 1));
      expect(jobs[0]!.id).toBe(first.id);
      expect((await client.enqueue(noop, 5, { key: 'user-7' })).id).toBe(first.id);
      await backend.settle([{ kind: 'complete', id: first.id, token: jobs[0]!.lease.token, result: null, expiresAt: null }]);
      const after = await client.enqueue(noop, 6, { key: 'user-7' });
      expect(after.created).toBe(true);
      expect(after.id).not.toBe(first.id);
    });

    // ── pause and resume ───────────────────────────────────────────────────

    test('a paused queue is not claimed from until it is resumed', async () => {
      await backend.enqueue([await newJob(noop, 1), await newJob(noop, 2, { queue: 'other' })]);
      await client.pause('default');
      expect((await backend.claim(claimBy('w', 5, { queues: ['default', 'other'] }))).jobs.map((job) => job.payload)).toEqual([2]);
      const stats = await client.stats();
      expect(stats.queues.find((queue) => queue.queue === 'default')?.paused).toBe(true);
      await client.resume('default');
      expect((await backend.claim(claimBy('w', 5))).jobs.map((job) => job.payload)).toEqual([1]);
    });

    // ── progress, logs, results ────────────────────────────────────────────

    test('progress with its history, logs and the result are stored with the job', async () => {
      const job = defineJob({
        name: 'reporter',
        run: async (_: null, ctx) => {
          await ctx.progress(10, 'fetching');
          await ctx.log('fetched', { rows: 3 });
          await ctx.progress(100, 'done');
          for (let i = 0; i < 210; i++) await ctx.log(`line ${i}`);
          return { rows: 3 };
        },
      });
      const worker = await startWorker([job]);
      const progress: number[] = [];
      worker.on('job:progress', ({ progress: p }) => progress.push(p.percent));
      const { id } = await client.enqueue(job, null);
      await untilState(id, 'completed');
      const record = (await backend.get(id))!;
      expect(record.result).toEqual({ rows: 3 });
      expect(record.progress).toMatchObject({ percent: 100, message: 'done' });
      expect(record.progressHistory.map((p) => [p.percent, p.message])).toEqual([
        [10, 'fetching'],
        [100, 'done'],
      ]);
      expect(record.logs).toHaveLength(200);
      expect(record.logs.at(-1)).toMatchObject({ message: 'line 209', attempt: 1 });
      expect(progress).toEqual([10, 100]);
      const early = (await client.get(id)).logs;
      expect(early[0]!.message).toBe('line 10');
    });

    test('an invalid progress value is rejected inside the handler', async () => {
      const job = defineJob({ name: 'bad-progress', maxAttempts: 1, run: async (_: null, ctx) => ctx.progress(150) });
      await startWorker([job]);
      const { id } = await client.enqueue(job, null);
      await untilState(id, 'failed');
      expect((await backend.get(id))!.error).toMatchObject({ code: 'INVALID_OPTION' });
    });

    // ── lookup, listing, stats, pruning ────────────────────────────────────

    test('get finds a job by a unique id prefix; an ambiguous prefix lists the matches', async () => {
      // In two states, so a store that indexes jobs by state must look in each.
      const [a, b] = await backend.enqueue([await newJob(noop, 1, { delay: '1h' }), await newJob(noop, 2)]);
      let common = 0;
      while (a!.id[common] === b!.id[common]) common++;
      await expect(client.get(a!.id.slice(0, common))).rejects.toSatisfy(
        (error: unknown) => error instanceof AmbiguousIdError && error.matches.includes(a!.id) && error.matches.includes(b!.id),
      );
      expect((await client.get(a!.id.slice(0, common + 1))).id).toBe(a!.id);
      expect((await client.get(b!.id.toUpperCase())).id).toBe(b!.id);
      await expect(client.get('ffffffff')).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(client.get('not an id')).rejects.toBeInstanceOf(InvalidOptionError);
    });

    test('an id prefix that matches more jobs than are listed says "more than 10", not how many it fetched', async () => {
      // Enqueued in the same millisecond: their ids share the time part (the first 12 hex digits).
      const stored = await backend.enqueue(await Promise.all(Array.from({ length: 14 }, (_, n) => newJob(noop, n))));
      const prefix = stored[0]!.id.slice(0, 8);
      expect(stored.every((job) => job.id.startsWith(prefix))).toBe(true);
      const error = await client.get(prefix).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AmbiguousIdError);
      expect(error).toMatchObject({ more: true });
      expect((error as AmbiguousIdError).matches).toHaveLength(10);
      expect((error as Error).message).toMatch(new RegExp(`^Id prefix "${prefix}" matches more than 10 jobs: `));
      // Exactly ten are counted, not "more than".
      for (const job of stored.slice(10)) await backend.delete(job.id);
      await expect(client.get(prefix)).rejects.toThrow(`Id prefix "${prefix}" matches 10 jobs: `);
    });

    test('list filters by state, queue and name, and pages without gaps or repeats', async () => {
      const other = defineJob({ name: 'other', run: () => null });
      const items = [];
      for (let i = 0; i < 25; i++) items.push(await newJob(i % 2 ? noop : other, i, { queue: i % 3 ? 'default' : 'q2', delay: i < 5 ? '1h' : 0 }));
      await backend.enqueue(items);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await client.list({ limit: 10, cursor });
        seen.push(...page.jobs.map((job) => job.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null);
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(25);
      expect(seen).toEqual([...seen].sort().reverse());
      const all: string[] = [];
      for await (const job of client.jobs({ queue: 'q2' })) all.push(job.id);
      expect(all).toHaveLength(items.filter((job) => job.queue === 'q2').length);
      expect((await client.list({ name: 'other', limit: 100 })).jobs).toHaveLength(13);
      expect((await client.list({ state: 'scheduled', limit: 100 })).jobs).toHaveLength(5);
      expect((await client.list({ state: ['scheduled', 'queued'], limit: 100 })).jobs).toHaveLength(25);
      expect((await client.list({ state: 'queued', queue: 'q2', name: 'other', limit: 100 })).jobs.every((job) => job.queue === 'q2' && job.name === 'other')).toBe(true);
    });

    test('running jobs are listed, paged and found by id prefix like jobs in any other state', async () => {
      const release: Array<() => void> = [];
      const blocking = defineJob({ name: 'blocking', run: () => new Promise<void>((resolve) => release.push(resolve)) });
      const ids: string[] = [];
      for (let n = 0; n < 6; n++) ids.push((await client.enqueue(blocking, null)).id);
      await startWorker([blocking], { concurrency: 3, prefetch: 0 });
      await eventually(() => release.length === 3, 'three jobs to start');
      const running = (await client.list({ state: 'running', limit: 100 })).jobs.map((job) => job.id);
      expect(running).toHaveLength(3);
      expect(running).toEqual([...running].sort().reverse());
      for (const id of running) expect(ids).toContain(id);
      // Paged one at a time across the running and queued jobs: every job once, newest first.
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: JobPage = await client.list({ state: ['running', 'queued'], limit: 1, cursor });
        seen.push(...page.jobs.map((job) => job.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual([...ids].sort().reverse());
      expect((await client.list({ limit: 100 })).jobs.map((job) => job.id)).toEqual([...ids].sort().reverse());
      for (const id of running) expect((await client.get(id.slice(0, 30))).id).toBe(id);
      for (const done of release) done();
    });

    test('stats count jobs per state and queue, and finished jobs per minute and hour', async () => {
      const flaky = defineJob({ name: 'noop', run: (n: number) => { if (n < 0) throw new PermanentError('negative'); return n; } });
      await startWorker([flaky], { queues: ['default', 'q2'] });
      const ok = await client.enqueue(flaky, 1);
      const bad = await client.enqueue(flaky, -1);
      await client.enqueue(flaky, 2, { delay: '1d' });
      await client.enqueue(flaky, 3, { queue: 'q2', delay: '1d' });
      await untilState(ok.id, 'completed');
      await untilState(bad.id, 'failed');
      const stats = await client.stats();
      expect(stats.counts).toMatchObject({ completed: 1, failed: 1, scheduled: 2, running: 0 });
      expect(stats.completedLastMinute).toBe(1);
      expect(stats.failedLastMinute).toBe(1);
      expect(stats.lastProcessedAt).toBe(clock.now());
      const q2 = stats.queues.find((queue) => queue.queue === 'q2')!;
      expect(q2.counts.scheduled).toBe(1);
      await clock.advance('2m');
      const later = await client.stats();
      expect(later).toMatchObject({ completedLastMinute: 0, failedLastMinute: 0, completedLastHour: 1, failedLastHour: 1 });
      await clock.advance('59m');
      // Retention removes rows, never the counters; the hour window does.
      const hourLater = await client.stats();
      expect(hourLater).toMatchObject({ completedLastHour: 0, failedLastHour: 0 });
      expect(hourLater.counts.completed).toBe(1);
    });

    test('prune removes finished jobs older than asked, and jobs whose retention lapsed', async () => {
      const [done, kept, waiting, shortLived, forever] = await backend.enqueue([
        await newJob(noop, 1),
        await newJob(noop, 2),
        await newJob(noop, 3, { delay: '1d' }),
        await newJob(noop, 4, { keepCompleted: '10s' }),
        await newJob(noop, 5, { keepCompleted: null }),
      ]);
      const complete = async (ids: string[]) => {
        const { jobs } = await backend.claim(claimBy('w', ids.length));
        const byId = new Map(jobs.map((job) => [job.id, job]));
        await backend.settle(
          ids.map((id) => ({ kind: 'complete' as const, id, token: byId.get(id)!.lease.token, result: null, expiresAt: byId.get(id)!.keepCompletedMs === null ? null : clock.now() + byId.get(id)!.keepCompletedMs! })),
        );
      };
      await complete([done!.id, kept!.id, shortLived!.id, forever!.id].sort());
      await clock.advance('11s');
      expect(await backend.prune({ expired: true })).toBe(1);
      expect(await backend.get(shortLived!.id)).toBeNull();
      expect(await client.prune({ olderThan: '1h' })).toBe(0);
      await clock.advance('2h');
      expect(await client.prune({ olderThan: '1h', states: ['failed'] })).toBe(0);
      expect(await client.prune({ olderThan: '1h' })).toBe(3);
      expect(await backend.get(waiting!.id)).toMatchObject({ state: 'scheduled' });
      expect(await backend.get(forever!.id)).toBeNull();
      await expect(client.prune({ olderThan: '1h', states: ['running'] })).rejects.toBeInstanceOf(InvalidOptionError);
    });

    test('retry puts a failed job back with fresh attempts; delete removes it', async () => {
      const job = defineJob({ name: 'fails', maxAttempts: 1, run: () => { throw new Error('x'); } });
      await startWorker([job]);
      const { id } = await client.enqueue(job, null);
      await untilState(id, 'failed');
      // Paused, so the retried job waits: retrying a job that is not failed or cancelled is refused.
      await client.pause('default');
      expect(await client.retry(id)).toMatchObject({ state: 'queued', attempts: 0, crashes: 0, finishedAt: null });
      await expect(client.retry(id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await client.resume('default');
      await untilState(id, 'failed');
      expect((await backend.get(id))!.attempts).toBe(1);
      expect(await client.delete(id)).toBe(true);
      expect(await backend.get(id)).toBeNull();
      await expect(client.delete(id)).rejects.toBeInstanceOf(JobNotFoundError);
    });

    test('failed jobs can be listed and flushed, leaving the rest', async () => {
      const job = defineJob({ name: 'fails', maxAttempts: 1, run: (n: number) => { if (n > 0) throw new Error('x'); return n; } });
      await startWorker([job]);
      const failed = [await client.enqueue(job, 1), await client.enqueue(job, 2)];
      const ok = await client.enqueue(job, 0);
      for (const { id } of failed) await untilState(id, 'failed');
      await untilState(ok.id, 'completed');
      expect((await client.list({ state: 'failed' })).jobs.map((record) => record.id).sort()).toEqual(failed.map(({ id }) => id).sort());
      expect(await client.prune({ olderThan: 0, states: ['failed'] })).toBe(2);
      expect((await client.list({ state: 'failed' })).jobs).toHaveLength(0);
      expect(await stateOf(ok.id)).toBe('completed');
    });

    test('a running job cannot be deleted', async () => {
      const { id } = await enqueueOne(await newJob(noop, 1));
      await backend.claim(claimBy('w', 1));
      await expect(client.delete(id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    });

    // ── enqueue: atomicity and bad input ───────────────────────────────────

    test('enqueueMany is all or nothing', async () => {
      const strict = defineJob({ name: 'strict', schema: positiveNumber, run: (n) => n });
      await expect(
        client.enqueueMany([
          { job: strict, payload: 1 },
          { job: strict, payload: 2 },
          { job: strict, payload: -3 },
        ]),
      ).rejects.toBeInstanceOf(PayloadValidationError);
      expect((await client.list()).jobs).toHaveLength(0);
      // The store itself rolls back a batch that fails half-way.
      const a = await newJob(noop, 1);
      const b = await newJob(noop, 2);
      await expect(backend.enqueue([a, b, { ...a }])).rejects.toThrow();
      expect(await backend.get(a.id)).toBeNull();
      expect(await backend.get(b.id)).toBeNull();
      const results = await client.enqueueMany([
        { job: strict, payload: 1 },
        { job: 'strict', payload: 2 },
      ]);
      expect(results.every((result) => result.created)).toBe(true);
      expect((await client.list()).jobs).toHaveLength(2);
      // A batch naming a job already stored is refused whole, too.
      const stored = await newJob(noop, 3);
      await backend.enqueue([stored]);
      const fresh = await newJob(noop, 4);
      await expect(backend.enqueue([fresh, { ...stored }])).rejects.toThrow();
      expect(await backend.get(fresh.id)).toBeNull();
    });

    test('payloads, metadata and results keep every character through the store and the worker', async () => {
      const text = 'héllo – 日本語 🎉 "quoted" \\ back\\slash / slash \u0001 control \t tab, and an empty string next';
      const payload = { text, empty: '', list: [null, true, 1.5e300, -0], nested: { '': 'empty key' } };
      let seen: unknown;
      const echo = defineJob({ name: 'echo', run: (input: typeof payload) => { seen = input; return { echoed: input.text }; } });
      await startWorker([echo]);
      const { id } = await client.enqueue(echo, payload, { metadata: { tag: 'ü/∑' } });
      const record = await client.waitFor(id);
      expect(seen).toEqual(JSON.parse(JSON.stringify(payload)));
      expect(record).toMatchObject({ state: 'completed', result: { echoed: text }, metadata: { tag: 'ü/∑' } });
    });

    test('text no store can keep (NUL, a lone surrogate) is refused alike everywhere, naming the path, and nothing is written', async () => {
      const refused: Array<[unknown, string]> = [
        [{ note: 'a\u0000b' }, 'note'],
        [{ list: ['ok', 'x\ud800'] }, 'list[1]'],
        [{ nested: { '\udc00': 1 } }, 'nested.\\udc00'],
        [{ 'k\u0000': 'v' }, 'k\\u0000'],
      ];
      for (const [payload, path] of refused) {
        await expect(client.enqueue(noop, payload)).rejects.toSatisfy(
          (error: unknown) => error instanceof PayloadNotJsonError && error.field === 'payload' && error.path === path,
        );
      }
      await expect(client.enqueue(noop, 1, { metadata: { tag: '\u0000' } })).rejects.toSatisfy(
        (error: unknown) => error instanceof PayloadNotJsonError && error.field === 'metadata' && error.path === 'tag',
      );
      await expect(client.enqueue(noop, 1, { key: 'order-\u0000' })).rejects.toSatisfy(
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'key',
      );
      expect((await backend.list({})).jobs).toHaveLength(0);
    });

    test('a result no store can keep fails its job for good, naming the path; what the worker stores itself is cleaned; the others go on', async () => {
      const logError: unknown[] = [];
      const echo = defineJob({
        name: 'echo',
        run: async (kind: string, ctx) => {
          if (kind === 'bad-result') return { rows: [{ text: 'a\u0000b' }] };
          if (kind === 'noisy') {
            await ctx.progress(50, 'half\u0000way \ud800');
            await ctx.log('line\u0000 \udc00', { ok: true });
            await ctx.log('fields', { bad: '\u0000' }).catch((error: unknown) => logError.push(error));
            throw Object.assign(new Error('boom\u0000 \ud83d'), { name: 'Odd\u0000Error' });
          }
          return kind;
        },
      });
      const failed: unknown[] = [];
      const worker = await startWorker([echo], { concurrency: 6 });
      worker.on('job:failed', ({ error }) => failed.push(error));
      const kinds = ['ok-1', 'bad-result', 'ok-2', 'noisy', 'ok-3'];
      const ids: string[] = [];
      for (const kind of kinds) ids.push((await client.enqueue(echo, kind, { maxAttempts: kind === 'noisy' ? 1 : 3 })).id);
      for (const [index, id] of ids.entries()) await untilState(id, kinds[index]!.startsWith('ok') ? 'completed' : 'failed');
      const bad = (await backend.get(ids[1]!))!;
      expect(bad).toMatchObject({ attempts: 1, result: null, error: { code: 'PAYLOAD_NOT_JSON' } });
      expect(bad.error!.message).toBe('result cannot be stored as JSON: rows[0].text contains a NUL character (\\u0000), which PostgreSQL cannot store.');
      expect(failed.some((error) => error instanceof PayloadNotJsonError && error.path === 'rows[0].text')).toBe(true);
      const noisy = (await backend.get(ids[3]!))!;
      expect(noisy.error).toMatchObject({ name: 'Odd\ufffdError', message: 'boom\ufffd \ufffd' });
      expect(noisy.progress).toMatchObject({ percent: 50, message: 'half\ufffdway \ufffd' });
      expect(noisy.logs.map((entry) => entry.message)).toEqual(['line\ufffd \ufffd']);
      expect(logError).toHaveLength(1);
      expect(logError[0]).toMatchObject({ code: 'PAYLOAD_NOT_JSON', field: 'log fields', path: 'bad' });
    });

    test('an outcome the store refuses for good is set apart: the rest of its batch is written, and that job alone fails', async () => {
      let poisoned = '';
      let refusals = 0;
      // Refuses, for good, any batch that carries one job's completion, as a store refuses a
      // value it cannot keep: the whole batch fails, and would fail again unchanged.
      const refusing = new Proxy(backend, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (property === 'settle') {
            return (settlements: readonly Settlement[], next?: ClaimRequest) => {
              if (settlements.some((settlement) => settlement.id === poisoned && settlement.kind === 'complete')) {
                refusals++;
                return Promise.reject(new StoreError('the store refuses this value', { transient: false }));
              }
              return target.settle(settlements, next);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const release: Array<() => void> = [];
      const held = defineJob({ name: 'held', run: (n: number) => new Promise<number>((resolve) => release.push(() => resolve(n))) });
      const ids: string[] = [];
      for (let n = 0; n < 6; n++) ids.push((await client.enqueue(held, n)).id);
      poisoned = ids[2]!;
      const worker = createWorker({ backend: refusing, clock, jobs: [held], concurrency: 6, prefetch: 0, pruneInterval: null });
      workers.push(worker);
      const failed: unknown[] = [];
      const reported: unknown[] = [];
      worker.on('job:failed', ({ job, error }) => failed.push([job.id, error]));
      worker.on('worker:error', ({ error }) => reported.push(error));
      await worker.start();
      await eventually(() => release.length === 6, 'all six to start');
      // All finish in one tick, so their outcomes go in one batch.
      for (const done of release) done();
      for (const [n, id] of ids.entries()) await untilState(id, n === 2 ? 'failed' : 'completed');
      expect((await backend.get(poisoned))!.error).toMatchObject({ code: 'STORE_ERROR', message: 'the store refuses this value' });
      expect(failed).toEqual([[poisoned, expect.objectContaining({ code: 'STORE_ERROR' })]]);
      expect(refusals).toBe(2);
      expect(reported.length).toBeGreaterThan(0);
    });

    test('a store that refuses every write for a while keeps the outcomes and writes them when it accepts again', async () => {
      let refusing = true;
      const flaky = new Proxy(backend, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (property === 'settle') {
            return (settlements: readonly Settlement[], next?: ClaimRequest) =>
              refusing ? Promise.reject(new StoreError('permission denied', { transient: false })) : target.settle(settlements, next);
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const job = defineJob({ name: 'noop', run: (n: number) => n });
      const ids: string[] = [];
      for (let n = 0; n < 3; n++) ids.push((await client.enqueue(job, n)).id);
      const worker = createWorker({ backend: flaky, clock, jobs: [job], concurrency: 3, prefetch: 0, pruneInterval: null });
      workers.push(worker);
      const errors: unknown[] = [];
      worker.on('worker:error', ({ error }) => errors.push(error));
      await worker.start();
      await eventually(() => errors.length >= 1, 'a refused write');
      // Each round of backoff, the worker tries again, and is refused again.
      for (let i = 0; i < 20 && errors.length < 4; i++) await clock.advance('1s');
      expect(errors.length).toBeGreaterThanOrEqual(4);
      // Not one job failed for it: the store, not an outcome, was at fault.
      expect((await Promise.all(ids.map((id) => stateOf(id)))).every((state) => state === 'running')).toBe(true);
      refusing = false;
      for (let i = 0; i < 10 && (await stateOf(ids[2]!)) !== 'completed'; i++) await clock.advance('1s');
      for (const id of ids) await untilState(id, 'completed');
    });

    test('a worker claims ahead by default only where the store works apart from it', async () => {
      const release: Array<() => void> = [];
      const blocking = defineJob({ name: 'blocking', run: () => new Promise<void>((resolve) => release.push(resolve)) });
      const ids: string[] = [];
      for (let n = 0; n < 3; n++) ids.push((await client.enqueue(blocking, null)).id);
      await startWorker([blocking], { concurrency: 1 });
      await eventually(() => release.length === 1, 'the first job to start');
      // Prefetch defaults to the concurrency (1 here), or to 0 on an in-process store.
      const expectedRunning = backend.inProcess ? 1 : 2;
      await eventually(async () => (await Promise.all(ids.map((id) => stateOf(id)))).filter((state) => state === 'running').length === expectedRunning, `${expectedRunning} running`);
      const states = await Promise.all(ids.map((id) => stateOf(id)));
      expect(states.filter((state) => state === 'running')).toHaveLength(expectedRunning);
      expect(release).toHaveLength(1);
      for (const done of release) done();
    });

    test('bad input is rejected at enqueue with a typed error naming the problem, and nothing is written', async () => {
      const strict = defineJob({ name: 'strict', schema: positiveNumber, run: (n) => n });
      client = createClient({ backend, clock, jobs: [strict] });
      await expect(client.enqueue('no-such-job', {})).rejects.toSatisfy(
        (error: unknown) => error instanceof UnknownJobError && error.jobName === 'no-such-job' && error.message.includes('strict'),
      );
      await expect(client.enqueue(strict, -1)).rejects.toSatisfy(
        (error: unknown) => error instanceof PayloadValidationError && error.payload === -1 && error.message.includes('positive'),
      );
      class Money {
        cents = 1;
      }
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      const notJson: Array<[unknown, string]> = [
        [{ callback: () => 1 }, 'callback'],
        [{ amount: new Money() }, 'amount'],
        [{ id: 10n }, 'id'],
        [{ nested: { cycle } }, 'nested.cycle.self'],
        [{ when: new Date() }, 'when'],
        [{ list: [1, Number.NaN] }, 'list[1]'],
      ];
      for (const [payload, path] of notJson) {
        await expect(client.enqueue(noop, payload)).rejects.toSatisfy((error: unknown) => error instanceof PayloadNotJsonError && error.path === path);
      }
      await expect(client.enqueue(noop, 1, { delay: -5 })).rejects.toSatisfy(
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'delay' && error.value === -5,
      );
      await expect(client.enqueue(noop, 1, { maxAttempts: 0 })).rejects.toSatisfy(
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'maxAttempts' && error.value === 0,
      );
      await expect(client.enqueue(noop, 1, { priority: 1.5 })).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(client.enqueue(noop, 1, { queue: 'has space' })).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(client.enqueue(noop, 1, { delay: '5 parsecs' as never })).rejects.toBeInstanceOf(InvalidOptionError);
      // Beyond any time a store keeps as a valid Date; and NaN is named NaN, not null.
      await expect(client.enqueue(noop, 1, { delay: 1e300 })).rejects.toThrow('Invalid delay: 1e+300. Expected a duration of at most 1000 years.');
      await expect(client.enqueue(noop, 1, { delay: Number.NaN })).rejects.toThrow('Invalid delay: NaN.');
      await expect(client.enqueue(noop, 1, { runAt: Date.UTC(10000, 0, 1) })).rejects.toSatisfy(
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'runAt' && error.message.includes('before the year 10000'),
      );
      await expect(client.enqueue(noop, 1, { runAt: new Date(Number.NaN) })).rejects.toThrow('Invalid runAt: Invalid Date.');
      await expect(client.enqueue(noop, 1, { timout: '1s' } as EnqueueOptions)).rejects.toSatisfy(
        (error: unknown) => error instanceof UnknownOptionError && error.suggestion === 'timeout',
      );
      expect((await backend.list({})).jobs).toHaveLength(0);
      expect((await backend.stats()).counts).toMatchObject({ queued: 0, scheduled: 0 });
    });

    // ── running inline, waiting, shutting down ─────────────────────────────

    test('job.now runs in this process and is recorded like any other run', async () => {
      const job = defineJob({ name: 'inline', run: async (n: number, ctx) => { await ctx.progress(50); return n * 2; } });
      const bound = client.job(job);
      const run = await bound.now(21);
      expect(run.data).toBe(42);
      expect(run.metadata).toMatchObject({ name: 'inline', status: 'completed', attempts: 1, error: null });
      expect(run.metadata.completedAt!.getTime()).toBe(clock.now());
      expect(run.metadata.durationMs).toBe(0);
      const record = await client.get(run.metadata.id);
      expect(record).toMatchObject({ state: 'completed', result: 42, progress: { percent: 50 } });
      const failing = defineJob({ name: 'inline-fail', maxAttempts: 1, run: () => { throw new Error('nope'); } });
      const failed = await client.job(failing).now(null);
      expect(failed.data).toBeUndefined();
      expect(failed.metadata).toMatchObject({ status: 'failed', error: { message: 'nope' } });
      const id = await bound.later(1);
      expect(await stateOf(id)).toBe('queued');
    });

    test('job.batch runs with bounded concurrency and answers in input order', async () => {
      let running = 0;
      let peak = 0;
      const job = defineJob({
        name: 'batched',
        maxAttempts: 1,
        run: async (n: number) => {
          running++;
          peak = Math.max(peak, running);
          // Long enough, in real time, for the other lane to start even over a network store.
          await new Promise((resolve) => setTimeout(resolve, 25));
          running--;
          if (n === 3) throw new Error('three');
          return n * 10;
        },
      });
      const outcomes = await client.job(job).batch([1, 2, 3, 4, 5, 6], { concurrency: 2 });
      expect(outcomes.map((outcome) => outcome.data)).toEqual([10, 20, undefined, 40, 50, 60]);
      expect(outcomes[2]!.metadata?.status).toBe('failed');
      expect(peak).toBe(2);
      const stopped = await client.job(job).batch([3, 1, 2, 4], { concurrency: 1, stopOnError: true });
      expect(stopped.map((outcome) => outcome.skipped)).toEqual([false, true, true, true]);
    });

    test('waitFor resolves when the job ends, and times out on the clock', async () => {
      const job = defineJob({ name: 'noop', run: () => 'waited' });
      const pending = await client.enqueue(job, null, { delay: '1h' });
      const timedOut = client.waitFor(pending.id, { timeout: '5s' });
      const assertion = expect(timedOut).rejects.toBeInstanceOf(WaitTimeoutError);
      await clock.advance('5s');
      await assertion;
      await startWorker([job]);
      const { id } = await client.enqueue(job, null);
      const record = await client.waitFor(id);
      expect(record).toMatchObject({ state: 'completed', result: 'waited' });
    });

    test('stop waits for running jobs, then releases the rest without spending an attempt', async () => {
      const started = new Set<string>();
      const quick = defineJob({
        name: 'quick',
        run: (_: null, ctx) =>
          new Promise((resolve) => {
            started.add(ctx.id);
            const cancel = clock.setTimer(1000, () => resolve('quick'));
            ctx.signal.addEventListener('abort', cancel);
          }),
      });
      const stuck = defineJob({ name: 'stuck', run: (_: null, ctx) => new Promise(() => started.add(ctx.id)) });
      const worker = await startWorker([quick, stuck], { concurrency: 5 });
      const a = await client.enqueue(quick, null);
      const b = await client.enqueue(stuck, null);
      // Started, not only claimed: a claimed job the worker has not started yet goes back on stop.
      await eventually(() => started.has(a.id) && started.has(b.id), 'both handlers to start');
      const stopping = worker.stop({ timeout: '5s' });
      const late = await client.enqueue(quick, null);
      await clock.advance('1s');
      await untilState(a.id, 'completed');
      expect(await stateOf(b.id)).toBe('running');
      await clock.advance('4s');
      await stopping;
      expect(await backend.get(b.id)).toMatchObject({ state: 'queued', attempts: 0, lease: null });
      expect(await stateOf(late.id)).toBe('queued');
    });

    test('prefetched jobs start as slots free, go back unstarted when held too long, and go back on stop', async () => {
      const started: number[] = [];
      const finishers = new Map<number, () => void>();
      const job = defineJob({
        name: 'held',
        run: (n: number) =>
          new Promise<number>((resolve) => {
            started.push(n);
            finishers.set(n, () => resolve(n));
          }),
      });
      const ids: string[] = [];
      for (const n of [1, 2, 3, 4]) ids.push((await client.enqueue(job, n)).id);
      const worker = await startWorker([job], { concurrency: 1, prefetch: 2 });
      await eventually(() => started.length === 1, 'the first job to start');
      // One runs and two are held under this worker's lease, unstarted; the fourth stays queued.
      const records = await Promise.all(ids.map((id) => backend.get(id)));
      expect(records.map((record) => record?.state)).toEqual(['running', 'running', 'running', 'queued']);
      expect(records.slice(1, 3).every((record) => record?.lease?.workerId === worker.id)).toBe(true);
      // A freed slot starts a held job at once, in claim order.
      finishers.get(1)!();
      await eventually(() => started.length === 2, 'a held job to start');
      expect(started).toEqual([1, 2]);
      await untilState(ids[0]!, 'completed');
      // Held past 500 ms while the slot stays busy: back to the queue, no attempt spent, no crash counted.
      await clock.advance('600ms');
      await eventually(async () => (await stateOf(ids[2]!)) === 'queued', 'the held job to go back');
      expect(await backend.get(ids[2]!)).toMatchObject({ state: 'queued', attempts: 0, crashes: 0, lease: null });
      expect(started).toEqual([1, 2]);
      // A stop gives back whatever is held and waits for the running one.
      finishers.get(2)!();
      await eventually(() => started.length === 3, 'the next job to start');
      const stopping = worker.stop({ timeout: '5s' });
      finishers.get(started[2]!)!();
      await stopping;
      const after = await Promise.all(ids.map((id) => stateOf(id)));
      expect(after.filter((state) => state === 'completed')).toHaveLength(3);
      expect(after.filter((state) => state === 'queued')).toHaveLength(1);
      expect(started).toHaveLength(3);
    });

    test('a worker at concurrency 1 with its default prefetch starts jobs by priority, then first in, first out', async () => {
      const started: Array<{ index: number; priority: number }> = [];
      const job = defineJob({
        name: 'ordered',
        run: (payload: { index: number; priority: number }) => void started.push(payload),
      });
      const priorities = [0, 5, -5, 10, 1];
      const count = 300;
      const items = Array.from({ length: count }, (_, index) => {
        const priority = priorities[index % priorities.length]!;
        return { job, payload: { index, priority }, options: { priority } };
      });
      // Several batches, so the backlog is as a busy app leaves it, not one transaction's.
      for (let from = 0; from < count; from += 50) await client.enqueueMany(items.slice(from, from + 50));
      await startWorker([job], { concurrency: 1 });
      await eventually(async () => (await backend.stats()).counts.completed === count, 'every job to complete');
      const expected = [...started].sort((a, b) => b.priority - a.priority || a.index - b.index);
      expect(started.map((entry) => entry.index)).toEqual(expected.map((entry) => entry.index));
    });

    test('a held job given back keeps its place in line', async () => {
      const started: number[] = [];
      let finishFirst: (() => void) | undefined;
      const job = defineJob({
        name: 'in-line',
        run: (n: number) =>
          new Promise<void>((resolve) => {
            started.push(n);
            if (n === 0) finishFirst = resolve;
            else resolve();
          }),
      });
      const ids: string[] = [];
      for (const n of [0, 1, 2, 3]) {
        ids.push((await client.enqueue(job, n)).id);
        await clock.advance('10ms');
      }
      await startWorker([job], { concurrency: 1, prefetch: 1 });
      await eventually(() => started.length === 1, 'the first job to start');
      await untilState(ids[1]!, 'running');
      // Held past 500 ms while job 0 runs: job 1 goes back, ahead of 2 and 3, queued after it.
      await clock.advance('600ms');
      await untilState(ids[1]!, 'queued');
      finishFirst!();
      await eventually(async () => (await backend.stats()).counts.completed === 4, 'every job to complete');
      expect(started).toEqual([0, 1, 2, 3]);
    });

    test('a prefetched job cancelled while held is cancelled without running', async () => {
      let runs = 0;
      let finishFirst: (() => void) | undefined;
      const job = defineJob({
        name: 'held',
        run: () =>
          new Promise<void>((resolve) => {
            runs++;
            finishFirst ??= resolve;
          }),
      });
      const first = await client.enqueue(job, null);
      const second = await client.enqueue(job, null);
      const worker = await startWorker([job], { concurrency: 1, prefetch: 1 });
      const startedIds: string[] = [];
      worker.on('job:started', ({ job: started }) => startedIds.push(started.id));
      await untilState(first.id, 'running');
      await untilState(second.id, 'running');
      expect(await client.cancel(second.id)).toMatchObject({ outcome: 'cancel-requested' });
      // The heartbeat (or the store's event) tells the worker; the held job never runs its handler.
      await clock.advance('5s');
      finishFirst!();
      await untilState(second.id, 'cancelled');
      await untilState(first.id, 'completed');
      expect(runs).toBe(1);
      // No job:started for the job that never started.
      expect(startedIds).not.toContain(second.id);
    });
  });
}

/** A minimal Standard Schema, so the suite needs no validator package. */
const positiveNumber: StandardSchemaV1<number, number> = {
  '~standard': {
    version: 1,
    vendor: 'jobsmith-test',
    validate: (value) =>
      typeof value === 'number' && value > 0 ? { value } : { issues: [{ message: 'expected a positive number', path: [] }] },
  },
};
