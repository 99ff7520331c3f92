import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type {
  Backend,
  BackendStats,
  CancelResult,
  EnqueueResult,
  JobPage,
  ListFilter,
  LiveWorker,
  NewJob,
  Settlement,
} from '../contract/backend.ts';
import { requireCapability } from '../contract/capabilities.ts';
import { type Clock, sleep, systemClock } from '../domain/clock.ts';
import { type AnyJob, type JobDefinition, type JobInput, type JobResult, toJobDefinition } from '../domain/define-job.ts';
import { type Duration, toMs } from '../domain/duration.ts';
import {
  AmbiguousIdError,
  ClosedError,
  InvalidOptionError,
  isJobsmithError,
  JobNotFoundError,
  StoreError,
  WaitTimeoutError,
} from '../domain/errors.ts';
import { type EnqueueOptions, enqueueOptionNames } from '../domain/job-options.ts';
import { assertKnownOptions } from '../domain/known-options.ts';
import type { JobRecord } from '../domain/job-record.ts';
import { type JobState, isTerminal, terminalStates } from '../domain/job-state.ts';
import { type Logger, silentLogger } from '../domain/logger.ts';
import type { RunMetadata } from '../execution/job-events.ts';
import { JobRegistry } from '../execution/job-registry.ts';
import { AttemptDeadlines } from '../execution/attempt-deadlines.ts';
import { LeaseKeeper } from '../execution/lease-keeper.ts';
import { holdProcessOpen } from '../execution/process-hold.ts';
import { type BackendResolver, instancesOnly, LazyBackend } from '../contract/backend-resolver.ts';
import { runAttempt } from '../execution/run-attempt.ts';
import { BoundJob } from './bound-job.ts';
import { JobTemplates, optionsOrNone, prepareJob, prepareSchemalessJob } from '../execution/prepare-job.ts';
import { toRunMetadata } from './run-metadata.ts';
import { type WaitExplanation, waitReasons } from './wait-reasons.ts';
import type { FlowChild, FlowProgress } from '../contract/flow-store.ts';
import { type BatchCallbacks, type FlowStep, type PlannedNode, batchNodes, chainNodes, graphNodes, planFlow } from './flow-plan.ts';

export interface ClientOptions {
  /** A backend, or a connection string. @default 'sqlite:./jobsmith.db' */
  backend?: Backend | string;
  /** Jobs that can be enqueued by name. A definition passed to `enqueue` is added on first use. */
  jobs?: readonly AnyJob[];
  clock?: Clock;
  logger?: Logger;
  /** Lease for jobs run inline by `job.now()`. @default '30s' */
  lease?: Duration;
  /**
   * How many times `enqueue` and `enqueueMany` send a call again after a transient
   * `StoreError` (the connection dropped, the server restarted, the SQLite file stayed
   * locked), after 100 ms, 400 ms, 1.6 s and so on. The same jobs go again with the same ids,
   * so a call that was written though its reply was lost is recognised and answered as
   * created, never stored twice. Not for a call in your own transaction (`tx`). 0 turns it off.
   * @default 3
   */
  enqueueRetries?: number;
}

/** Per-call options of `enqueue` and `enqueueMany` that are not stored with the job. */
export interface EnqueueCall {
  /**
   * Your own open transaction (PostgreSQL: the pg client you ran BEGIN on). The jobs are
   * written in it and exist only if it commits.
   */
  tx?: unknown;
}

/** One item of `enqueueMany`. */
export interface EnqueueItem {
  job: AnyJob | string;
  payload: unknown;
  options?: EnqueueOptions;
}

/** `client.flow`'s answer: the flow's id, and each node's job id by its name. */
export interface FlowCreated<TName extends string = string> {
  flowId: string;
  ids: Record<TName, string>;
}

/** `client.chain`'s answer: the flow's id, and the jobs' ids in chain order. */
export interface ChainCreated {
  flowId: string;
  ids: string[];
}

/** `client.batch`'s answer: the batch's id (its flow's), the items' ids in order, and each callback's. */
export interface BatchCreated {
  batchId: string;
  ids: string[];
  callbacks: { onComplete?: string; onSuccess?: string; onFailure?: string };
}

/**
 * `client.batchProgress`: the batch's items (its callbacks apart): how many, how many have
 * finished (`done`), and of those how many completed, failed for good or were cancelled.
 */
export interface BatchProgress {
  total: number;
  done: number;
  completed: number;
  failed: number;
  cancelled: number;
}

/** `job.now()`'s answer: the handler's result when it completed, and the run's record. */
export interface JobRun<R> {
  data: R | undefined;
  metadata: RunMetadata;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Give up with `WaitTimeoutError` after this long. @default no limit */
  timeout?: Duration;
  /** How often to look when the backend cannot tell us. @default '250ms' */
  pollInterval?: Duration;
}

export interface PruneOptions {
  /** Remove jobs that finished longer ago than this. */
  olderThan: Duration;
  /** @default ['completed', 'failed', 'cancelled'] */
  states?: readonly JobState[];
}

const clientOptionNames = Object.keys({ backend: true, jobs: true, clock: true, logger: true, lease: true, enqueueRetries: true } satisfies Record<keyof ClientOptions, true>);
const enqueueCallOptionNames = [...enqueueOptionNames, 'tx'];
const enqueueItemKeys = ['job', 'payload', 'options'] satisfies Array<keyof EnqueueItem>;
/** Jobs an ambiguous id prefix lists in its error. */
const maxListedMatches = 10;

/**
 * The producer's side, and the operator's: enqueue, run inline, look up, list,
 * cancel, retry, delete, pause, prune and wait. Opens its backend on first use.
 */
export class Client implements AsyncDisposable {
  readonly clock: Clock;
  private readonly registry: JobRegistry;
  private readonly logger: Logger;
  private readonly leaseMs: number;
  private readonly enqueueRetries: number;
  private readonly lazy: LazyBackend;
  private closed = false;
  private keeper: LeaseKeeper | null = null;
  /** The timeouts of the jobs run here (`job.now()`), made at the first. */
  private deadlines: AttemptDeadlines | null = null;
  private readonly inlineId = `${hostname()}:${process.pid}:inline:${randomBytes(3).toString('hex')}`;
  private readonly noShutdown = new AbortController().signal;

  /** `resolveBackend` opens what `options.backend` names; `createClient()` gives one that opens connection strings. */
  constructor(options: ClientOptions = {}, resolveBackend: BackendResolver = instancesOnly) {
    assertKnownOptions(options, clientOptionNames, 'createClient options');
    this.clock = options.clock ?? systemClock;
    this.registry = new JobRegistry(options.jobs ?? []);
    this.logger = options.logger ?? silentLogger;
    this.leaseMs = toMs(options.lease ?? '30s', 'lease');
    const retries = options.enqueueRetries ?? 3;
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new InvalidOptionError('enqueueRetries', retries, 'an integer from 0 to 10');
    this.enqueueRetries = retries;
    this.lazy = new LazyBackend(options.backend, this.clock, resolveBackend);
  }

  /** The backend, opened. */
  backend(): Promise<Backend> {
    if (this.closed) return Promise.reject(new ClosedError('The client'));
    return this.lazy.get();
  }

  /** The fluent handle for a job: `now`, `later` and `batch`. */
  job<J extends AnyJob>(job: J): BoundJob<JobInput<J>, JobResult<J>> {
    return new BoundJob(this, this.registry.add(job) as JobDefinition<JobInput<J>, unknown, JobResult<J>>);
  }

  /**
   * Adds a job, given by definition (its payload typed) or by registered name. Resolves with
   * its id, and `created: false` when its `key` matched an active job.
   */
  // One signature, not an overload per kind of job: with overloads, a misspelled option made
  // TypeScript report the last overload's mismatch ("… is not assignable to 'string'")
  // instead of the option.
  async enqueue<J extends AnyJob | string>(
    job: J,
    payload: J extends AnyJob ? JobInput<J> : unknown,
    options: EnqueueOptions & EnqueueCall = {},
  ): Promise<EnqueueResult> {
    assertKnownOptions(options, enqueueCallOptionNames, 'the enqueue options');
    // The options go on as they are unless `tx` is among them: a copy without it costs a lone enqueue.
    let jobOptions: EnqueueOptions = options;
    const call: EnqueueCall = {};
    if ('tx' in options) {
      const { tx, ...rest } = options;
      jobOptions = rest;
      if (tx !== undefined) call.tx = tx;
    }
    // Straight to the one job's preparation, not through enqueueMany: a lone awaited enqueue
    // counts its allocations and hops (bench/where-the-time-goes.md, issue #21).
    const backend = this.openedBackend() ?? (await this.backend());
    const prepared = this.prepare(this.definitionOf(job), payload, jobOptions, backend.now());
    const [result] = await this.sendEnqueue(backend, [prepared instanceof Promise ? await prepared : prepared], call);
    return result!;
  }

  /** Adds many jobs in one transaction: all are added, or none (any invalid item rejects the whole call). */
  async enqueueMany(items: readonly EnqueueItem[], call: EnqueueCall = {}): Promise<EnqueueResult[]> {
    if (!Array.isArray(items)) throw new InvalidOptionError('items', items, 'an array');
    assertKnownOptions(call, ['tx'], 'the enqueueMany options');
    const backend = this.openedBackend() ?? (await this.backend());
    const now = backend.now();
    const templates = new JobTemplates();
    const prepared = [];
    for (let index = 0; index < items.length; index++) {
      const item = items[index]!;
      const definition = this.definitionOf(item.job);
      try {
        assertKnownOptions(item, enqueueItemKeys, 'an enqueueMany item');
        const options = optionsOrNone(item.options);
        const job = this.prepare(definition, item.payload, options, now, templates);
        prepared.push(job instanceof Promise ? await job : job);
      } catch (error) {
        if (items.length > 1 && error instanceof Error && 'details' in error) (error as { details: Record<string, unknown> }).details.index = index;
        throw error;
      }
    }
    return this.sendEnqueue(backend, prepared, call);
  }

  /**
   * The backend, once open, taken as it is: awaiting it would be a microtask hop, and a lone
   * awaited enqueue counts them (bench/where-the-time-goes.md, issue #21). Null until then.
   */
  private openedBackend(): Backend | null {
    return this.closed ? null : this.lazy.opened;
  }

  /**
   * One job checked and made a row: without a schema synchronously, else once its validation
   * resolves. Callers await only a promise: an await of a row would be a hop per job.
   */
  private prepare(definition: JobDefinition, payload: unknown, options: EnqueueOptions, now: number, templates?: JobTemplates): NewJob | Promise<NewJob> {
    return definition.schema ? prepareJob(definition, payload, options, now, templates) : prepareSchemalessJob(definition, payload, options, now, templates);
  }

  /**
   * `backend.enqueue`, sent again after a transient failure (`enqueueRetries`). Safe because
   * the jobs keep their ids: a store apart whose call was written though its reply was lost
   * answers the same jobs sent again as created (PostgreSQL and Redis), and a SQLite or
   * in-memory call that failed wrote nothing.
   */
  private async sendEnqueue(backend: Backend, jobs: NewJob[], call: EnqueueCall): Promise<EnqueueResult[]> {
    for (let retry = 0; ; retry++) {
      try {
        return await backend.enqueue(jobs, retry === 0 ? call : { ...call, resent: true });
      } catch (error) {
        if (!(error instanceof StoreError) || !error.transient || call.tx !== undefined || retry >= this.enqueueRetries || this.closed) throw error;
        const delayMs = 100 * 4 ** retry;
        this.logger.warn({ err: error, retry: retry + 1, of: this.enqueueRetries, delayMs }, 'enqueue failed with a transient store error; sending it again');
        // The clock's timers do not hold the process open, so a script whose only work is
        // this enqueue would exit while it waits to send it again.
        const release = holdProcessOpen();
        try {
          await sleep(this.clock, delayMs);
        } finally {
          release();
        }
      }
    }
  }

  /**
   * Creates a flow in one atomic write: jobs named by the keys of `nodes`, each waiting for the
   * children its step lists (by name; a child may have several parents). A parent runs once its
   * children have finished and reads them with `ctx.children()`; a child that fails for good
   * fails its parent unless the dependency says otherwise (`onChildFailure`). A cycle, an
   * unknown child, too many jobs or an option a flow job cannot take is refused with
   * `InvalidFlowError` naming it, and nothing is written. Needs capability `flows`.
   * @example
   * const { ids } = await client.flow({
   *   a: step(fetchPage, { url: 'https://a' }),
   *   b: step(fetchPage, { url: 'https://b' }),
   *   merge: step(mergePages, null, { children: ['a', { child: 'b', onChildFailure: 'ignore' }] }),
   * });
   */
  async flow<const N extends Record<string, FlowStep>>(nodes: N, call: EnqueueCall = {}): Promise<FlowCreated<Extract<keyof N, string>>> {
    const { flowId, ids } = await this.createFlow(() => graphNodes(nodes), call);
    return { flowId, ids: Object.fromEntries(ids) as Record<Extract<keyof N, string>, string> };
  }

  /**
   * Runs jobs one after another, created in one atomic write: each waits for the one before
   * and reads its result with `ctx.children()`. When one fails for good (or is cancelled), the
   * rest are cancelled, their error naming the job that did not complete. Needs capability `flows`.
   */
  async chain(steps: readonly FlowStep[], call: EnqueueCall = {}): Promise<ChainCreated> {
    const { flowId, ids } = await this.createFlow(() => chainNodes(steps), call);
    return { flowId, ids: steps.map((_, index) => ids.get(`step ${index}`)!) };
  }

  /**
   * Enqueues many jobs as one batch, with callback jobs that each run once when all of them
   * have finished: `onComplete` always, `onSuccess` if every item completed, `onFailure` if one
   * did not. A callback reads the outcome with `ctx.childrenSummary()` (counts and failed ids).
   * `batchProgress(batchId)` tells how far it is. Needs capability `flows`.
   */
  async batch(items: readonly FlowStep[], callbacks: BatchCallbacks = {}, call: EnqueueCall = {}): Promise<BatchCreated> {
    const { flowId, ids } = await this.createFlow(() => batchNodes(items, callbacks), call);
    const created: BatchCreated = { batchId: flowId, ids: items.map((_, index) => ids.get(`item ${index}`)!), callbacks: {} };
    for (const name of ['onComplete', 'onSuccess', 'onFailure'] as const) if (ids.has(name)) created.callbacks[name] = ids.get(name)!;
    return created;
  }

  /** How many jobs of a flow are in each state; null when none of it exists (any more). Needs capability `flows`. */
  async flowProgress(flowId: string): Promise<FlowProgress | null> {
    const backend = await this.backend();
    requireCapability(backend, 'flows');
    return backend.flowProgress!(flowId);
  }

  /** How far a batch is: items done of total (see `BatchProgress`); null when none of it exists. Needs capability `flows`. */
  async batchProgress(batchId: string): Promise<BatchProgress | null> {
    const progress = await this.flowProgress(batchId);
    if (!progress) return null;
    const { total, finished, completed, failed, cancelled } = progress.leaves;
    return { total, done: finished, completed, failed, cancelled };
  }

  /**
   * The jobs `idOrPrefix` waits for in its flow (its children), in the order they were given,
   * each with its state, result, error and failure policy; empty for a job without children.
   * A child deleted or pruned after it finished is listed with `state: null`. Needs capability `flows`.
   */
  async children(idOrPrefix: string): Promise<FlowChild[]> {
    const job = await this.get(idOrPrefix);
    const backend = await this.backend();
    requireCapability(backend, 'flows');
    if (job.flow === undefined || job.flow.children === 0) return [];
    return backend.listChildren!(job.id);
  }

  private async createFlow(nodesOf: () => PlannedNode[], call: EnqueueCall): Promise<{ flowId: string; ids: Map<string, string> }> {
    assertKnownOptions(call, ['tx'], 'the flow options');
    const backend = await this.backend();
    requireCapability(backend, 'flows');
    const { flow, ids } = await planFlow(nodesOf(), backend.now(), (job) => this.definitionOf(job));
    await backend.enqueueFlow!(flow, call);
    return { flowId: flow.flowId, ids };
  }

  /**
   * Runs a job in this process at once, recorded like any other run. Resolves with the
   * result and the run's metadata; a failed attempt does not reject (see `metadata.status`
   * and `metadata.error`): one that may be retried is left `scheduled` for a worker.
   */
  async runNow<I, R>(definition: JobDefinition<I, unknown, R>, payload: I, options: EnqueueOptions = {}): Promise<JobRun<R>> {
    // A job running here holds the process open until its outcome is written, as a worker does.
    const releaseProcess = holdProcessOpen();
    try {
      return await this.runHere(definition, payload, options);
    } finally {
      releaseProcess();
    }
  }

  private async runHere<I, R>(definition: JobDefinition<I, unknown, R>, payload: I, options: EnqueueOptions): Promise<JobRun<R>> {
    const backend = await this.backend();
    const prepared = await prepareJob(definition as JobDefinition, payload, options, backend.now());
    const started = await backend.enqueueRunning(prepared, { workerId: this.inlineId, leaseMs: this.leaseMs });
    if (!started.created) {
      // The key is held by an active job: wait for that one instead of running twice.
      const record = await this.waitFor(started.id);
      return { data: record.state === 'completed' ? (record.result as R) : undefined, metadata: toRunMetadata(record) };
    }
    const keeper = this.leaseKeeper(backend);
    const end = await runAttempt(
      {
        backend,
        clock: this.clock,
        keeper,
        deadlines: (this.deadlines ??= new AttemptDeadlines(this.clock)),
        maxCrashRetries: Number.POSITIVE_INFINITY,
        settle: async (settlement: Settlement) => (await backend.settle([settlement])).applied[0] ?? false,
        shutdown: this.noShutdown,
        onProgress: () => {},
        onHookError: (error, job) => this.logger.error({ err: error, jobId: job.id }, 'failed hook threw'),
      },
      definition as JobDefinition,
      started.job,
    );
    if (end.kind === 'failed') await end.failedHook;
    const record = await backend.get(started.job.id);
    if (!record) throw new JobNotFoundError(started.job.id);
    return { data: record.state === 'completed' ? (record.result as R) : undefined, metadata: toRunMetadata(record) };
  }

  /** A job by full id, or by a unique prefix of one. An ambiguous prefix throws `AmbiguousIdError` listing the matches. */
  async get(idOrPrefix: string): Promise<JobRecord> {
    if (typeof idOrPrefix !== 'string' || !/^[0-9a-f-]{1,36}$/i.test(idOrPrefix)) {
      throw new InvalidOptionError('id', idOrPrefix, 'a job id or a prefix of one (hex digits and dashes)');
    }
    const backend = await this.backend();
    const id = idOrPrefix.toLowerCase();
    if (id.length === 36) {
      const job = await backend.get(id);
      if (!job) throw new JobNotFoundError(id);
      return job;
    }
    // One more than are listed, to tell "exactly 10" from "more than 10".
    const matches = await backend.findByIdPrefix(id, maxListedMatches + 1);
    if (matches.length === 0) throw new JobNotFoundError(id);
    if (matches.length > 1) throw new AmbiguousIdError(id, matches.map((job) => job.id), maxListedMatches);
    const [job] = matches as [JobRecord];
    // As `get(id)` has them: a listing leaves steps out.
    if (backend.capabilities.has('durable-steps')) job.steps = await backend.listSteps!(job.id);
    return job;
  }

  /** One page of jobs, newest first. */
  async list(filter: ListFilter = {}): Promise<JobPage> {
    return (await this.backend()).list(filter);
  }

  /** Every job matching `filter`, newest first, fetched a page at a time. */
  async *jobs(filter: Omit<ListFilter, 'cursor'> = {}): AsyncGenerator<JobRecord> {
    let cursor: string | null = null;
    do {
      const page: JobPage = await this.list({ ...filter, cursor });
      yield* page.jobs;
      cursor = page.nextCursor;
    } while (cursor !== null);
  }

  /** Cancels a waiting job at once; a running one is told through its signal. */
  async cancel(idOrPrefix: string): Promise<CancelResult> {
    const job = await this.get(idOrPrefix);
    return (await this.backend()).cancel(job.id);
  }

  /** Puts a failed or cancelled job back in its queue with a fresh set of attempts. */
  async retry(idOrPrefix: string): Promise<JobRecord> {
    const job = await this.get(idOrPrefix);
    return (await this.backend()).retry(job.id);
  }

  /**
   * Retries every failed job, or those of one queue or name, a page at a time. A job that
   * cannot be retried now (it left `failed` meanwhile, or its key is held by an active job)
   * is skipped and counted.
   */
  async retryFailed(filter: { queue?: string; name?: string } = {}): Promise<{ retried: number; skipped: number }> {
    const backend = await this.backend();
    let retried = 0;
    let skipped = 0;
    for await (const job of this.jobs({ ...filter, state: 'failed', limit: 500 })) {
      try {
        await backend.retry(job.id);
        retried++;
      } catch (error) {
        if (!isJobsmithError(error, 'INVALID_STATE')) throw error;
        skipped++;
      }
    }
    return { retried, skipped };
  }

  /** Removes a job that is not running. */
  async delete(idOrPrefix: string): Promise<boolean> {
    const job = await this.get(idOrPrefix);
    return (await this.backend()).delete(job.id);
  }

  async stats(): Promise<BackendStats> {
    return (await this.backend()).stats();
  }

  /**
   * The live workers: those registered in the store whose registration has not lapsed,
   * ordered by id. Throws `CapabilityUnsupportedError` on a backend without `live-workers`.
   */
  async workers(): Promise<LiveWorker[]> {
    const backend = await this.backend();
    requireCapability(backend, 'live-workers');
    return backend.listWorkers!();
  }

  /**
   * Why a job is not running yet (a delay, a paused queue, jobs ahead of it, no live worker
   * for its queue or name), or, for a running or finished one, what it is doing: the job by
   * id or unique prefix, the store's now, and the reasons in order (see `WaitReason`).
   */
  async explainWait(idOrPrefix: string): Promise<WaitExplanation> {
    const job = await this.get(idOrPrefix);
    const backend = await this.backend();
    let stats: Promise<BackendStats> | null = null;
    let workers: Promise<LiveWorker[] | null> | null = null;
    const now = backend.now();
    const reasons = await waitReasons({
      job,
      now,
      stats: () => (stats ??= backend.stats()),
      workers: () => (workers ??= backend.capabilities.has('live-workers') ? backend.listWorkers!() : Promise.resolve(null)),
      waitingJobs: (queue) => this.jobs({ state: ['queued', 'scheduled'], queue, limit: 1000 }),
    });
    return { job, now, reasons };
  }

  /** Workers stop claiming from `queue`; running jobs go on. */
  async pause(queue: string): Promise<void> {
    await (await this.backend()).pause(queue);
  }

  async resume(queue: string): Promise<void> {
    await (await this.backend()).resume(queue);
  }

  /** Removes finished jobs older than `olderThan` (`0` flushes them all). Resolves with how many. */
  async prune(options: PruneOptions): Promise<number> {
    assertKnownOptions(options, ['olderThan', 'states'] satisfies Array<keyof PruneOptions>, 'the prune options');
    const backend = await this.backend();
    const olderThan = toMs(options.olderThan, 'olderThan');
    const states = options.states ?? terminalStates;
    for (const state of states) {
      if (!isTerminal(state)) throw new InvalidOptionError('states', state, 'only completed, failed or cancelled');
    }
    return backend.prune({ states, finishedBy: backend.now() - olderThan });
  }

  /** Resolves with the job once it is completed, failed or cancelled. */
  async waitFor(idOrPrefix: string, options: WaitOptions = {}): Promise<JobRecord> {
    assertKnownOptions(options, ['signal', 'timeout', 'pollInterval'] satisfies Array<keyof WaitOptions>, 'the waitFor options');
    // A pending wait holds the process open: a script that awaits a job run elsewhere must not exit first.
    const releaseProcess = holdProcessOpen();
    try {
      return await this.waitUntilFinished(idOrPrefix, options);
    } finally {
      releaseProcess();
    }
  }

  private async waitUntilFinished(idOrPrefix: string, options: WaitOptions): Promise<JobRecord> {
    const backend = await this.backend();
    const { id } = await this.get(idOrPrefix);
    const pollMs = toMs(options.pollInterval ?? '250ms', 'pollInterval');
    const timeoutMs = options.timeout === undefined ? null : toMs(options.timeout, 'timeout');
    const deadline = timeoutMs === null ? null : this.clock.now() + timeoutMs;
    for (;;) {
      options.signal?.throwIfAborted();
      // Listen before reading: a job that ends between the read and the wait must still wake us.
      const change = this.changeWatch(backend, id);
      try {
        const job = await backend.get(id);
        if (!job) throw new JobNotFoundError(id);
        if (isTerminal(job.state)) return job;
        if (deadline !== null && this.clock.now() >= deadline) throw new WaitTimeoutError(id, timeoutMs!);
        await change.wait(deadline === null ? pollMs : Math.min(pollMs, deadline - this.clock.now()), options.signal);
      } finally {
        change.stop();
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.keeper?.stop();
    await this.lazy.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private definitionOf(job: AnyJob | string): JobDefinition {
    return typeof job === 'string' ? this.registry.get(job) : this.registry.add(job);
  }

  private leaseKeeper(backend: Backend): LeaseKeeper {
    if (!this.keeper) {
      this.keeper = new LeaseKeeper({
        backend,
        clock: this.clock,
        leaseMs: this.leaseMs,
        heartbeatMs: Math.min(5000, Math.floor(this.leaseMs / 6)),
        onError: (error) => this.logger.error({ err: error }, 'heartbeat of an inline job failed'),
      });
      this.keeper.start();
    }
    return this.keeper;
  }

  /**
   * Starts listening for a `settled` event of `id` (or any `changed`) at once; `wait`
   * resolves when one came, or after `ms`, or rejects when the signal aborts.
   */
  private changeWatch(backend: Backend, id: string): { wait: (ms: number, signal: AbortSignal | undefined) => Promise<void>; stop: () => void } {
    let changed = false;
    let wake: (() => void) | null = null;
    const unsubscribe = backend.subscribe?.((event) => {
      if ((event.type === 'settled' && event.id === id) || event.type === 'changed') {
        changed = true;
        wake?.();
      }
    });
    const wait = (ms: number, signal: AbortSignal | undefined) =>
      new Promise<void>((resolve, reject) => {
        if (changed) return resolve();
        const done = () => {
          cancelTimer();
          wake = null;
          signal?.removeEventListener('abort', onAbort);
        };
        const onAbort = () => {
          done();
          reject(signal!.reason);
        };
        const cancelTimer = this.clock.setTimer(Math.max(0, ms), () => {
          done();
          resolve();
        });
        wake = () => {
          done();
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    return { wait, stop: () => unsubscribe?.() };
  }
}
