// These declarations use Node's types: load them for projects that list no `types`.
/// <reference types="node" preserve="true" />
import { afterEach, beforeEach, describe, it } from 'vitest';
import type { Client } from '../../client/client.ts';
import { createClient, createWorker } from '../../create.ts';
import { prepareJob } from '../../execution/prepare-job.ts';
import type { Backend, ClaimRequest, EnqueueResult, NewJob } from '../../contract/backend.ts';
import type { Clock } from '../../domain/clock.ts';
import { type JobDefinition, defineJob } from '../../domain/define-job.ts';
import type { EnqueueOptions } from '../../domain/job-options.ts';
import type { Scheduler } from '../../scheduler/scheduler.ts';
import type { Worker, WorkerOptions } from '../../worker/worker.ts';
import { FakeClock } from '../fake-clock.ts';
import { InFlightCalls } from '../in-flight-calls.ts';
import { adminTests } from './admin.ts';
import { capabilityTests } from './capabilities.ts';
import { durableStepTests } from './durable-steps.ts';
import { enqueueTests } from './enqueue.ts';
import { failedHookTests } from './failed-hooks.ts';
import { liveWorkerTests } from './live-workers.ts';
import { followUpTests } from './follow-ups.ts';
import { flowTests } from './flows.ts';
import { queueTests } from './queue.ts';
import { scheduleTests } from './schedules.ts';
import { workerFaultTests } from './worker-faults.ts';
import { workerPrefetchTests } from './worker-prefetch.ts';
import { workerRetryTests } from './worker-retries.ts';
import { workerTests } from './worker.ts';

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
  describe(`scheduler conformance: ${options.name}`, () => {
    scheduleTests(conformanceSuite(options, 60_000));
  });
  describe(`backend conformance: ${options.name}`, () => {
    const suite = conformanceSuite(options, 30_000);
    capabilityTests(suite);
    queueTests(suite);
    enqueueTests(suite);
    adminTests(suite);
    workerTests(suite);
    workerRetryTests(suite);
    failedHookTests(suite);
    workerFaultTests(suite);
    workerPrefetchTests(suite);
    liveWorkerTests(suite);
    durableStepTests(suite);
    followUpTests(suite);
    flowTests(suite);
  });
}

/** What one test runs against: made fresh before it, closed after it. */
export interface ConformanceContext {
  clock: FakeClock;
  /** The harness's backend, opened. */
  backend: Backend;
  client: Client;
  /** Workers the test made itself; each is stopped after the test. */
  workers: Worker[];
  /** Schedulers the test made; each is stopped after the test. */
  schedulers: Scheduler[];
  /** Ends the test as skipped, with the reason (vitest's `context.skip`). */
  skip: (reason: string) => never;
}

/**
 * The harness every file of the suite gets: `test` registers a test (or skips it by name,
 * as `options.skip` asks) and hands it the context made for it; the helpers act on the
 * running test's context.
 */
export interface ConformanceSuite {
  options: ConformanceOptions;
  test: (name: string, fn: (context: ConformanceContext) => Promise<void>, timeout?: number) => void;
  /** The running test's context, for helpers defined outside a test. */
  current: () => ConformanceContext;
  /** Starts a worker on the test's backend and clock (30 s lease, 1 s poll, no pruning), stopped after the test. */
  startWorker: (jobs: WorkerOptions['jobs'], extra?: Partial<WorkerOptions>) => Promise<Worker>;
  /** Lets the worker loop run (real I/O and microtasks, no clock movement) until `check` passes. */
  eventually: (check: () => Promise<boolean> | boolean, what: string) => Promise<void>;
  stateOf: (id: string) => Promise<string | undefined>;
  untilState: (id: string, state: string) => Promise<void>;
  newJob: (definition: JobDefinition, payload: unknown, enqueueOptions?: EnqueueOptions) => Promise<NewJob>;
  /** A job named `noop` that returns 'done'. */
  noop: JobDefinition<unknown, unknown, string>;
  enqueueOne: (job: NewJob) => Promise<EnqueueResult>;
  /** A claim of `noop` jobs on the default queue with a 1 s lease. */
  claimBy: (workerId: string, limit: number, extra?: Partial<ClaimRequest>) => ClaimRequest;
}

/** Registers the suite's hooks in the enclosing `describe`, and builds the harness its files share. */
function conformanceSuite(options: ConformanceOptions, testTimeout: number): ConformanceSuite {
  let context: ConformanceContext | undefined;
  let harness: ConformanceHarness;

  beforeEach(async (vitest) => {
    const calls = new InFlightCalls();
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12), { settle: calls.idle });
    harness = await options.makeBackend(clock);
    const backend = calls.wrap(harness.backend);
    await backend.open();
    const client = createClient({ backend, clock });
    context = { clock, backend, client, workers: [], schedulers: [], skip: (reason) => vitest.skip(reason) };
  });

  afterEach(async () => {
    const { workers, schedulers, client, backend } = context!;
    context = undefined;
    for (const worker of workers) await worker.stop({ timeout: 0 });
    for (const scheduler of schedulers) await scheduler.stop();
    await client.close();
    await backend.close();
    await harness.cleanup?.();
  });

  const current = () => {
    if (!context) throw new Error('The conformance context exists only while a test runs.');
    return context;
  };

  const skipped = new Map((options.skip ?? []).map((entry) => [entry.test, entry.reason]));
  const test = (name: string, fn: (context: ConformanceContext) => Promise<void>, timeout = testTimeout) =>
    skipped.has(name) ? it.skip(`${name} (skipped: ${skipped.get(name)})`, () => fn(current())) : it(name, () => fn(current()), timeout);

  const startWorker = async (jobs: WorkerOptions['jobs'], extra: Partial<WorkerOptions> = {}) => {
    const { backend, clock, workers } = current();
    const worker = createWorker({ backend, clock, jobs, lease: '30s', pollInterval: '1s', pruneInterval: null, ...extra });
    workers.push(worker);
    await worker.start();
    return worker;
  };

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

  const stateOf = async (id: string) => (await current().backend.get(id))?.state;
  const untilState = (id: string, state: string) => eventually(async () => (await stateOf(id)) === state, `job ${id} to be ${state}`);

  const newJob = (definition: JobDefinition, payload: unknown, enqueueOptions: EnqueueOptions = {}): Promise<NewJob> =>
    prepareJob(definition, payload, enqueueOptions, current().clock.now());

  const noop = defineJob({ name: 'noop', run: () => 'done' });
  const enqueueOne = async (job: NewJob) => (await current().backend.enqueue([job]))[0]!;
  const claimBy = (workerId: string, limit: number, extra: Partial<ClaimRequest> = {}): ClaimRequest => ({
    workerId,
    leaseMs: 1000,
    queues: ['default'],
    names: ['noop'],
    limit,
    ...extra,
  });

  return { options, test, current, startWorker, eventually, stateOf, untilState, newJob, noop, enqueueOne, claimBy };
}
