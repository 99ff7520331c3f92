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
 */
export async function prepareJob(definition: JobDefinition, payload: unknown, options: EnqueueOptions, now: number): Promise<NewJob> {
  checkOptionsObject(definition, options);
  await validatePayload(definition, payload);
  return buildJob(definition, payload, options, now);
}

/**
 * `prepareJob` for a job without a schema (the caller checks): the same checks and row, but
 * synchronous, so a lone enqueue of such a job is one await fewer (a lone awaited enqueue
 * counts its microtask hops: bench/where-the-time-goes.md, issue #21).
 */
export function prepareSchemalessJob(definition: JobDefinition, payload: unknown, options: EnqueueOptions, now: number): NewJob {
  checkOptionsObject(definition, options);
  return buildJob(definition, payload, options, now);
}

function buildJob(definition: JobDefinition, payload: unknown, options: EnqueueOptions, now: number): NewJob {
  const payloadText = toJsonText(payload === undefined ? null : payload, 'payload', recordLimits.maxPayloadBytes);
  if (typeof options.backoff === 'function') throw new InvalidOptionError('backoff', 'a function', "data when given at enqueue: 'none' or a backoff object");
  if (options.backoff !== undefined) validateBackoff(options.backoff);
  const resolved = resolveJobOptions(definition.options, options);
  return {
    id: newJobId(now),
    name: definition.name,
    queue: resolved.queue,
    payload: payloadText,
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

function checkOptionsObject(definition: JobDefinition, options: EnqueueOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', options, 'an object');
  assertKnownOptions(options, enqueueOptionNames, `the enqueue options of job "${definition.name}"`);
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
