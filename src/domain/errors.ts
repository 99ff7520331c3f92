import { inspect } from 'node:util';

/**
 * Every error Jobsmith throws is a `JobsmithError` with a stable `code`.
 * Branch on `code` (or use `isJobsmithError`), never on the message: messages
 * are for people and may be reworded.
 */
export type JobsmithErrorCode =
  | 'UNKNOWN_JOB'
  | 'INVALID_PAYLOAD'
  | 'PAYLOAD_NOT_JSON'
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_OPTION'
  | 'UNKNOWN_OPTION'
  | 'INVALID_URL'
  | 'BACKEND_UNAVAILABLE'
  | 'UNSUPPORTED_CAPABILITY'
  | 'STORE_ERROR'
  | 'JOB_NOT_FOUND'
  | 'AMBIGUOUS_ID'
  | 'INVALID_STATE'
  | 'LEASE_LOST'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'SHUTDOWN'
  | 'WORKER_CRASHED'
  | 'PERMANENT'
  | 'WAIT_TIMEOUT'
  | 'INVALID_SCHEDULE'
  | 'SCHEDULE_NOT_FOUND'
  | 'DUPLICATE_STEP'
  | 'INVALID_FLOW'
  | 'CLOSED';

// A registered symbol, so `isJobsmithError` works across two copies of the package.
const brand = Symbol.for('jobsmith.error');

export interface JobsmithErrorOptions {
  cause?: unknown;
  /** The offending value, or anything else that helps to act on the error. */
  details?: Record<string, unknown>;
}

export class JobsmithError extends Error {
  readonly code: JobsmithErrorCode;
  readonly details: Record<string, unknown>;
  readonly [brand] = true;

  constructor(code: JobsmithErrorCode, message: string, options: JobsmithErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `error` is a Jobsmith error, optionally with the given code. */
export function isJobsmithError(error: unknown, code?: JobsmithErrorCode): error is JobsmithError {
  if (typeof error !== 'object' || error === null || !(brand in error)) return false;
  return code === undefined || (error as JobsmithError).code === code;
}

/** Enqueue or run of a job name that no definition was registered for. */
export class UnknownJobError extends JobsmithError {
  constructor(readonly jobName: string, known: readonly string[]) {
    super('UNKNOWN_JOB', `Unknown job "${jobName}". Registered jobs: ${known.length ? known.join(', ') : '(none)'}.`, {
      details: { name: jobName, known },
    });
  }
}

export interface SchemaIssue {
  message: string;
  path: string;
}

/** The payload failed its job's Standard Schema. */
export class PayloadValidationError extends JobsmithError {
  constructor(readonly jobName: string, readonly issues: readonly SchemaIssue[], readonly payload: unknown) {
    const first = issues
      .slice(0, 3)
      .map((issue) => `${issue.path || 'payload'}: ${issue.message}`)
      .join('; ');
    super('INVALID_PAYLOAD', `Payload for job "${jobName}" failed its schema: ${first}.`, {
      details: { name: jobName, issues, payload },
    });
  }
}

/** The value cannot be stored as JSON (a function, class instance, BigInt, cycle, …). */
export class PayloadNotJsonError extends JobsmithError {
  constructor(readonly field: string, readonly path: string, readonly reason: string, readonly value: unknown) {
    super('PAYLOAD_NOT_JSON', `${field} cannot be stored as JSON: ${path} ${reason}.`, {
      details: { field, path, reason, value },
    });
  }
}

export class PayloadTooLargeError extends JobsmithError {
  constructor(readonly field: string, readonly bytes: number, readonly limit: number) {
    super('PAYLOAD_TOO_LARGE', `${field} is ${bytes} bytes as JSON; the limit is ${limit}.`, {
      details: { field, bytes, limit },
    });
  }
}

/** An option has a value it cannot take. `option` names it, `value` is what was given. */
export class InvalidOptionError extends JobsmithError {
  constructor(readonly option: string, readonly value: unknown, expected: string) {
    super('INVALID_OPTION', `Invalid ${option}: ${describe(value)}. Expected ${expected}.`, {
      details: { option, value, expected },
    });
  }
}

/**
 * An options object has a key no option of that name exists for: usually a misspelling,
 * which would otherwise be ignored and leave the default in force. `option` is the key,
 * `suggestion` the nearest known option (or null), `known` every option accepted there.
 */
export class UnknownOptionError extends JobsmithError {
  constructor(
    readonly option: string,
    readonly where: string,
    readonly suggestion: string | null,
    readonly known: readonly string[],
  ) {
    const hint = suggestion === null ? `known options: ${known.join(', ')}` : `did you mean '${suggestion}'?`;
    super('UNKNOWN_OPTION', `Unknown option '${option}' in ${where} — ${hint}`, { details: { option, where, suggestion, known } });
  }
}

export class InvalidUrlError extends JobsmithError {
  /** The connection string, with any password replaced by `***`. */
  readonly url: string;
  constructor(url: string, reason: string) {
    super('INVALID_URL', `Invalid connection string "${redactUrl(url)}": ${reason}.`, { details: { url: redactUrl(url) } });
    this.url = redactUrl(url);
  }
}

/**
 * The store could not be opened, or a call to it failed. `cause` holds the driver's error.
 * `transient` is true for failures that may pass by themselves (the server is down or
 * restarting, a connection was cut, another process held a lock too long, the disk is
 * full): workers retry those; the rest (bad credentials, missing rights, a path that
 * cannot be opened) are reported at once.
 */
export class StoreError extends JobsmithError {
  readonly transient: boolean;
  constructor(message: string, options: JobsmithErrorOptions & { transient?: boolean } = {}) {
    super('STORE_ERROR', message, options);
    this.transient = options.transient ?? false;
  }
}

export class BackendUnavailableError extends JobsmithError {
  constructor(readonly scheme: string, reason: string, cause?: unknown) {
    super('BACKEND_UNAVAILABLE', `The "${scheme}" backend is not available: ${reason}.`, { details: { scheme }, cause });
  }
}

/** A call needs an optional capability (see `BackendCapability`) that the backend in use does not have. */
export class CapabilityUnsupportedError extends JobsmithError {
  constructor(
    readonly backend: string,
    readonly capability: string,
  ) {
    super('UNSUPPORTED_CAPABILITY', `The ${backend} backend does not support ${capability}.`, { details: { backend, capability } });
  }
}

export class JobNotFoundError extends JobsmithError {
  constructor(readonly id: string) {
    super('JOB_NOT_FOUND', `No job with id "${id}".`, { details: { id } });
  }
}

/**
 * An id prefix matches more than one job. `matches` lists them, at most `listed` of them;
 * `more` is true when there were more than that.
 */
export class AmbiguousIdError extends JobsmithError {
  readonly matches: readonly string[];
  readonly more: boolean;
  constructor(readonly prefix: string, matches: readonly string[], listed = matches.length) {
    const more = matches.length > listed;
    const shown = matches.slice(0, listed);
    const count = more ? `more than ${listed}` : String(matches.length);
    super('AMBIGUOUS_ID', `Id prefix "${prefix}" matches ${count} jobs: ${shown.join(', ')}${more ? ', …' : ''}.`, {
      details: { prefix, matches: shown, more },
    });
    this.matches = shown;
    this.more = more;
  }
}

/** The job is not in a state that allows the operation (retrying a running job, say). */
export class InvalidStateError extends JobsmithError {
  constructor(readonly id: string, readonly state: string, operation: string) {
    super('INVALID_STATE', `Cannot ${operation} job "${id}": it is ${state}.`, { details: { id, state, operation } });
  }
}

/** This attempt no longer owns the job: its lease expired and was taken over, or the job ended. */
export class LeaseLostError extends JobsmithError {
  constructor(readonly id: string) {
    super('LEASE_LOST', `Job "${id}": this attempt lost its lease; its writes are rejected.`, { details: { id } });
  }
}

/** The attempt ran past its `timeout`. Retryable like any handler error. */
export class TimeoutError extends JobsmithError {
  constructor(readonly id: string, readonly timeoutMs: number) {
    super('TIMEOUT', `Job "${id}" timed out after ${timeoutMs} ms.`, { details: { id, timeoutMs } });
  }
}

export class JobCancelledError extends JobsmithError {
  constructor(readonly id: string) {
    super('CANCELLED', `Job "${id}" was cancelled.`, { details: { id } });
  }
}

/** The abort reason a handler sees when its worker shuts down. The job is released, not failed. */
export class WorkerShutdownError extends JobsmithError {
  constructor(readonly id: string) {
    super('SHUTDOWN', `Job "${id}" was released because its worker is shutting down.`, { details: { id } });
  }
}

/** The job's workers crashed (their leases expired) more times than `maxCrashRetries` allows. */
export class WorkerCrashedError extends JobsmithError {
  constructor(readonly id: string, readonly crashes: number) {
    super('WORKER_CRASHED', `Job "${id}" was abandoned by a crashed or hung worker ${crashes} times.`, {
      details: { id, crashes },
    });
  }
}

/**
 * Throw from a handler to fail the job at once, with no retry.
 * @example throw new PermanentError('account closed', { cause: err })
 */
export class PermanentError extends JobsmithError {
  constructor(message: string, options: JobsmithErrorOptions = {}) {
    super('PERMANENT', message, options);
  }
}

export class WaitTimeoutError extends JobsmithError {
  constructor(readonly id: string, readonly timeoutMs: number) {
    super('WAIT_TIMEOUT', `Job "${id}" did not finish within ${timeoutMs} ms.`, { details: { id, timeoutMs } });
  }
}

/** A schedule's cron expression, time zone or interval is not valid. `field` names which; `value` is what was given. */
export class InvalidScheduleError extends JobsmithError {
  constructor(readonly field: 'cron' | 'tz' | 'every' | 'schedule', readonly value: unknown, reason: string, options: { cause?: unknown } = {}) {
    super('INVALID_SCHEDULE', `Invalid schedule ${field} ${describe(value)}: ${reason}.`, { ...options, details: { field, value } });
  }
}

export class ScheduleNotFoundError extends JobsmithError {
  constructor(readonly id: string) {
    super('SCHEDULE_NOT_FOUND', `No schedule with id "${id}".`, { details: { id } });
  }
}

/** A run of a job used one step name twice (`ctx.step` and `ctx.sleep` share names): the second could not be told from the first. */
export class DuplicateStepError extends JobsmithError {
  constructor(
    readonly id: string,
    readonly step: string,
  ) {
    super('DUPLICATE_STEP', `Job "${id}" used the step name "${step}" twice in one run; each step needs a name of its own.`, { details: { id, step } });
  }
}

/**
 * A flow (`client.flow`, `chain`, `batch`) that cannot be created: a cycle, a dependency on a
 * job not in the flow, an id used twice or already taken, too many jobs, or an option a flow
 * job cannot take. `reason` says which; nothing was written.
 */
export class InvalidFlowError extends JobsmithError {
  constructor(
    readonly reason: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('INVALID_FLOW', `Invalid flow: ${reason}.`, { ...options, details: { reason, ...options.details } });
  }
}

export class ClosedError extends JobsmithError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed.`);
  }
}

/** The offending value as a person reads it: NaN as NaN (JSON would say null), cycles and depth bounded. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  try {
    const text = inspect(value, { depth: 2, maxArrayLength: 10, maxStringLength: 200, breakLength: Number.POSITIVE_INFINITY });
    return text.length > 500 ? `${text.slice(0, 500)}…` : text;
  } catch {
    return '(a value that cannot be shown)';
  }
}

/** Hides a password in a connection string so errors can be logged safely. */
export function redactUrl(url: string): string {
  // Up to the last @ before the host: a password may itself hold @, and the user may be empty (redis://:pw@host).
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^/?#]*@/i, '$1***@');
}
