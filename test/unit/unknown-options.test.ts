import { afterEach, describe, expect, it } from 'vitest';
import {
  type Client,
  type JobOptions,
  InvalidScheduleError,
  Job,
  UnknownOptionError,
  createClient,
  createScheduler,
  createWorker,
  defineJob,
  every,
  toJobDefinition,
} from '../../src/index.ts';
import { FakeClock, MemoryBackend } from '../../src/testing/index.ts';

/** What a JavaScript caller, or a TypeScript one through a cast, can pass. */
type Loose = Record<string, unknown>;

const noop = defineJob({ name: 'noop', run: () => 1 });

/** Asserts `error` is an UnknownOptionError for `option`, suggesting `suggestion`, in a message that says both. */
function expectUnknown(error: unknown, option: string, suggestion: string | null): void {
  expect(error).toBeInstanceOf(UnknownOptionError);
  expect(error).toMatchObject({ code: 'UNKNOWN_OPTION', option, suggestion });
  const message = (error as Error).message;
  expect(message).toContain(`Unknown option '${option}'`);
  if (suggestion !== null) expect(message).toContain(`did you mean '${suggestion}'?`);
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, but nothing was thrown');
}

describe('misspelled options are refused, naming the nearest known option', () => {
  let client: Client;
  const clock = new FakeClock();

  afterEach(async () => {
    await client?.close();
  });

  const memoryClient = () => (client = createClient({ backend: new MemoryBackend({ clock }), clock }));

  it.each<[Loose, string, string]>([
    [{ maxAttempt: 3 }, 'maxAttempt', 'maxAttempts'],
    [{ timout: '1s' }, 'timout', 'timeout'],
    [{ dealy: '5m' }, 'dealy', 'delay'],
    [{ runat: 0 }, 'runat', 'runAt'],
    [{ metdata: {} }, 'metdata', 'metadata'],
    [{ txn: null }, 'txn', 'tx'],
  ])('client.enqueue refuses %j and stores nothing', async (options, option, suggestion) => {
    memoryClient();
    const error = await client.enqueue(noop, null, options as never).catch((caught: unknown) => caught);
    expectUnknown(error, option, suggestion);
    expect((await client.list()).jobs).toHaveLength(0);
  });

  it('every other way to enqueue refuses them too: by name, enqueueMany, later, now, batch', async () => {
    client = createClient({ backend: new MemoryBackend({ clock }), clock, jobs: [noop] });
    const bad = { maxAttempt: 3 } as Loose as never;
    expectUnknown(await client.enqueue('noop', null, bad).catch((error: unknown) => error), 'maxAttempt', 'maxAttempts');
    const many = await client.enqueueMany([{ job: noop, payload: 1 }, { job: noop, payload: 2, options: bad }]).catch((error: unknown) => error);
    expectUnknown(many, 'maxAttempt', 'maxAttempts');
    expect((many as UnknownOptionError).details.index).toBe(1);
    expectUnknown(await client.enqueueMany([{ job: noop, payload: 1, option: {} } as never]).catch((error: unknown) => error), 'option', 'options');
    expectUnknown(await client.enqueueMany([], { txn: 1 } as never).catch((error: unknown) => error), 'txn', 'tx');
    expectUnknown(await client.job(noop).later(null, bad).catch((error: unknown) => error), 'maxAttempt', 'maxAttempts');
    expectUnknown(await client.job(noop).now(null, bad).catch((error: unknown) => error), 'maxAttempt', 'maxAttempts');
    expectUnknown(await client.job(noop).batch([null], { concurency: 2 } as never).catch((error: unknown) => error), 'concurency', 'concurrency');
    expectUnknown(await client.waitFor('0', { timout: '1s' } as never).catch((error: unknown) => error), 'timout', 'timeout');
    expectUnknown(await client.prune({ olderThan: 0, state: ['failed'] } as never).catch((error: unknown) => error), 'state', 'states');
    expect((await client.list()).jobs).toHaveLength(0);
  });

  it('defineJob and a class’s static options refuse them', () => {
    expectUnknown(thrownBy(() => defineJob({ name: 'x', run: () => 1, maxAttempt: 3 } as never)), 'maxAttempt', 'maxAttempts');
    class Mail extends Job<null, null> {
      static override options = { queu: 'mail' } as JobOptions;
      perform() {
        return null;
      }
    }
    expectUnknown(thrownBy(() => toJobDefinition(Mail)), 'queu', 'queue');
  });

  it('createClient, createWorker and createScheduler refuse them', () => {
    expectUnknown(thrownBy(() => createClient({ backnd: 'memory:' } as never)), 'backnd', 'backend');
    expectUnknown(thrownBy(() => createWorker({ jobs: [noop], concurency: 5 } as never)), 'concurency', 'concurrency');
    expectUnknown(thrownBy(() => createWorker({ jobs: [noop], leaseMs: 5000 } as never)), 'leaseMs', 'lease');
    expectUnknown(thrownBy(() => createScheduler({ pollIntervall: '1s' } as never)), 'pollIntervall', 'pollInterval');
    // Nothing like any option: the error lists them all.
    const far = thrownBy(() => createClient({ database: 'x' } as never)) as UnknownOptionError;
    expectUnknown(far, 'database', null);
    expect(far.message).toContain('known options: backend, jobs, clock, logger, lease');
  });

  it('schedule() refuses them, in the schedule and in its enqueue options, and stores nothing', async () => {
    const backend = new MemoryBackend({ clock });
    const scheduler = createScheduler({ backend, clock, jobs: [noop] });
    try {
      const base = { id: 's', job: noop, payload: null, every: '5m' } as const;
      expectUnknown(await scheduler.schedule({ ...base, catchup: 'once' } as never).catch((error: unknown) => error), 'catchup', 'catchUp');
      expectUnknown(await scheduler.schedule({ ...base, options: { priorty: 1 } } as never).catch((error: unknown) => error), 'priorty', 'priority');
      expect(await scheduler.list()).toEqual([]);
    } finally {
      await scheduler.close();
    }
  });
});

describe('schedule every errors are InvalidScheduleError on field every', () => {
  it.each<[string, unknown]>([
    ['a duration with a word for its unit', '5 minutes'],
    ['a negative number', -5],
    ['NaN', Number.NaN],
    ['null', null],
  ])('schedule({ every }) refuses %s', async (_label, value) => {
    const clock = new FakeClock();
    const scheduler = createScheduler({ backend: new MemoryBackend({ clock }), clock, jobs: [noop] });
    try {
      const error = await scheduler.schedule({ id: 's', job: noop, payload: null, every: value as never }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidScheduleError);
      expect(error).toMatchObject({ code: 'INVALID_SCHEDULE', field: 'every' });
      expect(Object.is((error as InvalidScheduleError).value, value)).toBe(true);
      expect(await scheduler.list()).toEqual([]);
    } finally {
      await scheduler.close();
    }
  });

  it("every('5 minutes') refuses it the same way, with the duration's own error as cause", () => {
    const error = thrownBy(() => every('5 minutes' as never)) as InvalidScheduleError;
    expect(error).toBeInstanceOf(InvalidScheduleError);
    expect(error.message).toMatch(/^Invalid schedule every "5 minutes": expected milliseconds or a string like '500ms'/);
    expect(error.cause).toMatchObject({ code: 'INVALID_OPTION' });
  });
});
