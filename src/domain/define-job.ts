import { InvalidOptionError } from './errors.ts';
import type { JobContext } from './job-context.ts';
import { type EnqueueOptions, type JobOptions, type ResolvedJobOptions, jobOptionDefaults, jobOptionNames, resolveJobOptions } from './job-options.ts';
import { assertKnownOptions } from './known-options.ts';
import type { StandardSchemaV1 } from './standard-schema.ts';

/**
 * A job as workers and clients know it: a name, how to run it, and its options.
 * `TInput` is what `enqueue` accepts, `TPayload` what the handler receives (they
 * differ when a schema transforms), `TResult` what the handler returns.
 */
export interface JobDefinition<TInput = unknown, TPayload = TInput, TResult = unknown> {
  readonly name: string;
  readonly schema: StandardSchemaV1<TInput, TPayload> | undefined;
  readonly options: ResolvedJobOptions;
  run(payload: TPayload, ctx: JobContext): Promise<TResult> | TResult;
  /**
   * Runs after the job has been durably marked `failed`: at least once, and exactly once
   * unless the worker running it dies first (another worker then runs it again).
   */
  failed?(payload: TPayload, error: unknown, ctx: JobContext): Promise<void> | void;
  /** Follow-up jobs to add when the job completes, written atomically with the completion. */
  onSuccess?(result: TResult, payload: TPayload, ctx: JobContext): FollowUpList;
  /** Follow-up jobs to add when the job fails for good, written atomically with the failure. */
  onFailure?(error: unknown, payload: TPayload, ctx: JobContext): FollowUpList;
}

/** A job for `onSuccess` / `onFailure` to add: as `enqueueMany` takes one, by its definition. */
export interface FollowUpJob {
  job: AnyJob;
  payload: unknown;
  options?: EnqueueOptions;
}

/** What `onSuccess` and `onFailure` return. */
export type FollowUpList = readonly FollowUpJob[] | Promise<readonly FollowUpJob[]>;

interface JobSpecBase<TPayload, TResult> extends JobOptions {
  /** Unique job name, used to enqueue by name and to route to handlers. */
  name: string;
  run(payload: TPayload, ctx: JobContext): Promise<TResult> | TResult;
  failed?(payload: TPayload, error: unknown, ctx: JobContext): Promise<void> | void;
  /**
   * Returns jobs to add once the job has completed. They are written in the same atomic
   * write as the completion: they exist if and only if the completion was stored. If it
   * throws, the attempt fails as if its handler had thrown.
   */
  onSuccess?(result: Awaited<TResult>, payload: TPayload, ctx: JobContext): FollowUpList;
  /**
   * Returns jobs to add once the job has failed for good (no retry left, or a permanent
   * error), written in the same atomic write as the failure. If it throws, the failure is
   * stored without follow-ups and the error reported (`worker:error`).
   */
  onFailure?(error: unknown, payload: TPayload, ctx: JobContext): FollowUpList;
}

/**
 * Defines a job from a function.
 * @example
 * const sendEmail = defineJob({
 *   name: 'send-email',
 *   schema: z.object({ to: z.email() }),
 *   maxAttempts: 5,
 *   async run({ to }, ctx) { … },
 * });
 */
export function defineJob<S extends StandardSchemaV1, R>(
  spec: JobSpecBase<StandardSchemaV1.InferOutput<S>, R> & { schema: S },
): JobDefinition<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>, Awaited<R>>;
export function defineJob<P = unknown, R = unknown>(spec: JobSpecBase<P, R> & { schema?: undefined }): JobDefinition<P, P, Awaited<R>>;
export function defineJob(spec: JobSpecBase<unknown, unknown> & { schema?: StandardSchemaV1 }): JobDefinition {
  const { name, schema, run, failed, onSuccess, onFailure, ...options } = spec;
  assertJobName(name);
  assertKnownOptions(spec, specKeys, `defineJob "${name}"`);
  if (typeof run !== 'function') throw new InvalidOptionError(`${name}.run`, run, 'a function');
  return Object.freeze({
    name,
    schema,
    options: resolveJobOptions(jobOptionDefaults, options, `${name}.`),
    run: run.bind(spec),
    failed: failed?.bind(spec),
    onSuccess: onSuccess?.bind(spec),
    onFailure: onFailure?.bind(spec),
  });
}

/**
 * Defines a job as a class, in the style of `perform` jobs. Options are declared on the
 * class as `static options`; the name defaults to the class name.
 * @example
 * class SendEmail extends Job<{ to: string }, { sent: boolean }> {
 *   static options = { queue: 'mail', maxAttempts: 5 };
 *   async perform({ to }, ctx) { return { sent: true }; }
 *   async failed({ to }, error) { … }
 * }
 */
export abstract class Job<Params = unknown, Result = unknown> {
  /** Job options for every instance. */
  static options: JobOptions = {};
  /** The job's name; defaults to the class name. */
  static jobName: string | undefined;
  /** A Standard Schema that checks params at enqueue and parses them before `perform`. */
  static schema: StandardSchemaV1 | undefined;
  abstract perform(params: Params, ctx: JobContext): Promise<Result> | Result;
  failed?(params: Params, error: unknown, ctx: JobContext): Promise<void> | void;
  /** Follow-up jobs to add with the completion (see `defineJob`'s `onSuccess`). */
  onSuccess?(result: Awaited<Result>, params: Params, ctx: JobContext): FollowUpList;
  /** Follow-up jobs to add with the final failure (see `defineJob`'s `onFailure`). */
  onFailure?(error: unknown, params: Params, ctx: JobContext): FollowUpList;
  // Keeps `Params` in the type even where no method mentions it structurally.
  declare protected readonly __params?: Params;
}

/** A `Job` subclass: constructible without arguments. */
export interface JobClass<Params = unknown, Result = unknown> {
  new (): Job<Params, Result>;
  options: JobOptions;
  jobName: string | undefined;
  schema: StandardSchemaV1 | undefined;
  readonly name: string;
}

/** Either way of defining a job. */
export type AnyJob = JobDefinition<unknown, unknown, unknown> | JobClass<unknown, unknown>;

/** What `enqueue` takes for a job. */
export type JobInput<J> =
  J extends JobDefinition<infer I, infer _P, infer _R> ? I : J extends JobClass<infer P, infer _R> ? P : never;
/** What the job's handler returns. */
export type JobResult<J> =
  J extends JobDefinition<infer _I, infer _P, infer R> ? R : J extends JobClass<infer _P, infer R> ? Awaited<R> : never;

/** What `defineJob` accepts: the job options and the definition's own parts. */
const specKeys = [...jobOptionNames, 'name', 'schema', 'run', 'failed', 'onSuccess', 'onFailure'];

const fromClass = new WeakMap<object, JobDefinition>();

/** The definition behind either style; a class is turned into one once. */
export function toJobDefinition(job: AnyJob): JobDefinition {
  if (typeof job !== 'function') return job as unknown as JobDefinition;
  const cached = fromClass.get(job);
  if (cached) return cached;
  const ctor = job as unknown as JobClass<unknown, unknown>;
  const name = ctor.jobName ?? ctor.name;
  assertJobName(name);
  assertKnownOptions(ctor.options, jobOptionNames, `the static options of job class ${name}`);
  const definition: JobDefinition = Object.freeze({
    name,
    schema: ctor.schema,
    options: resolveJobOptions(jobOptionDefaults, ctor.options ?? {}, `${name}.`),
    run: (payload: unknown, ctx: JobContext) => new ctor().perform(payload, ctx),
    failed: ctor.prototype.failed
      ? (payload: unknown, error: unknown, ctx: JobContext) => new ctor().failed?.(payload, error, ctx)
      : undefined,
    onSuccess: ctor.prototype.onSuccess
      ? (result: unknown, payload: unknown, ctx: JobContext) => new ctor().onSuccess!(result, payload, ctx)
      : undefined,
    onFailure: ctor.prototype.onFailure
      ? (error: unknown, payload: unknown, ctx: JobContext) => new ctor().onFailure!(error, payload, ctx)
      : undefined,
  });
  fromClass.set(job, definition);
  return definition;
}

function assertJobName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !/^[\w.:/-]{1,200}$/.test(name)) {
    throw new InvalidOptionError('name', name, 'a job name of 1 to 200 letters, digits, _ . : / or -');
  }
}
