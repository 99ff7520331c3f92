import type { Backend, ClaimedJob } from '../contract/backend.ts';
import { requireCapability } from '../contract/capabilities.ts';
import type { Clock } from '../domain/clock.ts';
import { type Duration, toMs } from '../domain/duration.ts';
import { DuplicateStepError, InvalidOptionError } from '../domain/errors.ts';
import { type StepRecord, recordLimits } from '../domain/job-record.ts';
import { type JsonValue, toJsonText } from '../domain/json-value.ts';
import { serializeError } from '../domain/serialized-error.ts';
import type { AttemptAbort } from './attempt-abort.ts';

/**
 * The durable steps of one attempt (`ctx.step`, `ctx.sleep`). The job's stored steps are read
 * once, at the first step; a step recorded `completed` by any earlier attempt returns its
 * stored result without running. A step that runs is recorded before its result is returned,
 * fenced by the lease: an attempt that lost its lease gets `LeaseLostError` instead.
 */
export class AttemptSteps {
  private stored: Promise<Map<string, StepRecord>> | null = null;
  private readonly used = new Set<string>();
  /** Set by the attempt: called once a sleep is recorded, to end the attempt until `wakeAt`. */
  onSleep: ((wakeAt: number) => void) | null = null;

  constructor(
    private readonly backend: Backend,
    private readonly clock: Clock,
    private readonly job: ClaimedJob,
    private readonly abort: AttemptAbort,
    private readonly attempt: number,
  ) {}

  async step<T>(name: string, run: () => T | Promise<T>): Promise<Awaited<T>> {
    this.claimName(name);
    if (typeof run !== 'function') throw new InvalidOptionError(`step "${name}"`, run, 'a function to run');
    const earlier = (await this.load()).get(name);
    if (earlier?.outcome === 'completed') return earlier.result as Awaited<T>;
    this.throwIfAborted();
    const startedAt = this.clock.now();
    let value: unknown;
    try {
      value = await run();
    } catch (error) {
      const now = this.clock.now();
      await this.record({ ...this.blank(name, startedAt), outcome: 'failed', error: serializeError(error, now, this.attempt), durationMs: now - startedAt });
      throw error;
    }
    // What a later attempt gets back is the stored JSON, so this one gets the same.
    const text = toJsonText(value === undefined ? null : value, `the result of step "${name}"`, recordLimits.maxResultBytes);
    const result = JSON.parse(text) as JsonValue;
    await this.record({ ...this.blank(name, startedAt), outcome: 'completed', result, durationMs: this.clock.now() - startedAt });
    return result as Awaited<T>;
  }

  /**
   * Records the sleep (once: its wake time stays what the first attempt set) and ends the
   * attempt; the returned promise never settles. The job resumes at `wakeAt`, where this
   * sleep, now due, is recorded completed and returns.
   */
  async sleep(name: string, duration: Duration): Promise<void> {
    this.claimName(name);
    const ms = toMs(duration, `sleep "${name}"`);
    const earlier = (await this.load()).get(name);
    if (earlier?.outcome === 'completed') return;
    const now = this.clock.now();
    if (earlier?.outcome === 'sleeping' && earlier.wakeAt !== null && earlier.wakeAt <= now) {
      await this.record({ ...earlier, outcome: 'completed', durationMs: now - earlier.startedAt });
      return;
    }
    this.throwIfAborted();
    let wakeAt = earlier?.outcome === 'sleeping' ? earlier.wakeAt : null;
    if (wakeAt === null) {
      wakeAt = now + ms;
      await this.record({ ...this.blank(name, now), outcome: 'sleeping', wakeAt });
    }
    this.onSleep?.(wakeAt);
    return new Promise<never>(() => {});
  }

  private claimName(name: string): void {
    if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
      throw new InvalidOptionError('step name', name, 'a string of 1 to 200 characters');
    }
    // Checked before any await, so two steps of one name started together are caught too.
    if (this.used.has(name)) throw new DuplicateStepError(this.job.id, name);
    this.used.add(name);
  }

  private load(): Promise<Map<string, StepRecord>> {
    if (!this.stored) {
      requireCapability(this.backend, 'durable-steps');
      this.stored = this.backend.listSteps!(this.job.id).then((steps) => new Map(steps.map((step) => [step.name, step])));
      // A failed read fails the step that waits on it; the next step reads again.
      this.stored.catch(() => (this.stored = null));
    }
    return this.stored;
  }

  private record(step: StepRecord): Promise<void> {
    return this.backend.recordStep!({ id: this.job.id, token: this.job.lease.token }, step);
  }

  private throwIfAborted(): void {
    // No new step starts once the attempt is over: its outcome is decided elsewhere.
    if (this.abort.aborted) throw this.abort.reason;
  }

  private blank(name: string, startedAt: number): StepRecord {
    return { name, outcome: 'completed', result: null, error: null, attempt: this.attempt, startedAt, durationMs: null, wakeAt: null };
  }
}
