import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  type AnyJob,
  type JobDefinition,
  type JobInput,
  type JobResult,
  Job,
  defineJob,
  toJobDefinition,
} from '../../src/domain/define-job.ts';
import { InvalidOptionError, PayloadValidationError, UnknownOptionError } from '../../src/domain/errors.ts';
import type { JobContext } from '../../src/domain/job-context.ts';
import { type JobOptions, jobOptionDefaults } from '../../src/domain/job-options.ts';
import { validatePayload } from '../../src/domain/validate-payload.ts';

function fakeContext(overrides: Partial<JobContext> = {}): JobContext {
  return {
    id: 'job-1',
    name: 'test',
    queue: 'default',
    attempt: 1,
    maxAttempts: 3,
    metadata: {},
    signal: new AbortController().signal,
    progress: async () => {},
    log: async () => {},
    step: <T,>(_name: string, run: () => T | Promise<T>) => Promise.resolve(run()) as Promise<Awaited<T>>,
    sleep: async () => {},
    children: (async () => []) as JobContext['children'],
    childrenSummary: async () => ({ total: 0, completed: 0, failed: 0, cancelled: 0, failedIds: [] }),
    ...overrides,
  };
}

/** Runs `fn` and returns the InvalidOptionError it throws; fails the test otherwise. */
function invalidOption(fn: () => unknown): InvalidOptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError, but nothing was thrown');
}

async function validationError(promise: Promise<unknown>): Promise<PayloadValidationError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(PayloadValidationError);
  return error as PayloadValidationError;
}

describe('defineJob (function style)', () => {
  const sendEmail = defineJob({
    name: 'send-email',
    schema: z.object({ to: z.email(), subject: z.string().optional() }),
    async run({ to }) {
      return { sent: true, to };
    },
  });

  it('infers the input and result types from the schema and the handler', () => {
    expectTypeOf<JobInput<typeof sendEmail>>().toEqualTypeOf<{ to: string; subject?: string | undefined }>();
    expectTypeOf<JobResult<typeof sendEmail>>().toEqualTypeOf<{ sent: boolean; to: string }>();
    expectTypeOf(sendEmail.run).parameter(0).toEqualTypeOf<{ to: string; subject?: string | undefined }>();
  });

  it('gives the handler the schema output type, distinct from the input type, when the schema transforms', () => {
    const job = defineJob({
      name: 'count',
      schema: z.object({ text: z.string().transform((s) => s.length) }),
      run(payload) {
        expectTypeOf(payload).toEqualTypeOf<{ text: number }>();
        return payload.text * 2;
      },
    });
    expectTypeOf<JobInput<typeof job>>().toEqualTypeOf<{ text: string }>();
    expectTypeOf<JobResult<typeof job>>().toEqualTypeOf<number>();
    expectTypeOf(job).toEqualTypeOf<JobDefinition<{ text: string }, { text: number }, number>>();
  });

  it('without a schema, the payload type is the one given to run', () => {
    const job = defineJob({ name: 'plain', run: (payload: { n: number }) => String(payload.n) });
    expectTypeOf<JobInput<typeof job>>().toEqualTypeOf<{ n: number }>();
    expectTypeOf<JobResult<typeof job>>().toEqualTypeOf<string>();
  });

  it('fills every option with its default', () => {
    expect(sendEmail.name).toBe('send-email');
    expect(sendEmail.options).toEqual(jobOptionDefaults);
    expect(jobOptionDefaults).toEqual({
      queue: 'default',
      priority: 0,
      maxAttempts: 3,
      backoff: { type: 'exponential', delay: 1000, max: '1h', jitter: 0.1 },
      timeoutMs: null,
      keepCompletedMs: 86_400_000,
      keepFailedMs: 1_209_600_000,
    });
  });

  it('resolves given options over the defaults, durations in ms', () => {
    const job = defineJob({
      name: 'report',
      queue: 'reports',
      priority: -5,
      maxAttempts: 1,
      backoff: 'none',
      timeout: '30s',
      keepCompleted: null,
      keepFailed: '2h',
      run: () => undefined,
    });
    expect(job.options).toEqual({
      queue: 'reports',
      priority: -5,
      maxAttempts: 1,
      backoff: 'none',
      timeoutMs: 30_000,
      keepCompletedMs: null,
      keepFailedMs: 7_200_000,
    });
    expect(Object.isFrozen(job)).toBe(true);
  });

  it('accepts timeout: null (no limit)', () => {
    expect(defineJob({ name: 'slow', timeout: null, run: () => 1 }).options.timeoutMs).toBeNull();
  });

  it('runs the handler with the payload and context', async () => {
    const ctx = fakeContext();
    const calls: unknown[] = [];
    const job = defineJob({
      name: 'greet',
      run(payload: string, context: JobContext) {
        calls.push(context);
        return `hello ${payload}`;
      },
    });
    await expect(Promise.resolve(job.run('world', ctx))).resolves.toBe('hello world');
    expect(calls).toEqual([ctx]);
  });

  it.each<[string, Record<string, unknown>, string, string | null]>([
    ['a misspelled option', { timout: '1s' }, 'timout', 'timeout'],
    ['a singular for a plural', { maxAttempt: 3 }, 'maxAttempt', 'maxAttempts'],
    ['another case', { keepcompleted: '1h' }, 'keepcompleted', 'keepCompleted'],
    ['a misspelled hook', { faild: () => {} }, 'faild', 'failed'],
    ['an enqueue-only option', { delay: '5m' }, 'delay', null],
    ['a key like no option', { prefix: 'hello ' }, 'prefix', null],
  ])('refuses %s with UnknownOptionError naming it and the nearest option', (_label, extra, option, suggestion) => {
    const spec = { name: 'typo', run: () => 1, ...extra };
    let thrown: unknown;
    try {
      defineJob(spec as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnknownOptionError);
    const error = thrown as UnknownOptionError;
    expect(error).toMatchObject({ code: 'UNKNOWN_OPTION', option, suggestion, where: 'defineJob "typo"' });
    expect(error.message).toContain(`Unknown option '${option}' in defineJob "typo"`);
    if (suggestion) expect(error.message).toContain(`did you mean '${suggestion}'?`);
    else expect(error.message).toContain('known options: queue, priority, maxAttempts, backoff, timeout, keepCompleted, keepFailed, name, schema, run, failed');
  });

  it('exposes failed when given, and leaves it undefined otherwise', async () => {
    const seen: unknown[] = [];
    const job = defineJob({
      name: 'with-failed',
      run: (_: number) => 1,
      failed: (payload, error) => {
        seen.push(payload, error);
      },
    });
    const error = new Error('x');
    await job.failed?.(5, error, fakeContext());
    expect(seen).toEqual([5, error]);
    expect(defineJob({ name: 'no-failed', run: () => 1 }).failed).toBeUndefined();
  });

  it.each<[string, JobOptions, string, unknown]>([
    ['maxAttempts 0', { maxAttempts: 0 }, 'j.maxAttempts', 0],
    ['maxAttempts 2.5', { maxAttempts: 2.5 }, 'j.maxAttempts', 2.5],
    ['priority 1.5', { priority: 1.5 }, 'j.priority', 1.5],
    ['priority NaN', { priority: Number.NaN }, 'j.priority', Number.NaN],
    ['a queue with a space', { queue: 'my queue' }, 'j.queue', 'my queue'],
    ['an empty queue', { queue: '' }, 'j.queue', ''],
    ['a queue of 129 characters', { queue: 'q'.repeat(129) }, 'j.queue', 'q'.repeat(129)],
    ['timeout 0', { timeout: 0 }, 'j.timeout', 0],
    ["timeout '0s'", { timeout: '0s' }, 'j.timeout', '0s'],
    ['a negative keepCompleted', { keepCompleted: -1 }, 'j.keepCompleted', -1],
    ['a malformed keepFailed', { keepFailed: 'forever' as '1d' }, 'j.keepFailed', 'forever'],
    ['a bad backoff jitter', { backoff: { type: 'fixed', delay: 1, jitter: 3 } }, 'j.backoff.jitter', 3],
  ])('rejects %s, naming the option with the job name', (_label, options, option, value) => {
    const error = invalidOption(() => defineJob({ name: 'j', ...options, run: () => 1 }));
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.option).toBe(option);
    expect(Object.is(error.value, value)).toBe(true);
    expect(error.message).toContain(option);
  });

  it('accepts the longest queue name and the allowed punctuation', () => {
    expect(defineJob({ name: 'j', queue: 'q'.repeat(128), run: () => 1 }).options.queue).toHaveLength(128);
    expect(defineJob({ name: 'j', queue: 'mail:eu-1.high_pri', run: () => 1 }).options.queue).toBe('mail:eu-1.high_pri');
  });

  it.each<[string, unknown]>([
    ['an empty name', ''],
    ['a name with a space', 'send email'],
    ['a name of 201 characters', 'n'.repeat(201)],
    ['a name that is not a string', 42],
  ])('rejects %s', (_label, name) => {
    const error = invalidOption(() => defineJob({ name: name as string, run: () => 1 }));
    expect(error.option).toBe('name');
    expect(error.value).toBe(name);
  });

  it('accepts names with letters, digits, _ . : / and -', () => {
    expect(defineJob({ name: 'billing/invoice:send.v2_final-1', run: () => 1 }).name).toBe('billing/invoice:send.v2_final-1');
    expect(defineJob({ name: 'n'.repeat(200), run: () => 1 }).name).toHaveLength(200);
  });

  it('rejects a run that is not a function', () => {
    const error = invalidOption(() => defineJob({ name: 'j', run: 'nope' as unknown as () => void }));
    expect(error.option).toBe('j.run');
  });

  it('toJobDefinition returns a definition as is', () => {
    expect(toJobDefinition(sendEmail as AnyJob)).toBe(sendEmail);
  });
});

describe('Job (class style)', () => {
  it('takes its name from the class and its options from static options', () => {
    class SendWelcome extends Job<{ userId: string }, { ok: boolean }> {
      static override options: JobOptions = { queue: 'mail', maxAttempts: 5, timeout: '1m' };
      perform() {
        return { ok: true };
      }
    }
    const definition = toJobDefinition(SendWelcome);
    expect(definition.name).toBe('SendWelcome');
    expect(definition.options).toEqual({ ...jobOptionDefaults, queue: 'mail', maxAttempts: 5, timeoutMs: 60_000 });
    expect(definition.schema).toBeUndefined();
    expect(definition.failed).toBeUndefined();
    expectTypeOf<JobInput<typeof SendWelcome>>().toEqualTypeOf<{ userId: string }>();
    expectTypeOf<JobResult<typeof SendWelcome>>().toEqualTypeOf<{ ok: boolean }>();
  });

  it('unwraps a Promise result type', () => {
    class Fetch extends Job<string, number> {
      async perform(url: string) {
        return url.length;
      }
    }
    expectTypeOf<JobInput<typeof Fetch>>().toEqualTypeOf<string>();
    expectTypeOf<JobResult<typeof Fetch>>().toEqualTypeOf<number>();
  });

  it('uses static jobName over the class name', () => {
    class Internal extends Job {
      static override jobName = 'billing.charge';
      perform() {}
    }
    expect(toJobDefinition(Internal).name).toBe('billing.charge');
  });

  it('uses defaults when no options are declared', () => {
    class Plain extends Job {
      perform() {}
    }
    expect(toJobDefinition(Plain).options).toEqual(jobOptionDefaults);
  });

  it('passes the static schema through', () => {
    const schema = z.object({ n: z.number() });
    class WithSchema extends Job<{ n: number }> {
      static override schema = schema;
      perform() {}
    }
    expect(toJobDefinition(WithSchema).schema).toBe(schema);
  });

  it('calls perform and failed on a fresh instance each time', async () => {
    const instances: Tracked[] = [];
    const failures: Array<{ instance: Tracked; params: { n: number }; error: unknown; calls: number }> = [];
    class Tracked extends Job<{ n: number }, number> {
      private calls = 0;
      constructor() {
        super();
        instances.push(this);
      }
      perform({ n }: { n: number }) {
        this.calls++;
        return n * 10 + this.calls;
      }
      override failed(params: { n: number }, error: unknown) {
        this.calls++;
        failures.push({ instance: this, params, error, calls: this.calls });
      }
    }
    const definition = toJobDefinition(Tracked);
    const ctx = fakeContext();
    // Per-instance state starts fresh: `calls` is 1 on every call, never 2 or 3.
    expect(await definition.run({ n: 1 }, ctx)).toBe(11);
    expect(await definition.run({ n: 2 }, ctx)).toBe(21);
    const error = new Error('gave up');
    await definition.failed?.({ n: 3 }, error, ctx);
    expect(instances).toHaveLength(3);
    expect(new Set(instances).size).toBe(3);
    expect(failures).toEqual([{ instance: instances[2], params: { n: 3 }, error, calls: 1 }]);
  });

  it('passes the context to perform', async () => {
    const seen: JobContext[] = [];
    class SeesContext extends Job<null, number> {
      perform(_params: null, ctx: JobContext) {
        seen.push(ctx);
        return ctx.attempt;
      }
    }
    const ctx = fakeContext({ attempt: 2 });
    expect(await toJobDefinition(SeesContext).run(null, ctx)).toBe(2);
    expect(seen).toEqual([ctx]);
  });

  it('caches the definition per class', () => {
    class Cached extends Job {
      perform() {}
    }
    class Other extends Job {
      perform() {}
    }
    const first = toJobDefinition(Cached);
    expect(toJobDefinition(Cached)).toBe(first);
    expect(toJobDefinition(Other)).not.toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('a subclass gets its own definition, inheriting the parent options', () => {
    class Base extends Job {
      static override options: JobOptions = { queue: 'base', priority: 3 };
      perform() {
        return 'base';
      }
    }
    class Child extends Base {
      override perform() {
        return 'child';
      }
    }
    const base = toJobDefinition(Base);
    const child = toJobDefinition(Child);
    expect(child).not.toBe(base);
    expect(child.name).toBe('Child');
    expect(child.options.queue).toBe('base');
    expect(child.options.priority).toBe(3);
    expect(child.run(undefined, fakeContext())).toBe('child');
  });

  it('rejects invalid static options, naming the class', () => {
    class BadOptions extends Job {
      static override options: JobOptions = { priority: 1.5 };
      perform() {}
    }
    const error = invalidOption(() => toJobDefinition(BadOptions));
    expect(error.option).toBe('BadOptions.priority');
  });

  it('refuses a misspelled static option, naming the class and the nearest option', () => {
    class Typo extends Job<number, number> {
      static override options = { maxAttempt: 5 } as JobOptions;
      perform(n: number) {
        return n;
      }
    }
    expect(() => toJobDefinition(Typo)).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_OPTION', option: 'maxAttempt', suggestion: 'maxAttempts', where: 'the static options of job class Typo' }),
    );
  });

  it('rejects an invalid static jobName', () => {
    class BadName extends Job {
      static override jobName = 'has space';
      perform() {}
    }
    expect(invalidOption(() => toJobDefinition(BadName)).option).toBe('name');
  });

  it('rejects an anonymous class, which has no name', () => {
    const anonymous = [
      class extends Job {
        perform() {}
      },
    ][0]!;
    expect(anonymous.name).toBe('');
    expect(invalidOption(() => toJobDefinition(anonymous)).option).toBe('name');
  });
});

describe('validatePayload', () => {
  const signup = defineJob({
    name: 'signup',
    schema: z.object({
      user: z.object({ email: z.email(), age: z.number().int().min(18) }),
      tags: z.array(z.string()).max(2),
    }),
    run: () => 1,
  });

  it('resolves with the parsed payload when it is valid', async () => {
    const payload = { user: { email: 'a@example.com', age: 30 }, tags: ['x'] };
    await expect(validatePayload(signup, payload)).resolves.toEqual(payload);
  });

  it('strips unknown keys as the schema does', async () => {
    await expect(validatePayload(signup, { user: { email: 'a@example.com', age: 30, extra: 1 }, tags: [] })).resolves.toEqual({
      user: { email: 'a@example.com', age: 30 },
      tags: [],
    });
  });

  it('throws PayloadValidationError with an issue per failure, each with its dotted path', async () => {
    const payload = { user: { email: 'not-an-email', age: 12 }, tags: ['a', 'b', 'c'] };
    const error = await validationError(validatePayload(signup, payload));
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.jobName).toBe('signup');
    expect(error.payload).toBe(payload);
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['tags', 'user.age', 'user.email']);
    for (const issue of error.issues) expect(issue.message).not.toBe('');
    expect(error.details).toMatchObject({ name: 'signup', payload });
    expect(error.message).toMatch(/^Payload for job "signup" failed its schema: /);
    expect(error.message).toContain('user.email');
  });

  it('gives an array element path its index', async () => {
    const job = defineJob({ name: 'batch', schema: z.object({ items: z.array(z.object({ id: z.string() })) }), run: () => 1 });
    const error = await validationError(validatePayload(job, { items: [{ id: 'a' }, { id: 7 }] }));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe('items.1.id');
  });

  it("names a root failure 'payload' in the message, with an empty path", async () => {
    const job = defineJob({ name: 'root', schema: z.string(), run: () => 1 });
    const error = await validationError(validatePayload(job, 42));
    expect(error.issues[0]!.path).toBe('');
    expect(error.message).toContain('payload: ');
  });

  it('lists at most three issues in the message but keeps them all', async () => {
    const job = defineJob({
      name: 'many',
      schema: z.object({ a: z.string(), b: z.string(), c: z.string(), d: z.string(), e: z.string() }),
      run: () => 1,
    });
    const error = await validationError(validatePayload(job, {}));
    expect(error.issues).toHaveLength(5);
    expect(error.message).toContain('a: ');
    expect(error.message).not.toContain('d: ');
  });

  it('hands the handler the parsed output of a coercing schema', async () => {
    const job = defineJob({
      name: 'coerce',
      schema: z.object({ count: z.coerce.number(), when: z.string().transform((s) => Date.parse(s)) }),
      run: (payload) => payload.count + 1,
    });
    const parsed = await validatePayload(job, { count: '41', when: '2026-01-01T00:00:00Z' });
    expect(parsed).toEqual({ count: 41, when: Date.UTC(2026, 0, 1) });
    expect(await job.run(parsed, fakeContext())).toBe(42);
  });

  it('supports async schemas', async () => {
    const job = defineJob({
      name: 'async',
      schema: z.string().refine(async (s) => s === 'ok', 'must be ok'),
      run: () => 1,
    });
    await expect(validatePayload(job, 'ok')).resolves.toBe('ok');
    const error = await validationError(validatePayload(job, 'no'));
    expect(error.issues).toEqual([{ path: '', message: 'must be ok' }]);
  });

  it('passes the payload through untouched when the job has no schema', async () => {
    const job = defineJob({ name: 'free', run: (payload: unknown) => payload });
    const payload = { anything: [1, 2] };
    await expect(validatePayload(job, payload)).resolves.toBe(payload);
  });

  it('validates a class job by its static schema', async () => {
    class Typed extends Job<{ n: number }> {
      static override schema = z.object({ n: z.number() });
      perform() {}
    }
    const error = await validationError(validatePayload(toJobDefinition(Typed), { n: 'x' }));
    expect(error.jobName).toBe('Typed');
    expect(error.issues[0]!.path).toBe('n');
  });
});
