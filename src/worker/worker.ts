import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Backend, ClaimedJob, ClaimRequest, ClaimResult, Settlement, WorkerPresence } from '../contract/backend.ts';
import { type Clock, systemClock } from '../domain/clock.ts';
import type { AnyJob } from '../domain/define-job.ts';
import { type Duration, toMs } from '../domain/duration.ts';
import { InvalidOptionError, StoreError, WorkerShutdownError } from '../domain/errors.ts';
import { assertKnownOptions } from '../domain/known-options.ts';
import { type Logger, silentLogger } from '../domain/logger.ts';
import { AttemptAbort } from '../execution/attempt-abort.ts';
import { AttemptDeadlines } from '../execution/attempt-deadlines.ts';
import type { WorkerEvents } from '../execution/job-events.ts';
import { JobRegistry } from '../execution/job-registry.ts';
import { LeaseKeeper } from '../execution/lease-keeper.ts';
import { type BackendResolver, instancesOnly } from '../contract/backend-resolver.ts';
import { holdProcessOpen } from '../execution/process-hold.ts';
import { type AttemptDeps, releaseUnstarted, runAttempt } from '../execution/run-attempt.ts';
import { SafeEmitter } from '../execution/safe-emitter.ts';

export interface WorkerOptions {
  /** A backend, or a connection string. @default 'sqlite:./jobsmith.db' */
  backend?: Backend | string;
  /** The jobs this worker runs. It claims only jobs with these names. */
  jobs: readonly AnyJob[];
  /** Queues to serve. @default every queue the given jobs declare */
  queues?: readonly string[];
  /** Attempts run at once. @default 10 */
  concurrency?: number;
  /**
   * Jobs claimed ahead of free slots and held here under lease, so a slot that frees
   * starts its next job at once while the worker writes outcomes and claims more in the
   * background. A held job that has not started within 500 ms goes back to the queue,
   * so a worker busy with long jobs does not keep work from idle ones. 0 turns it off.
   * @default concurrency, raised to the jobs this worker finished in the last 100 ms (at most 1,000) while jobs finish that fast; on a backend that works in this process (SQLite, memory), where nothing overlaps, 0, raised to the jobs it finished in the last 20 ms (at most 2 × (50 − concurrency), so that a call writes and claims about 50 jobs)
   */
  prefetch?: number;
  /** How long a claim holds a job without a heartbeat; a crashed worker's jobs are recovered after it. @default '30s' */
  lease?: Duration;
  /** How often leases are renewed, and cancels noticed across processes. @default lease ÷ 6, at most 5 s */
  heartbeat?: Duration;
  /** How often an idle worker looks for work it was not told about. @default '1s' */
  pollInterval?: Duration;
  /** Crash recoveries of one job before it is failed with `WorkerCrashedError`. @default 5 */
  maxCrashRetries?: number;
  /** How often this worker removes finished jobs whose retention lapsed; `null` turns it off. @default '1m' */
  pruneInterval?: Duration | null;
  /** How long `stop()` waits for running attempts before releasing them. @default '30s' */
  shutdownTimeout?: Duration;
  /** Names this worker in leases and logs. @default `${hostname}:${pid}:${random}` */
  workerId?: string;
  clock?: Clock;
  logger?: Logger;
}

export interface WorkerHealth {
  running: boolean;
  /** False while the backend cannot be reached; the worker keeps retrying. */
  backendReachable: boolean;
  inFlight: number;
  /** When the claim loop last completed a round trip to the backend. */
  lastContactAt: number | null;
  consecutiveFailures: number;
}

const workerOptionNames = Object.keys({
  backend: true,
  jobs: true,
  queues: true,
  concurrency: true,
  prefetch: true,
  lease: true,
  heartbeat: true,
  pollInterval: true,
  maxCrashRetries: true,
  pruneInterval: true,
  shutdownTimeout: true,
  workerId: true,
  clock: true,
  logger: true,
} satisfies Record<keyof WorkerOptions, true>);

/** Settle-and-claim calls a worker keeps in flight at once. */
const maxStoreCalls = 2;

/** How long a prefetched job may wait here for a slot before it goes back to the queue. */
const prefetchHoldMs = 500;

/**
 * With the default prefetch, a worker claims ahead as many jobs as it finished in the last
 * window of time (`PrefetchPace.windowMs`): when jobs take less time than a store call, a batch
 * of only as many jobs as there are free slots leaves the store paying each call's fixed cost (a
 * round trip, a transaction, a commit) for a few jobs; slow jobs finish few per window, and the
 * prefetch stays at its floor.
 */
interface PrefetchPace {
  /** The prefetch at start, and while jobs finish slowly. */
  min: number;
  max: number;
  windowMs: number;
}

/**
 * On a store apart from this process, which writes and claims while jobs run here: never fewer
 * than the concurrency, never more than 1,000, as many as finished in the last 100 ms (on
 * PostgreSQL at concurrency 50, a call of 200 costs the server about a fifth less per job than a
 * call of 50; bench/where-the-time-goes.md, issue #21). A fifth of the hold time, so jobs held
 * this way start long before they would go back to the queue.
 */
const maxClaimAhead = 1000;
const claimAheadWindowMs = prefetchHoldMs / 5;

/**
 * On a store in this process (SQLite, memory), where nothing overlaps with the store's work,
 * claiming ahead only makes the calls larger. A call writes the outcomes that came in since the
 * one before and claims as many jobs: about the concurrency, plus half of what is held (two
 * calls in flight share it). The worker holds ahead as many jobs as it finished in the last
 * 20 ms, at most `2 × (inProcessCallJobs − concurrency)`, for calls of about 50 jobs. At SQLite's
 * concurrency 1 and 10, calls of 10 jobs spent about two fifths of their time in COMMIT; calls of
 * 35 to 50 ran about 1.5× the jobs a second. From concurrency 50 the slots alone make calls
 * that large, and held jobs cost more than they save (at 50, holding 50 ran about 8% fewer jobs
 * a second; bench/where-the-time-goes.md, issue #21). A short stretch, since a held job here
 * saves no waiting: with jobs of 35 ms at concurrency 10, it holds about 6 jobs.
 */
const inProcessCallJobs = 50;
const inProcessWindowMs = 20;

function prefetchPace(concurrency: number, inProcess: boolean): PrefetchPace {
  return inProcess
    ? { min: 0, max: Math.max(0, maxStoreCalls * (inProcessCallJobs - concurrency)), windowMs: inProcessWindowMs }
    : { min: concurrency, max: maxClaimAhead, windowMs: claimAheadWindowMs };
}

interface PrefetchedJob {
  job: ClaimedJob;
  controller: AttemptAbort;
  claimedAt: number;
}

interface PendingSettlement {
  settlement: Settlement;
  resolve: (written: boolean | { refused: unknown }) => void;
  /** What to write in its place if the store refuses it for good (see AttemptDeps.settle). */
  instead?: ((refusal: unknown) => Settlement) | undefined;
}

/**
 * The order jobs leave a queue (priority, highest first; then run time; then enqueue order,
 * which time-ordered ids follow), for jobs that came back from more than one claim.
 */
function inQueueOrder(a: PrefetchedJob, b: PrefetchedJob): number {
  return b.job.priority - a.job.priority || a.job.runAt - b.job.runAt || (a.job.id < b.job.id ? -1 : a.job.id > b.job.id ? 1 : 0);
}

/**
 * Claims jobs in batches, runs them with bounded concurrency under renewed leases,
 * and writes their outcomes in batches. It survives its handlers and its backend:
 * a failed backend call is reported as `worker:error`, backed off and retried.
 */
export class Worker extends SafeEmitter<WorkerEvents> implements AsyncDisposable {
  readonly id: string;
  private readonly registry: JobRegistry;
  private readonly clock: Clock;
  private readonly concurrency: number;
  private readonly prefetchOption: number | undefined;
  private prefetch = 0;
  /** The default prefetch: follows the jobs finished per window (see `PrefetchPace`); null when `prefetch` was given. */
  private pace: PrefetchPace | null = null;
  private finishedInWindow = 0;
  private windowStartedAt = 0;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly pruneMs: number | null;
  private readonly shutdownMs: number;
  private readonly maxCrashRetries: number;
  private readonly queues: readonly string[];
  private readonly backendOption: Backend | string | undefined;
  private backend: Backend | null = null;
  /** Lets go of the backend: closes one this worker built from a connection string. */
  private releaseBackend: () => Promise<void> = async () => {};
  private keeper: LeaseKeeper | null = null;
  private attemptDeps: AttemptDeps | null = null;
  /** Lease tokens of attempts not yet ended (a failed one ends when its hook has run). */
  private readonly inFlight = new Set<string>();
  /** Lease tokens of attempts whose handler still runs. An attempt whose outcome is only waiting to be written frees its slot, so that write can claim the next job. */
  private readonly busy = new Set<string>();
  private pending: PendingSettlement[] = [];
  /** Claimed jobs waiting for a slot, in queue order; their leases are tracked and renewed like running ones. */
  private prefetched: PrefetchedJob[] = [];
  /**
   * Claimed jobs that came back while another claim was still out. Two claims in flight on
   * two connections may be answered in either order, and the later answer can hold the
   * earlier jobs, so none of them starts until every claim out has come back and they are
   * merged in queue order: a worker starts the jobs it claimed in the order of the queue.
   */
  private arrived: PrefetchedJob[] = [];
  /** Store calls in flight that claim. */
  private claimCalls = 0;
  /** Set when held jobs went back unstarted; no more are claimed ahead until a slot frees. */
  private prefetchPaused = false;
  /** Store calls in flight, and the job slots their claims asked for. */
  private storeCalls = 0;
  private requested = 0;
  /** After a claim came back short: no claim before this time unless woken. */
  private quietUntil = 0;
  /** After a failed store call: no call before this time. */
  private backoffUntil = 0;
  /** Counts wake-ups, so a call can tell whether news arrived while it was out. */
  private wakeCount = 0;
  private shutdown = new AbortController();
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private unsubscribe: (() => void) | null = null;
  private cancelPrune: (() => void) | null = null;
  private starting: Promise<void> | null = null;
  private stopped: Promise<void> | null = null;
  /** While stopping: releases the running attempts within `ms` (a later stop() may shorten the wait). */
  private releaseWithin: ((ms: number) => void) | null = null;
  /** Shorter timeouts asked for by stop() calls that came while the worker was still starting. */
  private stopTimeoutsBeforeEnd: number[] = [];
  private lastContactAt: number | null = null;
  private releaseProcess: (() => void) | null = null;
  /** The first open failed transiently; the loop opens before its next claim. */
  private needsOpen = false;
  /** When `start()` was called, for the worker's registration. */
  private startedAt = 0;
  /** The backend keeps live workers: this worker registers there, renews with its heartbeat, and deregisters at stop. */
  private registers = false;
  private failures = 0;

  /** `resolveBackend` opens what `options.backend` names; `createWorker()` gives one that opens connection strings. */
  constructor(
    options: WorkerOptions,
    private readonly resolveBackend: BackendResolver = instancesOnly,
  ) {
    super('worker:error', options.logger ?? silentLogger);
    assertKnownOptions(options, workerOptionNames, 'createWorker options');
    this.registry = new JobRegistry(options.jobs);
    if (this.registry.names().length === 0) throw new InvalidOptionError('jobs', options.jobs, 'at least one job');
    this.clock = options.clock ?? systemClock;
    this.concurrency = options.concurrency ?? 10;
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1) {
      throw new InvalidOptionError('concurrency', options.concurrency, 'an integer of 1 or more');
    }
    this.prefetchOption = options.prefetch;
    if (options.prefetch !== undefined && (!Number.isSafeInteger(options.prefetch) || options.prefetch < 0)) {
      throw new InvalidOptionError('prefetch', options.prefetch, 'an integer of 0 or more');
    }
    this.leaseMs = toMs(options.lease ?? '30s', 'lease');
    if (this.leaseMs < 100) throw new InvalidOptionError('lease', options.lease, 'at least 100 ms');
    this.heartbeatMs = toMs(options.heartbeat ?? Math.min(5000, Math.floor(this.leaseMs / 6)), 'heartbeat');
    if (this.heartbeatMs <= 0 || this.heartbeatMs >= this.leaseMs) {
      throw new InvalidOptionError('heartbeat', options.heartbeat, 'a duration above 0 and below the lease');
    }
    this.pollMs = toMs(options.pollInterval ?? '1s', 'pollInterval');
    this.pruneMs = options.pruneInterval === null ? null : toMs(options.pruneInterval ?? '1m', 'pruneInterval');
    this.shutdownMs = toMs(options.shutdownTimeout ?? '30s', 'shutdownTimeout');
    this.maxCrashRetries = options.maxCrashRetries ?? 5;
    if (!Number.isSafeInteger(this.maxCrashRetries) || this.maxCrashRetries < 0) {
      throw new InvalidOptionError('maxCrashRetries', options.maxCrashRetries, 'an integer of 0 or more');
    }
    this.queues = options.queues ?? [...new Set(this.registry.definitions().map((definition) => definition.options.queue))];
    if (this.queues.length === 0) throw new InvalidOptionError('queues', options.queues, 'at least one queue');
    this.backendOption = options.backend;
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  /** Opens the backend and starts claiming. Rejects when the backend cannot be opened. */
  start(): Promise<void> {
    this.starting ??= this.begin().catch(async (error: unknown) => {
      // Nothing may keep running or connecting after a failed start.
      await this.releaseBackend().catch((closeError: unknown) => this.reportError(closeError, 'close'));
      throw error;
    });
    return this.starting;
  }

  /**
   * Stops gracefully: claims nothing new, waits up to `timeout` for running attempts,
   * then aborts the rest and releases them to `queued` without spending an attempt.
   * Called again while stopping, a shorter `timeout` shortens the wait (a second Ctrl-C
   * that means "now"); every call resolves when the worker has stopped.
   */
  stop(options: { timeout?: Duration } = {}): Promise<void> {
    const timeoutMs = options.timeout === undefined ? this.shutdownMs : toMs(options.timeout, 'timeout');
    if (this.stopped) {
      if (this.releaseWithin) this.releaseWithin(timeoutMs);
      else this.stopTimeoutsBeforeEnd.push(timeoutMs);
      return this.stopped;
    }
    this.stopped = this.end(timeoutMs);
    return this.stopped;
  }

  /** Same as `stop()` with the default timeout. */
  close(): Promise<void> {
    return this.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  health(): WorkerHealth {
    return {
      running: this.loopDone !== null && !this.stopping,
      backendReachable: this.failures === 0,
      inFlight: this.inFlight.size,
      lastContactAt: this.lastContactAt,
      consecutiveFailures: this.failures,
    };
  }

  private async begin(): Promise<void> {
    const { backend, release } = await this.resolveBackend(this.backendOption, this.clock);
    this.backend = backend;
    this.releaseBackend = release;
    if (this.prefetchOption === undefined) {
      this.pace = prefetchPace(this.concurrency, backend.inProcess === true);
      this.prefetch = this.pace.min;
    } else this.prefetch = this.prefetchOption;
    this.windowStartedAt = this.clock.now();
    try {
      await backend.open();
    } catch (error) {
      // A store that is down or restarting: run anyway and keep trying (the loop does), so a
      // worker started before its database comes up needs no restart. Anything else
      // (bad credentials, a path that cannot be opened) is the caller's to fix.
      if (!(error instanceof StoreError && error.transient)) throw error;
      this.reportError(error, 'open');
      this.failures = 1;
      this.needsOpen = true;
    }
    this.startedAt = this.clock.now();
    this.registers = backend.capabilities.has('live-workers');
    this.keeper = new LeaseKeeper({
      backend,
      clock: this.clock,
      leaseMs: this.leaseMs,
      heartbeatMs: this.heartbeatMs,
      onError: (error) => this.reportError(error, 'heartbeat'),
      ...(this.registers ? { presence: () => this.presence() } : {}),
    });
    this.keeper.start();
    // Listed from the start; a store that is down meanwhile gets the registration at a later heartbeat.
    if (this.registers && !this.needsOpen) await backend.registerWorker!(this.presence(), this.leaseMs).catch((error: unknown) => this.reportError(error, 'register'));
    this.unsubscribe =
      backend.subscribe?.((event) => {
        if (event.type === 'connection-error') this.reportError(event.error, 'connection');
        else if (event.type === 'changed') this.wake();
        else if (event.type === 'enqueued' || event.type === 'resumed') {
          if (this.queues.includes(event.queue)) this.wake();
        }
      }) ?? null;
    if (this.pruneMs !== null) this.schedulePrune(this.pruneMs);
    // Library timers never hold the process open; a started worker does, like a listening server, until stopped.
    this.releaseProcess = holdProcessOpen();
    this.logger.info({ workerId: this.id, queues: this.queues, concurrency: this.concurrency }, 'worker started');
    this.loopDone = this.loop();
  }

  private async end(timeoutMs: number): Promise<void> {
    if (!this.starting) return;
    await this.starting.catch(() => undefined);
    this.stopping = true;
    this.wake();
    const release = () => {
      this.shutdown.abort();
      this.keeper?.abortAll((id) => new WorkerShutdownError(id));
    };
    const releaseTimers: Array<() => void> = [];
    this.releaseWithin = (ms) => {
      if (ms === 0) release();
      else releaseTimers.push(this.clock.setTimer(ms, release));
    };
    for (const ms of [timeoutMs, ...this.stopTimeoutsBeforeEnd]) this.releaseWithin(ms);
    // The loop ends once nothing runs and every outcome is written.
    await this.loopDone;
    this.releaseWithin = null;
    for (const cancel of releaseTimers) cancel();
    this.keeper?.stop();
    this.unsubscribe?.();
    this.cancelPrune?.();
    await this.deregister();
    this.releaseProcess?.();
    await this.releaseBackend();
    this.logger.info({ workerId: this.id }, 'worker stopped');
  }

  /** What this worker's registration says about it now. */
  private presence(): WorkerPresence {
    return {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      queues: [...this.queues],
      names: this.registry.names(),
      concurrency: this.concurrency,
      running: this.busy.size,
      startedAt: this.startedAt,
    };
  }

  /**
   * Removes this worker's registration, once its last heartbeat is back (one still on its way
   * would register it again). A store that cannot be reached now is reported; the registration
   * then lapses after a lease, as a crashed worker's does.
   */
  private async deregister(): Promise<void> {
    if (!this.registers) return;
    await this.keeper?.whenIdle();
    await this.backend!.deregisterWorker!(this.id).catch((error: unknown) => this.reportError(error, 'deregister'));
  }

  /**
   * Keeps up to `maxStoreCalls` settle-and-claim calls in flight, so jobs run here while
   * the store writes the last outcomes and picks the next jobs.
   */
  private async loop(): Promise<void> {
    for (;;) {
      this.returnHeldJobs();
      const now = this.clock.now();
      if (this.pace) this.followPace(now, this.pace);
      if (now < this.backoffUntil) {
        await this.idle(this.backoffUntil, true);
        continue;
      }
      const free = this.stopping
        ? 0
        : Math.max(
            0,
            this.concurrency - this.busy.size + (this.prefetchPaused ? 0 : this.prefetch) - this.prefetched.length - this.arrived.length - this.requested,
          );
      // Outcomes to write carry a claim (same round trip); a claim alone waits out a quiet spell.
      // On a store apart, one claim at a time: jobs from two claims out at once wait for both
      // (see `arrived`), so a second claim held back the first one's jobs while the worker sat
      // idle; the other call in flight writes outcomes only (at concurrency 50 on PostgreSQL,
      // about a fifth more jobs a second for the same CPU; bench/where-the-time-goes.md).
      const claimWanted = free > 0 && (this.claimCalls === 0 || this.backend!.inProcess === true) && (this.pending.length > 0 || now >= this.quietUntil);
      // A store being reopened gets one call at a time.
      const callsAllowed = this.needsOpen ? 1 : maxStoreCalls;
      if ((this.pending.length === 0 && !claimWanted) || this.storeCalls >= callsAllowed) {
        if (this.stopping && this.inFlight.size === 0 && this.storeCalls === 0 && this.pending.length === 0 && this.prefetched.length === 0 && this.arrived.length === 0) return;
        const heldUntil = this.prefetched.length > 0 ? this.prefetched[0]!.claimedAt + prefetchHoldMs : Infinity;
        // Calls in flight nudge the loop when they return; a quiet spell ends on its own clock.
        const until = Math.min(heldUntil, free > 0 && !claimWanted ? this.quietUntil : Infinity);
        await this.idle(until === Infinity ? null : until);
        continue;
      }
      void this.storeCall(claimWanted ? free : 0);
      // Let attempts that finish in the same tick add their settlements to one batch.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** One round trip: writes the pending outcomes and claims up to `limit` jobs. Never rejects. */
  private async storeCall(limit: number): Promise<void> {
    const backend = this.backend!;
    const batch = this.pending;
    this.pending = [];
    const wakeCount = this.wakeCount;
    this.storeCalls++;
    if (limit > 0) this.claimCalls++;
    this.requested += limit;
    try {
      if (this.needsOpen) {
        await backend.open();
        this.needsOpen = false;
        this.logger.info({ workerId: this.id }, 'backend reachable; worker resumes');
      }
      const request = limit > 0 ? this.claimRequest(limit) : undefined;
      // Never take over a job this worker still runs: renew its own leases first if they may have lapsed.
      if (request) await this.keeper!.renewIfOverdue();
      let claimed: ClaimResult | null = null;
      if (batch.length > 0) {
        const result = await backend.settle(
          batch.map((item) => item.settlement),
          request,
        );
        batch.forEach((item, index) => item.resolve(result.applied[index] ?? false));
        claimed = result.claimed;
      } else if (request) {
        claimed = await backend.claim(request);
      }
      this.failures = 0;
      const now = this.clock.now();
      this.lastContactAt = now;
      for (const job of claimed?.jobs ?? []) {
        const controller = new AttemptAbort();
        // Tracked from the claim on, so a held job's lease is renewed and a cancel reaches it.
        this.keeper!.track(job.id, job.lease.token, controller);
        // A failed job's pending hook is the tail of an attempt that already ran: it runs at
        // once, never held (a held job goes back to the queue; a failed one has none).
        if (job.state === 'failed') this.launch(job, controller);
        else this.arrived.push({ job, controller, claimedAt: now });
      }
      // The store had less than asked: wait for news (or the next delayed job, or a poll)
      // before claiming again, unless news came while this call was out.
      if (claimed && claimed.jobs.length < limit && this.wakeCount === wakeCount) {
        this.quietUntil = Math.min(claimed.nextRunAt ?? Infinity, now + this.pollMs);
      }
    } catch (error) {
      this.onStoreError(error, batch);
    } finally {
      this.storeCalls--;
      if (limit > 0) this.claimCalls--;
      this.requested -= limit;
      if (this.claimCalls === 0 && this.arrived.length > 0) this.holdArrivedJobs();
      this.startHeldJobs();
      this.nudge();
    }
  }

  /** Moves the jobs that arrived into the held list, everything in queue order. */
  private holdArrivedJobs(): void {
    this.prefetched.push(...this.arrived);
    this.arrived = [];
    this.prefetched.sort(inQueueOrder);
  }

  /** Starts held jobs while slots are free. */
  private startHeldJobs(): void {
    while (this.busy.size < this.concurrency && this.prefetched.length > 0 && !this.stopping) {
      const { job, controller } = this.prefetched.shift()!;
      this.launch(job, controller);
    }
  }

  /**
   * Gives held jobs back to the queue, unstarted and without spending an attempt: all
   * of them when stopping, else those that waited past the hold time (this worker's
   * slots are busy with longer jobs, and another worker may be idle).
   */
  private returnHeldJobs(): void {
    if (this.prefetched.length === 0) return;
    const now = this.clock.now();
    const stale = this.stopping ? this.prefetched.length : this.prefetched.findIndex((held) => now - held.claimedAt < prefetchHoldMs);
    const count = stale === -1 ? this.prefetched.length : stale;
    if (count === 0) return;
    for (const { job, controller } of this.prefetched.splice(0, count)) {
      // A held job that was cancelled or lost its lease meanwhile: the attempt path settles it
      // as that (it never calls the handler of an aborted attempt).
      if (controller.aborted) {
        this.launch(job, controller);
        continue;
      }
      this.keeper!.untrack(job.lease.token);
      this.pending.push({ settlement: releaseUnstarted(job), resolve: () => {} });
    }
    if (!this.stopping) this.prefetchPaused = true;
  }

  private onStoreError(error: unknown, batch: PendingSettlement[]): void {
    this.failures++;
    this.reportError(error, batch.length > 0 ? 'settle' : 'claim');
    if (this.stopping && this.shutdown.signal.aborted && this.failures > 3) {
      // Shutting down against a dead store: give up on these writes. The leases lapse
      // and another worker recovers the jobs, so nothing is lost.
      for (const item of batch) item.resolve(false);
    } else if (batch.length > 0 && isRefusal(error)) {
      // Refused for good, not a passing failure: often one outcome this store cannot keep.
      // Writing the same batch again would be refused again, and hold every job in it.
      // Not backed off: settleApart backs off itself if the store refuses everything.
      void this.settleApart(batch);
      return;
    } else {
      this.pending = [...batch, ...this.pending];
    }
    this.backOff();
  }

  /** No store call for a while after a failed one. */
  private backOff(): void {
    // Capped low, so a worker resumes within a couple of seconds of its store coming back.
    const delay = Math.min(2000, 100 * 2 ** Math.min(this.failures - 1, 6));
    this.backoffUntil = this.clock.now() + delay;
  }

  /**
   * Writes a refused batch one outcome at a time, so the store takes the outcomes it can
   * keep. One refused alone is replaced by what its attempt gave for that case (failing its
   * job with the store's error). When that is refused too, it is the store that refuses
   * everything (rights, a missing table), not this outcome: the rest go back to be retried
   * like any failed write, and the next batch reports the error again.
   */
  private async settleApart(batch: PendingSettlement[]): Promise<void> {
    const backend = this.backend!;
    // Counted as a store call: the loop neither ends nor piles more calls on meanwhile.
    this.storeCalls++;
    try {
      for (const [index, item] of batch.entries()) {
        try {
          item.resolve((await backend.settle([item.settlement])).applied[0] ?? false);
          continue;
        } catch (error) {
          if (item.instead && isRefusal(error)) {
            const written = await backend.settle([item.instead(error)]).then(
              (result) => result.applied[0] ?? false,
              () => null,
            );
            if (written !== null) {
              this.reportError(error, 'settle', item.settlement.id);
              item.resolve(written ? { refused: error } : false);
              continue;
            }
          }
        }
        this.pending = [...batch.slice(index), ...this.pending];
        this.backOff();
        return;
      }
      this.failures = 0;
    } finally {
      this.storeCalls--;
      this.nudge();
    }
  }

  private claimRequest(limit: number): ClaimRequest {
    return { workerId: this.id, leaseMs: this.leaseMs, queues: this.queues, names: this.registry.names(), limit };
  }

  private launch(job: ClaimedJob, controller: AttemptAbort): void {
    // Keyed by lease token, as a job's new attempt may start here before its old one is gone.
    this.inFlight.add(job.lease.token);
    this.busy.add(job.lease.token);
    void this.attempt(job, controller);
  }

  /**
   * One attempt, from its events to its end, as one async method: a chain of `then`, `catch`
   * and `finally` cost a promise and a closure each per job (bench/where-the-time-goes.md,
   * issue #21). Events are built only when something listens. Never rejects.
   */
  private async attempt(job: ClaimedJob, controller: AttemptAbort): Promise<void> {
    const token = job.lease.token;
    try {
      const definition = this.registry.get(job.name);
      const deps = (this.attemptDeps ??= this.makeAttemptDeps());
      const started = this.clock.now();
      if (job.recovered && this.listens('job:stalled')) this.safeEmit('job:stalled', { job });
      // A held job cancelled, taken over or released before its turn never starts its handler;
      // nor does a failed job taken over for its hook.
      if (!controller.aborted && job.state !== 'failed' && this.listens('job:started')) this.safeEmit('job:started', { job });
      const end = await runAttempt(deps, definition, job, controller);
      switch (end.kind) {
        case 'completed':
          if (this.listens('job:completed')) this.safeEmit('job:completed', { job, result: end.result, durationMs: this.clock.now() - started });
          break;
        case 'retrying':
          if (this.listens('job:retrying')) this.safeEmit('job:retrying', { job, error: end.error, runAt: end.runAt, durationMs: this.clock.now() - started });
          break;
        case 'failed':
          // Once the failure is stored; the attempt ends when its hook has run too.
          if (this.listens('job:failed')) this.safeEmit('job:failed', { job, error: end.error, durationMs: this.clock.now() - started });
          await end.failedHook;
          break;
        case 'cancelled':
          if (this.listens('job:cancelled')) this.safeEmit('job:cancelled', { job });
          break;
        case 'lost':
          this.reportError(end.error, 'settle', job.id);
          break;
        case 'released':
        case 'sleeping':
        case 'hook-ran':
          break;
      }
    } catch (error) {
      // Not from the attempt's outcome (runAttempt does not reject): nothing renews this lease any more.
      this.keeper!.untrack(token);
      this.reportError(error, 'attempt', job.id);
    } finally {
      this.inFlight.delete(token);
      this.freeSlot(token);
      this.nudge();
    }
  }

  /** What every attempt of this worker shares; made once, as it holds only worker-wide closures. */
  private makeAttemptDeps(): AttemptDeps {
    return {
      backend: this.backend!,
      clock: this.clock,
      keeper: this.keeper!,
      deadlines: new AttemptDeadlines(this.clock),
      maxCrashRetries: this.maxCrashRetries,
      settle: (settlement, instead) => {
        this.freeSlot(settlement.token);
        return this.enqueueSettlement(settlement, instead);
      },
      shutdown: this.shutdown.signal,
      onProgress: (progressJob, progress) => {
        if (this.listens('job:progress')) this.safeEmit('job:progress', { job: progressJob, progress });
      },
      onHookError: (error, hookJob) => this.reportError(error, 'failed hook', hookJob.id),
    };
  }

  private freeSlot(token: string): void {
    if (!this.busy.delete(token)) return;
    this.prefetchPaused = false;
    this.startHeldJobs();
  }

  /** Sets the default prefetch to the jobs finished in the last window (scaled to the window's length when it ran longer), within the pace's bounds. */
  private followPace(now: number, pace: PrefetchPace): void {
    if (now - this.windowStartedAt < pace.windowMs) return;
    const paced = Math.round((this.finishedInWindow * pace.windowMs) / (now - this.windowStartedAt));
    this.prefetch = Math.min(pace.max, Math.max(pace.min, paced));
    this.finishedInWindow = 0;
    this.windowStartedAt = now;
  }

  private enqueueSettlement(settlement: Settlement, instead?: (refusal: unknown) => Settlement): Promise<boolean | { refused: unknown }> {
    this.finishedInWindow++;
    return new Promise((resolve) => {
      this.pending.push({ settlement, resolve, instead });
      this.nudge();
    });
  }

  /** Waits until woken, or until `until` (ms since epoch), or a poll interval at most. */
  private idle(until: number | null, ignoreWake = false): Promise<void> {
    if (this.woken && !ignoreWake) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const ms = until === null ? this.pollMs : Math.max(0, Math.min(this.pollMs, until - this.clock.now()));
      const cancel = this.clock.setTimer(ms, () => done());
      const done = () => {
        cancel();
        this.wakeUp = null;
        this.woken = false;
        resolve();
      };
      if (!ignoreWake || this.stopping) this.wakeUp = done;
    });
  }

  /** News from the store or a stop: claim again even if the last claim came back short. */
  private wake(): void {
    this.wakeCount++;
    this.quietUntil = 0;
    this.nudge();
  }

  /** Lets the loop look again at what it has to do (a slot freed, an outcome to write, a call returned). */
  private nudge(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  private schedulePrune(ms: number): void {
    this.cancelPrune = this.clock.setTimer(ms, () => {
      void this.backend!.prune({ expired: true })
        .then((removed) => removed > 0 && this.logger.debug({ removed }, 'pruned expired jobs'))
        .catch((error: unknown) => this.reportError(error, 'prune'))
        .finally(() => {
          if (!this.stopping) this.schedulePrune(ms);
        });
    });
  }

  private reportError(error: unknown, during: string, jobId?: string): void {
    this.logger.error({ err: error, during, jobId, workerId: this.id }, `worker error during ${during}`);
    this.safeEmit('worker:error', jobId === undefined ? { error, during } : { error, during, jobId });
  }
}

/** The store refused a write for good: trying the same write again cannot succeed. */
function isRefusal(error: unknown): boolean {
  return error instanceof StoreError && !error.transient;
}
