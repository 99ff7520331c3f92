import type { Backend, ClaimedJob, NewJob, Settlement } from '../contract/backend.ts';
import { backoffDelay } from '../domain/backoff.ts';
import type { Clock } from '../domain/clock.ts';
import { type AnyJob, type FollowUpJob, type JobDefinition, toJobDefinition } from '../domain/define-job.ts';
import {
  InvalidOptionError,
  InvalidStateError,
  JobCancelledError,
  LeaseLostError,
  TimeoutError,
  WorkerCrashedError,
  WorkerShutdownError,
  isJobsmithError,
} from '../domain/errors.ts';
import type { ChildrenSummary, JobChild, JobContext } from '../domain/job-context.ts';
import { requireCapability } from '../contract/capabilities.ts';
import { type JobProgress, recordLimits } from '../domain/job-record.ts';
import { type JsonObject, type JsonValue, toJsonText } from '../domain/json-value.ts';
import { errorFromStored, serializeError } from '../domain/serialized-error.ts';
import { storableText } from '../domain/storable-text.ts';
import { validatePayload } from '../domain/validate-payload.ts';
import { AttemptAbort } from './attempt-abort.ts';
import { AttemptSteps } from './attempt-steps.ts';
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

export interface AttemptDeps {
  backend: Backend;
  clock: Clock;
  keeper: LeaseKeeper;
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
  onProgress: (job: ClaimedJob, progress: JobProgress) => void;
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
  /** The attempt's abort, when the caller tracked the lease before the attempt started (a prefetched job). */
  controller = new AttemptAbort(),
): Promise<AttemptEnd> {
  const lease = { id: job.id, token: job.lease.token };
  deps.keeper.track(lease, controller);
  // No listener per attempt on the shutdown signal: at high concurrency that is a cost and a
  // MaxListeners warning. The keeper aborts every tracked attempt on shutdown instead.
  if (deps.shutdown.aborted) controller.abort(new WorkerShutdownError(job.id));
  if (job.state === 'failed') {
    await runTakenOverHook(deps, definition, job, controller);
    return { kind: 'hook-ran' };
  }
  const steps = new AttemptSteps(deps.backend, deps.clock, job, controller, job.attempts + 1);
  const ctx = makeContext(deps, job, controller, steps);
  let hookRuns = false;
  try {
    if (job.crashes > deps.maxCrashRetries) {
      const error = new WorkerCrashedError(job.id, job.crashes);
      const crashed = await withFollowUps(deps, definition, job, ctx, { settlement: failWith(deps, definition, job, error, false), end: { kind: 'failed', error } });
      return await finish(deps, definition, job, crashed.settlement, crashed.end);
    }
    const handled = await runHandler(deps, definition, job, ctx, controller, steps);
    const outcome = definition.onSuccess || definition.onFailure ? await withFollowUps(deps, definition, job, ctx, handled) : handled;
    const end = await finish(deps, definition, job, outcome.settlement, outcome.end);
    hookRuns = end.kind === 'failed' && end.failedHook !== undefined;
    return end;
  } finally {
    // A pending hook holds the lease, renewed by the heartbeat, until it has run.
    if (!hookRuns) deps.keeper.untrack(lease);
  }
}

type Decided = { settlement: Settlement | null; end: AttemptEnd };

async function runHandler(
  deps: AttemptDeps,
  definition: JobDefinition,
  job: ClaimedJob,
  ctx: JobContext,
  controller: AttemptAbort,
  steps: AttemptSteps,
): Promise<Decided> {
  // A prefetched job may have lost its lease or been cancelled while it waited: do not start it.
  if (controller.aborted) return decideAbort(deps, definition, job, controller.reason);
  // Whatever ends the attempt before the handler does: an abort, or a sleep it asked for.
  const aborted = new Promise<{ aborted: unknown } | { sleepUntil: number }>((resolve) => {
    controller.onAbort((reason) => resolve({ aborted: reason }));
    steps.onSleep = (wakeAt) => resolve({ sleepUntil: wakeAt });
  });
  const cancelTimeout =
    job.timeoutMs === null ? null : deps.clock.setTimer(job.timeoutMs, () => controller.abort(new TimeoutError(job.id, job.timeoutMs!)));
  const handled = (async () => {
    const payload = await validatePayload(definition, job.payload);
    return definition.run(payload, ctx);
  })().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  try {
    // The handler is not awaited past an abort: a handler that ignores its signal must
    // not hold the job. Whatever it does later is fenced off by the lease.
    const first = await Promise.race([handled, aborted]);
    if ('aborted' in first) return decideAbort(deps, definition, job, first.aborted);
    if ('sleepUntil' in first) return decideSleep(job, first.sleepUntil);
    if ('error' in first) return decideError(deps, definition, job, first.error);
    return decideSuccess(deps, definition, job, first.value);
  } finally {
    cancelTimeout?.();
  }
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

function decideError(deps: AttemptDeps, definition: JobDefinition | null, job: ClaimedJob, error: unknown): Decided {
  const attempt = job.attempts + 1;
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
  deps.keeper.track(lease, abort);
  if (deps.shutdown.aborted) abort.abort(new WorkerShutdownError(job.id));
  const ctx = makeContext(deps, job, abort);
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
    deps.keeper.untrack(lease);
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
  const lease = { id: job.id, token: job.lease.token };
  try {
    await deps.settle({ ...lease, kind: 'hook-done' });
  } finally {
    deps.keeper.untrack(lease);
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

/** `steps` is null for a `failed` hook's context: a hook runs once, with no steps of its own. */
function makeContext(deps: AttemptDeps, job: ClaimedJob, abort: AttemptAbort, steps: AttemptSteps | null = null): JobContext {
  const lease = { id: job.id, token: job.lease.token };
  // A failed job taken over for its hook: the attempt that failed it, as its stored error says.
  const attempt = job.state === 'failed' ? (job.error?.attempt ?? job.attempts) : job.attempts + 1;
  return {
    id: job.id,
    name: job.name,
    queue: job.queue,
    attempt,
    maxAttempts: job.maxAttempts,
    metadata: job.metadata,
    get signal() {
      return abort.signal;
    },
    async progress(percent, message) {
      if (typeof percent !== 'number' || !(percent >= 0 && percent <= 100)) {
        throw new InvalidOptionError('progress percent', percent, 'a number from 0 to 100');
      }
      const progress = { percent, message: message === undefined ? null : storableText(String(message), recordLimits.maxLogMessageChars), at: deps.clock.now() };
      await deps.backend.recordProgress(lease, progress);
      deps.onProgress(job, progress);
    },
    async log(message, fields) {
      let storedFields: JsonObject | null = null;
      if (fields !== undefined) {
        const text = toJsonText(fields, 'log fields');
        storedFields = text.length > recordLimits.maxLogFieldsChars ? { truncated: storableText(text, recordLimits.maxLogFieldsChars) } : fields;
      }
      await deps.backend.appendLog(lease, {
        at: deps.clock.now(),
        attempt,
        message: storableText(String(message), recordLimits.maxLogMessageChars),
        fields: storedFields,
      });
    },
    step(name, run) {
      if (!steps) return Promise.reject(new InvalidStateError(job.id, job.state, `run step "${name}" in the failed hook of`));
      return steps.step(name, run);
    },
    sleep(name, duration) {
      if (!steps) return Promise.reject(new InvalidStateError(job.id, job.state, `sleep "${name}" in the failed hook of`));
      return steps.sleep(name, duration);
    },
    children: ((childJob?: AnyJob) => readChildren(deps.backend, job.id, childJob)) as JobContext['children'],
    async childrenSummary() {
      return summarizeChildren(await readChildren(deps.backend, job.id));
    },
  };
}

/** A flow job's children as the store lists them, those of one job definition when given. */
async function readChildren(backend: Backend, id: string, childJob?: AnyJob): Promise<JobChild[]> {
  requireCapability(backend, 'flows');
  const children = await backend.listChildren!(id);
  if (childJob === undefined) return children;
  const { name } = toJobDefinition(childJob);
  return children.filter((child) => child.name === name);
}

export function summarizeChildren(children: readonly JobChild<unknown>[]): ChildrenSummary {
  const summary: ChildrenSummary = { total: children.length, completed: 0, failed: 0, cancelled: 0, failedIds: [] };
  for (const child of children) {
    if (child.state === 'completed') summary.completed++;
    else if (child.state === 'failed') {
      summary.failed++;
      summary.failedIds.push(child.id);
    } else if (child.state === 'cancelled' || child.state === null) summary.cancelled++;
  }
  return summary;
}
