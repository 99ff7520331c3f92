import type { Backend, ClaimedJob, LeaseRef } from '../contract/backend.ts';
import { requireCapability } from '../contract/capabilities.ts';
import type { Clock } from '../domain/clock.ts';
import { type AnyJob, type JobResult, toJobDefinition } from '../domain/define-job.ts';
import type { Duration } from '../domain/duration.ts';
import { InvalidOptionError, InvalidStateError } from '../domain/errors.ts';
import type { ChildrenSummary, JobChild, JobContext } from '../domain/job-context.ts';
import { type JobProgress, recordLimits } from '../domain/job-record.ts';
import { type JsonObject, toJsonText } from '../domain/json-value.ts';
import { storableText } from '../domain/storable-text.ts';
import type { AttemptAbort } from './attempt-abort.ts';
import { AttemptSteps } from './attempt-steps.ts';

/** What a context reaches of the attempt's runner: the store, the clock, and where progress is reported. */
export interface ContextDeps {
  backend: Backend;
  clock: Clock;
  onProgress: (job: ClaimedJob, progress: JobProgress) => void;
}

/**
 * The `ctx` a handler (or a `failed` hook) gets. A class with its fields read from the job
 * on use, and its methods on the prototype: making one per attempt costs one small object,
 * where an object literal of closures cost a dozen functions per job, most never called
 * (bench/where-the-time-goes.md, issue #21). Its methods use `this`: call them on `ctx`.
 */
export class AttemptContext implements JobContext {
  // Private fields (#), so `Object.keys(ctx)` and a logged `ctx` show nothing of the runner.
  readonly #deps: ContextDeps;
  readonly #job: ClaimedJob;
  readonly #abort: AttemptAbort;
  /** False for a `failed` hook's context: a hook runs once, with no steps of its own. */
  readonly #withSteps: boolean;
  /** The durable steps, made at the first `step` or `sleep`; never for a hook's context. */
  #steps: AttemptSteps | null = null;
  #onSleep: ((wakeAt: number) => void) | null = null;

  constructor(deps: ContextDeps, job: ClaimedJob, abort: AttemptAbort, withSteps: boolean) {
    this.#deps = deps;
    this.#job = job;
    this.#abort = abort;
    this.#withSteps = withSteps;
  }

  /** For the attempt: `onSleep` is called once a `ctx.sleep` is recorded, to end the attempt until `wakeAt`. */
  whenSleeping(onSleep: (wakeAt: number) => void): void {
    this.#onSleep = onSleep;
  }

  get id(): string {
    return this.#job.id;
  }

  get name(): string {
    return this.#job.name;
  }

  get queue(): string {
    return this.#job.queue;
  }

  get attempt(): number {
    // A failed job taken over for its hook: the attempt that failed it, as its stored error says.
    const job = this.#job;
    return job.state === 'failed' ? (job.error?.attempt ?? job.attempts) : job.attempts + 1;
  }

  get maxAttempts(): number {
    return this.#job.maxAttempts;
  }

  get metadata(): JsonObject {
    return this.#job.metadata;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  async progress(percent: number, message?: string): Promise<void> {
    if (typeof percent !== 'number' || !(percent >= 0 && percent <= 100)) {
      throw new InvalidOptionError('progress percent', percent, 'a number from 0 to 100');
    }
    const deps = this.#deps;
    const progress = { percent, message: message === undefined ? null : storableText(String(message), recordLimits.maxLogMessageChars), at: deps.clock.now() };
    await deps.backend.recordProgress(this.#lease(), progress);
    deps.onProgress(this.#job, progress);
  }

  async log(message: string, fields?: JsonObject): Promise<void> {
    let storedFields: JsonObject | null = null;
    if (fields !== undefined) {
      const text = toJsonText(fields, 'log fields');
      storedFields = text.length > recordLimits.maxLogFieldsChars ? { truncated: storableText(text, recordLimits.maxLogFieldsChars) } : fields;
    }
    await this.#deps.backend.appendLog(this.#lease(), {
      at: this.#deps.clock.now(),
      attempt: this.attempt,
      message: storableText(String(message), recordLimits.maxLogMessageChars),
      fields: storedFields,
    });
  }

  step<T>(name: string, run: () => T | Promise<T>): Promise<Awaited<T>> {
    const steps = this.#stepsOrNull();
    if (!steps) return Promise.reject(new InvalidStateError(this.#job.id, this.#job.state, `run step "${name}" in the failed hook of`));
    return steps.step(name, run);
  }

  sleep(name: string, duration: Duration): Promise<void> {
    const steps = this.#stepsOrNull();
    if (!steps) return Promise.reject(new InvalidStateError(this.#job.id, this.#job.state, `sleep "${name}" in the failed hook of`));
    return steps.sleep(name, duration);
  }

  children(): Promise<JobChild[]>;
  children<J extends AnyJob>(job: J): Promise<Array<JobChild<JobResult<J>>>>;
  children(childJob?: AnyJob): Promise<JobChild[]> {
    // Typed by the overloads: the store gives back the JSON each child returned.
    return readChildren(this.#deps.backend, this.#job.id, childJob);
  }

  async childrenSummary(): Promise<ChildrenSummary> {
    return summarizeChildren(await readChildren(this.#deps.backend, this.#job.id));
  }

  #lease(): LeaseRef {
    return { id: this.#job.id, token: this.#job.lease.token };
  }

  #stepsOrNull(): AttemptSteps | null {
    if (!this.#withSteps) return null;
    if (this.#steps === null) {
      const steps = new AttemptSteps(this.#deps.backend, this.#deps.clock, this.#job, this.#abort, this.#job.attempts + 1);
      steps.onSleep = (wakeAt) => this.#onSleep?.(wakeAt);
      this.#steps = steps;
    }
    return this.#steps;
  }
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
