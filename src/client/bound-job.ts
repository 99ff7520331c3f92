import type { JobDefinition } from '../domain/define-job.ts';
import { InvalidOptionError } from '../domain/errors.ts';
import type { EnqueueOptions } from '../domain/job-options.ts';
import { assertKnownOptions } from '../domain/known-options.ts';
import type { Client, JobRun } from './client.ts';

export interface BatchOptions {
  /** Runs at once. @default 5 */
  concurrency?: number;
  /** After the first run that does not complete, start no more. @default false */
  stopOnError?: boolean;
  /** Options for every run. */
  options?: EnqueueOptions;
}

/** One payload's outcome in `batch`, in input order. */
export type BatchOutcome<R> =
  | ({ index: number; skipped: false; error: null } & JobRun<R>)
  /** The payload was rejected before it ran (schema, JSON, options). */
  | { index: number; skipped: false; error: unknown; data: undefined; metadata: null }
  /** Not started because `stopOnError` was set and an earlier run failed. */
  | { index: number; skipped: true; error: null; data: undefined; metadata: null };

/** A job bound to a client: `now()` runs it here, `later()` enqueues it, `batch()` runs many. */
export class BoundJob<I, R> {
  constructor(
    private readonly client: Client,
    readonly definition: JobDefinition<I, unknown, R>,
  ) {}

  /** Runs the job in this process at once; see `Client.runNow`. */
  now(payload: I, options?: EnqueueOptions): Promise<JobRun<R>> {
    return this.client.runNow(this.definition, payload, options);
  }

  /** Enqueues the job for a worker. Resolves with its id. */
  async later(payload: I, options?: EnqueueOptions): Promise<string> {
    const { id } = await this.client.enqueue(this.definition as never, payload as never, options);
    return id;
  }

  /** Runs one job per payload in this process, `concurrency` at a time. Resolves with one outcome per payload, in order. */
  async batch(payloads: readonly I[], options: BatchOptions = {}): Promise<BatchOutcome<R>[]> {
    assertKnownOptions(options, ['concurrency', 'stopOnError', 'options'] satisfies Array<keyof BatchOptions>, 'the batch options');
    const concurrency = options.concurrency ?? 5;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new InvalidOptionError('concurrency', options.concurrency, 'an integer of 1 or more');
    const outcomes: BatchOutcome<R>[] = new Array(payloads.length);
    let next = 0;
    let stop = false;
    const lane = async () => {
      while (next < payloads.length) {
        const index = next++;
        if (stop) {
          outcomes[index] = { index, skipped: true, error: null, data: undefined, metadata: null };
          continue;
        }
        try {
          const run = await this.now(payloads[index]!, options.options);
          outcomes[index] = { index, skipped: false, error: null, ...run };
          if (run.metadata.status !== 'completed' && options.stopOnError) stop = true;
        } catch (error) {
          outcomes[index] = { index, skipped: false, error, data: undefined, metadata: null };
          if (options.stopOnError) stop = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, payloads.length) }, lane));
    return outcomes;
  }
}
