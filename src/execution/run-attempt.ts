import type { ClaimedJob, NewJob, Settlement } from '../contract/backend.ts';
import { backoffDelay } from '../domain/backoff.ts';
import { type FollowUpJob, type JobDefinition, toJobDefinition } from '../domain/define-job.ts';
import {
  InvalidOptionError,
  JobCancelledError,
  LeaseLostError,
  type StoreError,
  TimeoutError,
  WorkerCrashedError,
  WorkerShutdownError,
  isJobsmithError,
} from '../domain/errors.ts';
import type { JobContext } from '../domain/job-context.ts';
import { recordLimits } from '../domain/job-record.ts';
import { type JsonValue, toJsonText } from '../domain/json-value.ts';
import { errorFromStored, serializeError } from '../domain/serialized-error.ts';
import { validatePayload } from '../domain/validate-payload.ts';
import { AttemptAbort } from './attempt-abort.ts';
import { AttemptContext, type ContextDeps } from './attempt-context.ts';
import type { AttemptDeadlines } from './attempt-deadlines.ts';
import type { LeaseKeeper } from './lease-keeper.ts';
import { prepareJob } from './prepare-job.ts';

/** What became of one attempt, after its settlement was written (or rejected). */
export type AttemptEnd =
  | { kind: 'completed'; result: JsonValue }
  | { kind: 'retrying'; error: unknown; runAt: number }
  /**
   * Stored `failed`. `failedHook`, when the job has a `failed` hook, is that hook running: it
   * started once the failure was stored (with the hook recorded as pending), and resolves
   * when the hook has run and that is stored, or when it was left pending for another worker
   * (this one stopped, or lost the lease). It never rejects.
   */
  | { kind: 'failed'; error: unknown; failedHook?: Promise<void> }
  | { kind: 'cancelled' }
  | { kind: 'released' }
  /** `ctx.sleep` ended the attempt; the job resumes at `runAt`, no attempt spent. */
  | { kind: 'sleeping'; runAt: number }
  /** The attempt lost its lease; another attempt owns the job now and nothing was written. */
  | { kind: 'lost'; error: unknown }
  /** Only the `failed` hook of a job that failed earlier ran here: the worker that ran it before died. */
  | { kind: 'hook-ran' };

export interface AttemptDeps extends ContextDeps {
  keeper: LeaseKeeper;
  /** The timeouts of the attempts: one timer per timeout length, not one per attempt. */
  deadlines: AttemptDeadlines;
  /** Crash recoveries allowed before a job is failed with `WorkerCrashedError`. */
  maxCrashRetries: number;
  /**
   * Writes a settlement; resolves false when it was fenced. Batched by the worker. When the
   * store refuses the settlement for good (not a passing failure) and `instead` is given, the
   * worker writes `instead(refusal)` in its place and resolves with `{ refused }`: one outcome
   * a store cannot keep fails its job rather than holding up every other.
   */
  settle: (settlement: Settlement, instead?: (refusal: unknown) => Settlement) => Promise<boolean | { refused: unknown }>;
  /** Aborted once the runner shuts down: an attempt that starts after it is released at once. Running attempts are aborted through the keeper. */
  shutdown: AbortSignal;
  onHookError: (error: unknown, job: ClaimedJob) => void;
}

/**
 * Runs one claimed attempt of `job` from start to settlement: parses the payload,
 * runs the handler under its signal and timeout, decides the outcome (complete,
 * retry with backoff, fail, cancel, release), writes it fenced by the lease, and
 * starts the `failed` hook once the failure is durable. A job claimed in state `failed`
 * (its hook was pending when its worker died) runs its hook only, never its handler.
 */
export async function runAttempt(
  deps: AttemptDeps,
  definition: JobDefinition,
  job: ClaimedJob,
  /**
   * The attempt's abort, when the caller tracked the lease with the keeper before the attempt
   * started (a worker does from the claim on); without it, the attempt tracks its own.
   */
  tracked?: AttemptAbort,
): Promise<AttemptEnd> {
  let controller = tracked;
  if (controller === undefined) {
    controller = new AttemptAbort();
    deps.keeper.track(job.id, job.lease.token, controller);
  }
  // No listener per attempt on the shutdown signal: at high concurrency that is a cost and a
  // MaxListeners warning. The keeper aborts every tracked attempt on shutdown instead.
  if (deps.shutdown.aborted) controller.abort(new WorkerShutdownError(job.id));
  if (job.state === 'failed') {
    await runTakenOverHook(deps, definition, job, controller);
    return { kind: 'hook-ran' };
  }
  const ctx = new AttemptContext(deps, job, controller, true);
  let hookRuns = false;
  try {
    let outcome: Decided;
    if (job.crashes > deps.maxCrashRetries) {
      const error = new WorkerCrashedError(job.id, job.crashes);
      outcome = await withFollowUps(deps, definition, job, ctx, { settlement: failWith(deps, definition, job, error, false), end: { kind: 'failed', error } });
    } else {
      outcome = await runHandler(deps, definition, job, ctx, controller);
      if (definition.onSuccess || definition.onFailure) outcome = await withFollowUps(deps, definition, job, ctx, outcome);
    }
    const end = await finish(deps, definition, job, outcome.settlement, outcome.end);
    hookRuns = end.kind === 'failed' && end.failedHook !== undefined;
    return end;
  } finally {
    // A pending hook holds the lease, renewed by the heartbeat, until it has run.
    if (!hookRuns) deps.keeper.untrack(job.lease.token);
  }
}

type Decided = { settlement: Settlement | null; end: AttemptEnd };

/** Whatever ended the attempt first: the handler, an abort, or a sleep it asked for. */
type HandlerEnd = { value: unknown } | { error: unknown } | { aborted: unknown } | { sleepUntil: number };

async function runHandler(deps: AttemptDeps, definition: JobDefinition, job: ClaimedJob, ctx: AttemptContext, controller: AttemptAbort): Promise<Decided> {
  // A prefetched job may have lost its lease or been cancelled while it waited: do not start it.
  if (controller.aborted) return decideAbort(deps, definition, job, controller.reason);
  const timeoutMs = job.timeoutMs;
  const deadline = timeoutMs === null ? null : deps.deadlines.start(timeoutMs, () => controller.abort(new TimeoutError(job.id, timeoutMs)));
  try {
    // One promise for the whole run, settled by whichever comes first. The handler is not
    // awaited past an abort: a handler that ignores its signal must not hold the job.
    // Whatever it does later is fenced off by the lease.
    const first = await new Promise<HandlerEnd>((resolve) => {
      controller.onAbort((reason) => resolve({ aborted: reason }));
      ctx.whenSleeping((wakeAt) => resolve({ sleepUntil: wakeAt }));
      callHandler(definition, job.payload, ctx).then(
        (value) => resolve({ value }),
        (error: unknown) => resolve({ error }),
      );
    });
    if ('aborted' in first) return decideAbort(deps, definition, job, first.aborted);
    if ('sleepUntil' in first) return decideSleep(job, first.sleepUntil);
    if ('error' in first) return decideError(deps, definition, job, first.error);
    return decideSuccess(deps, definition, job, first.value);
  } finally {
    if (deadline !== null) deps.deadlines.clear(deadline);
  }
}

/** The handler's run on the parsed payload; a job without a schema skips the parse and its await. */
async function callHandler(definition: JobDefinition, payload: unknown, ctx: AttemptContext): Promise<unknown> {
  return definition.run(definition.schema ? await validatePayload(definition, payload) : payload, ctx);
}

function decideAbort(deps: AttemptDeps, definition: JobDefinition, job: ClaimedJob, reason: unknown): Decided {
  const lease = { id: job.id, token: job.lease.token };
  const now = deps.clock.now();
  if (reason instanceof WorkerShutdownError) return { settlement: releaseUnstarted(job), end: { kind: 'released' } };
  if (reason instanceof LeaseLostError) return { settlement: null, end: { kind: 'lost', error: reason } };
  if (reason instanceof JobCancelledError) {
    return {
      settlement: { ...lease, kind: 'cancel', error: serializeError(reason, now, job.attempts + 1), expiresAt: keepUntil(now, job.keepFailedMs) },
      end: { kind: 'cancelled' },
    };
  }
  // A timeout: an ordinary, retryable failure, backed off as the job's definition says.
  return decideError(deps, definition, job, reason);
}

/**
 * Gives a job back to its queue without spending an attempt (a worker stopping, or a held
 * job that waited too long for a slot). It keeps its run time, so it keeps its place in
 * line ahead of the jobs queued after it.
 */
export function releaseUnstarted(job: ClaimedJob): Settlement {
  return { id: job.id, token: job.lease.token, kind: 'retry', error: null, runAt: job.runAt, countAttempt: false };
}

/** A sleep is a release until its wake time: no attempt spent, the steps kept. */
function decideSleep(job: ClaimedJob, wakeAt: number): Decided {
  return {
    settlement: { id: job.id, token: job.lease.token, kind: 'retry', error: null, runAt: wakeAt, countAttempt: false },
    end: { kind: 'sleeping', runAt: wakeAt },
  };
}

/** The least wait before a job whose attempt met a store outage runs again. */
const storeOutageRetryMs = 1000;

function decideError(deps: AttemptDeps, definition: JobDefinition | null, job: ClaimedJob, error: unknown): Decided {
  const attempt = job.attempts + 1;
  // The store failed under the handler (a ctx.step, ctx.children or ctx.progress call during a
  // restart or a cut connection): the job did not fail, so the attempt is given back without
  // being spent, as a crash is counted apart. Otherwise a job with few attempts would be lost
  // to an outage it could not have survived. Its error is still kept in the attempt history.
  if (isJobsmithError(error, 'STORE_ERROR') && (error as StoreError).transient) {
    const now = deps.clock.now();
    const runAt = now + storeOutageRetryMs;
    return {
      settlement: { id: job.id, token: job.lease.token, kind: 'retry', error: serializeError(error, now, attempt), runAt, countAttempt: false },
      end: { kind: 'retrying', error, runAt },
    };
  }
  const permanent = isJobsmithError(error, 'PERMANENT') || isJobsmithError(error, 'INVALID_PAYLOAD');
  if (permanent || attempt >= job.maxAttempts) return { settlement: failWith(deps, definition, job, error, true), end: { kind: 'failed', error } };
  const backoff = job.backoff ?? definition?.options.backoff ?? 'none';
  let delay: number;
  try {
    delay = backoffDelay(backoff, attempt, error);
  } catch (backoffError) {
    // A backoff function that throws must not lose the job: retry at once and say why.
    deps.onHookError(backoffError, job);
    delay = 0;
  }
  const now = deps.clock.now();
  const runAt = now + delay;
  return {
    settlement: { id: job.id, token: job.lease.token, kind: 'retry', error: serializeError(error, now, attempt), runAt, countAttempt: true },
    end: { kind: 'retrying', error, runAt },
  };
}

function decideSuccess(deps: AttemptDeps, definition: JobDefinition, job: ClaimedJob, value: unknown): Decided {
  const result = value === undefined ? null : value;
  try {
    toJsonText(result, 'result', recordLimits.maxResultBytes);
  } catch (error) {
    // Running it again would return the same unstorable value.
    return { settlement: failWith(deps, definition, job, error, true), end: { kind: 'failed', error } };
  }
  const now = deps.clock.now();
  return {
    settlement: { id: job.id, token: job.lease.token, kind: 'complete', result: result as JsonValue, expiresAt: keepUntil(now, job.keepCompletedMs) },
    end: { kind: 'completed', result: result as JsonValue },
  };
}

function failWith(deps: AttemptDeps, definition: JobDefinition | null, job: ClaimedJob, error: unknown, countAttempt: boolean): Settlement {
  const now = deps.clock.now();
  return {
    id: job.id,
    token: job.lease.token,
    kind: 'fail',
    error: serializeError(error, now, job.attempts + (countAttempt ? 1 : 0)),
    countAttempt,
    expiresAt: keepUntil(now, job.keepFailedMs),
    // Recorded in the same write as the failure, so a crash before the hook has run loses nothing.
    hookPending: definition?.failed !== undefined,
  };
}

async function finish(deps: AttemptDeps, definition: JobDefinition, job: ClaimedJob, settlement: Settlement | null, end: AttemptEnd): Promise<AttemptEnd> {
  if (settlement === null) return end;
  // A release carries nothing a store could refuse, and must not fail the job.
  const released = settlement.kind === 'retry' && !settlement.countAttempt;
  const written = await deps.settle(settlement, released ? undefined : (refusal) => failWith(deps, definition, job, refusal, true));
  if (written === false) return { kind: 'lost', error: new LeaseLostError(job.id) };
  let hookPending = settlement.kind === 'fail' && settlement.hookPending;
  if (written !== true) {
    // The store refused this outcome for good and stored the failure given instead.
    end = { kind: 'failed', error: written.refused };
    hookPending = definition.failed !== undefined;
  }
  if (end.kind === 'failed' && hookPending) {
    // After the failure is durable, so a fenced-off attempt never runs the hook. Its own
    // abort: the handler's may have aborted already (a timeout on the last attempt).
    return { ...end, failedHook: runFailedHook(deps, definition, job, new AttemptAbort(), end.error) };
  }
  return end;
}

/**
 * Runs a job's `failed` hook under the lease the failure was stored with, then stores that
 * it ran (`hook-done`). A hook that throws is reported and counts as run: it had its one
 * call. When the worker stops or loses the lease first, the hook is left pending, and the
 * worker that takes the lease over after it lapses runs it again. Never rejects.
 */
async function runFailedHook(deps: AttemptDeps, definition: JobDefinition, job: ClaimedJob, abort: AttemptAbort, error: unknown): Promise<void> {
  const lease = { id: job.id, token: job.lease.token };
  // Renewed by the heartbeat while the hook runs; a lost lease or a stop aborts it.
  deps.keeper.track(job.id, job.lease.token, abort);
  if (deps.shutdown.aborted) abort.abort(new WorkerShutdownError(job.id));
  const ctx = new AttemptContext(deps, job, abort, false);
  try {
    if (abort.aborted) return;
    const aborted = new Promise<'aborted'>((resolve) => abort.onAbort(() => resolve('aborted')));
    const ran = (async () => {
      const payload = await validatePayload(definition, job.payload).catch(() => job.payload);
      await definition.failed!(payload as never, error, ctx);
    })().catch((hookError: unknown) => deps.onHookError(hookError, job));
    if ((await Promise.race([ran, aborted])) === 'aborted') return;
    if (!(await deps.settle({ ...lease, kind: 'hook-done' }))) deps.onHookError(new LeaseLostError(job.id), job);
  } catch (unexpected) {
    deps.onHookError(unexpected, job);
  } finally {
    deps.keeper.untrack(job.lease.token);
  }
}

/**
 * The `failed` hook of a job whose worker died while it was pending. Its crashes count
 * with the handler's: past `maxCrashRetries` the hook is given up (reported with
 * `WorkerCrashedError`) and stored as done, so a hook that kills its worker cannot take
 * down worker after worker for ever.
 */
async function runTakenOverHook(deps: AttemptDeps, definition: JobDefinition, job: ClaimedJob, controller: AttemptAbort): Promise<void> {
  const givenUp = job.crashes > deps.maxCrashRetries;
  if (definition.failed && !givenUp) {
    // The thrown value is gone with the process that caught it: the hook gets the stored error.
    const error = job.error === null ? new WorkerCrashedError(job.id, job.crashes) : errorFromStored(job.error);
    return runFailedHook(deps, definition, job, controller, error);
  }
  // Given up, or this worker's version of the job has no hook any more: nothing to run.
  if (givenUp) deps.onHookError(new WorkerCrashedError(job.id, job.crashes), job);
  try {
    await deps.settle({ id: job.id, token: job.lease.token, kind: 'hook-done' });
  } finally {
    deps.keeper.untrack(job.lease.token);
  }
}

/**
 * Adds to a completion or a final failure the follow-up jobs the definition's `onSuccess` /
 * `onFailure` returns, so they are written in the same write as the outcome. An `onSuccess`
 * that throws fails the attempt as its handler would have: the success is not stored without
 * its follow-ups. An `onFailure` that throws is reported; the failure is stored without.
 */
async function withFollowUps(deps: AttemptDeps, definition: JobDefinition, job: ClaimedJob, ctx: JobContext, decided: Decided): Promise<Decided> {
  if (decided.settlement?.kind === 'complete' && definition.onSuccess) {
    const { settlement } = decided;
    try {
      const payload = await validatePayload(definition, job.payload);
      const followUps = await prepareFollowUps(await definition.onSuccess(settlement.result, payload, ctx), deps.clock.now());
      return { settlement: { ...settlement, followUps }, end: decided.end };
    } catch (error) {
      decided = decideError(deps, definition, job, error);
    }
  }
  if (decided.settlement?.kind === 'fail' && decided.end.kind === 'failed' && definition.onFailure) {
    const { settlement, end } = decided;
    try {
      const payload = await validatePayload(definition, job.payload).catch(() => job.payload);
      const followUps = await prepareFollowUps(await definition.onFailure(end.error, payload as never, ctx), deps.clock.now());
      return { settlement: { ...settlement, followUps }, end };
    } catch (error) {
      deps.onHookError(error, job);
    }
  }
  return decided;
}

async function prepareFollowUps(list: readonly FollowUpJob[], now: number): Promise<NewJob[]> {
  if (!Array.isArray(list)) throw new InvalidOptionError('follow-up jobs', list, 'an array of { job, payload, options? }');
  return Promise.all(list.map((item: FollowUpJob) => prepareJob(toJobDefinition(item.job), item.payload, item.options ?? {}, now)));
}

function keepUntil(now: number, keepMs: number | null): number | null {
  return keepMs === null ? null : now + keepMs;
}
