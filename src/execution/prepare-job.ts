import type { NewJob } from '../contract/backend.ts';
import { validateBackoff } from '../domain/backoff.ts';
import type { JobDefinition } from '../domain/define-job.ts';
import { toMs } from '../domain/duration.ts';
import { InvalidOptionError } from '../domain/errors.ts';
import { newJobId } from '../domain/ids.ts';
import { type EnqueueOptions, enqueueOptionNames, latestRunAt, resolveJobOptions } from '../domain/job-options.ts';
import { assertKnownOptions } from '../domain/known-options.ts';
import { recordLimits } from '../domain/job-record.ts';
import { type JsonObject, toJsonText } from '../domain/json-value.ts';
import { unstorableCharacter } from '../domain/storable-text.ts';
import { validatePayload } from '../domain/validate-payload.ts';

/**
 * Checks everything about one enqueue before anything is written: the payload
 * against the job's schema and as JSON, and every option. Returns the row to store.
 * `templates`, given, reuses what the options of an earlier job without options resolved to.
 */
export async function prepareJob(definition: JobDefinition, payload: unknown, options: EnqueueOptions, now: number, templates?: JobTemplates): Promise<NewJob> {
  checkOptionsObject(definition, options);
  await validatePayload(definition, payload);
  return jobOf(templateOf(definition, options, now, templates), payloadText(payload));
}

/**
 * `prepareJob` for a job without a schema (the caller checks): the same checks and row, but
 * synchronous, so a lone enqueue of such a job is one await fewer (a lone awaited enqueue
 * counts its microtask hops: bench/where-the-time-goes.md, issue #21).
 */
export function prepareSchemalessJob(definition: JobDefinition, payload: unknown, options: EnqueueOptions, now: number, templates?: JobTemplates): NewJob {
  checkOptionsObject(definition, options);
  return jobOf(templateOf(definition, options, now, templates), payloadText(payload));
}

/** All of a job's row but its id and payload: what its definition and options resolve to. */
type JobTemplate = Omit<NewJob, 'id' | 'payload'>;

/**
 * The templates of jobs enqueued without options, by definition, for one call: a bulk
 * enqueue of one job resolves and checks its defaults once, not once per item (issue #21).
 * Only option-less items share one: an options object could change between two items.
 */
export class JobTemplates {
  /** Made at the first option-less job: a lone enqueue with options needs none. */
  private byDefinition: Map<JobDefinition, JobTemplate> | null = null;

  /** `now`: the moment of the call, the same for every job of it. */
  of(definition: JobDefinition, now: number): JobTemplate {
    this.byDefinition ??= new Map();
    let template = this.byDefinition.get(definition);
    if (template === undefined) this.byDefinition.set(definition, (template = jobTemplate(definition, noOptions, now)));
    return template;
  }
}

const noOptions: EnqueueOptions = Object.freeze({});

function templateOf(definition: JobDefinition, options: EnqueueOptions, now: number, templates: JobTemplates | undefined): JobTemplate {
  return templates !== undefined && options === noOptions ? templates.of(definition, now) : jobTemplate(definition, options, now);
}

/** The options a job was enqueued with when it was given none: pass it, not `{}`, for its template to be shared. */
export function optionsOrNone(options: EnqueueOptions | undefined): EnqueueOptions {
  return options ?? noOptions;
}

function payloadText(payload: unknown): string {
  return toJsonText(payload === undefined ? null : payload, 'payload', recordLimits.maxPayloadBytes);
}

function jobTemplate(definition: JobDefinition, options: EnqueueOptions, now: number): JobTemplate {
  if (typeof options.backoff === 'function') throw new InvalidOptionError('backoff', 'a function', "data when given at enqueue: 'none' or a backoff object");
  if (options.backoff !== undefined) validateBackoff(options.backoff);
  const resolved = resolveJobOptions(definition.options, options);
  return {
    name: definition.name,
    queue: resolved.queue,
    metadata: checkMetadata(options.metadata),
    priority: resolved.priority,
    maxAttempts: resolved.maxAttempts,
    backoff: options.backoff ?? null,
    timeoutMs: resolved.timeoutMs,
    keepCompletedMs: resolved.keepCompletedMs,
    keepFailedMs: resolved.keepFailedMs,
    key: checkKey(options.key),
    runAt: runAtOf(options, now),
    createdAt: now,
  };
}

/**
 * A job's row: a fresh object for every job, its fields written out so that every row has one
 * shape. Jobs of one template share its metadata object, which every backend copies or writes
 * out and none changes.
 */
function jobOf(template: JobTemplate, payload: string): NewJob {
  return {
    id: newJobId(template.createdAt),
    name: template.name,
    queue: template.queue,
    payload,
    metadata: template.metadata,
    priority: template.priority,
    maxAttempts: template.maxAttempts,
    backoff: template.backoff,
    timeoutMs: template.timeoutMs,
    keepCompletedMs: template.keepCompletedMs,
    keepFailedMs: template.keepFailedMs,
    key: template.key,
    runAt: template.runAt,
    createdAt: template.createdAt,
  };
}

function checkOptionsObject(definition: JobDefinition, options: EnqueueOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', options, 'an object');
  assertKnownOptions(options, enqueueOptionNames, () => `the enqueue options of job "${definition.name}"`);
}

function runAtOf(options: EnqueueOptions, now: number): number {
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new InvalidOptionError('delay', options.delay, 'either delay or runAt, not both');
  }
  if (options.delay !== undefined) {
    const at = now + toMs(options.delay, 'delay');
    if (at > latestRunAt) throw new InvalidOptionError('delay', options.delay, 'a delay that ends before the year 10000');
    return at;
  }
  if (options.runAt !== undefined) {
    const at = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    if (typeof at !== 'number' || !Number.isFinite(at) || at > latestRunAt) {
      throw new InvalidOptionError('runAt', options.runAt, 'a Date or ms since the epoch, before the year 10000');
    }
    // A moment in the past simply means "now".
    return Math.max(at, now);
  }
  return now;
}

function checkMetadata(metadata: JsonObject | undefined): JsonObject {
  if (metadata === undefined) return {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new InvalidOptionError('metadata', metadata, 'a plain object');
  }
  return JSON.parse(toJsonText(metadata, 'metadata', 64 * 1024)) as JsonObject;
}

function checkKey(key: string | undefined): string | null {
  if (key === undefined) return null;
  if (typeof key !== 'string' || key.length === 0 || key.length > 512) throw new InvalidOptionError('key', key, 'a string of 1 to 512 characters');
  const unstorable = unstorableCharacter(key);
  if (unstorable) throw new InvalidOptionError('key', key, `a string without ${unstorable}`);
  return key;
}
