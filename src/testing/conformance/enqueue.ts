import { expect } from 'vitest';
import { createClient } from '../../create.ts';
import { defineJob } from '../../domain/define-job.ts';
import { InvalidOptionError, PayloadNotJsonError, PayloadValidationError, UnknownJobError, UnknownOptionError } from '../../domain/errors.ts';
import type { EnqueueOptions } from '../../domain/job-options.ts';
import type { StandardSchemaV1 } from '../../domain/standard-schema.ts';
import type { ConformanceSuite } from './index.ts';

/** Enqueueing: keys, all-or-nothing batches, what a store keeps of a payload, and the input it refuses. */
export function enqueueTests(suite: ConformanceSuite): void {
  const { test, startWorker, newJob, noop, claimBy } = suite;

  // ── keys ───────────────────────────────────────────────────────────────

  test('a key returns the existing job while it waits or runs, and frees when it ends', async ({ backend, client }) => {
    const first = await client.enqueue(noop, 1, { key: 'user-7' });
    const again = await client.enqueue(noop, 2, { key: 'user-7' });
    expect(first.created).toBe(true);
    expect(again).toEqual({ id: first.id, created: false });
    const other = defineJob({ name: 'other', run: () => null });
    expect((await client.enqueue(other, 1, { key: 'user-7' })).created).toBe(true);
    const batch = await client.enqueueMany([
      { job: noop, payload: 3, options: { key: 'k2' } },
      { job: noop, payload: 4, options: { key: 'k2' } },
    ]);
    expect(batch[1]).toEqual({ id: batch[0]!.id, created: false });
    const { jobs } = await backend.claim(claimBy('w', 1));
    expect(jobs[0]!.id).toBe(first.id);
    expect((await client.enqueue(noop, 5, { key: 'user-7' })).id).toBe(first.id);
    await backend.settle([{ kind: 'complete', id: first.id, token: jobs[0]!.lease.token, result: null, expiresAt: null }]);
    const after = await client.enqueue(noop, 6, { key: 'user-7' });
    expect(after.created).toBe(true);
    expect(after.id).not.toBe(first.id);
  });

  // ── enqueue: atomicity and bad input ───────────────────────────────────

  test('enqueueMany is all or nothing', async ({ backend, client }) => {
    const strict = defineJob({ name: 'strict', schema: positiveNumber, run: (n) => n });
    await expect(
      client.enqueueMany([
        { job: strict, payload: 1 },
        { job: strict, payload: 2 },
        { job: strict, payload: -3 },
      ]),
    ).rejects.toBeInstanceOf(PayloadValidationError);
    expect((await client.list()).jobs).toHaveLength(0);
    // The store itself rolls back a batch that fails half-way.
    const a = await newJob(noop, 1);
    const b = await newJob(noop, 2);
    await expect(backend.enqueue([a, b, { ...a }])).rejects.toThrow();
    expect(await backend.get(a.id)).toBeNull();
    expect(await backend.get(b.id)).toBeNull();
    const results = await client.enqueueMany([
      { job: strict, payload: 1 },
      { job: 'strict', payload: 2 },
    ]);
    expect(results.every((result) => result.created)).toBe(true);
    expect((await client.list()).jobs).toHaveLength(2);
    // A batch naming a job already stored is refused whole, too.
    const stored = await newJob(noop, 3);
    await backend.enqueue([stored]);
    const fresh = await newJob(noop, 4);
    await expect(backend.enqueue([fresh, { ...stored }])).rejects.toThrow();
    expect(await backend.get(fresh.id)).toBeNull();
  });

  test('enqueueMany keeps each job its own payload and options, whatever jobs stand beside it', async ({ clock, backend, client }) => {
    // Stores may write a run of alike jobs together (SQLite binds what they share once): every
    // way two neighbours can differ is here, and jobs alike on either side of them.
    const other = defineJob({ name: 'other', run: () => null });
    client = createClient({ backend, clock, jobs: [noop, other] });
    const shared: EnqueueOptions = { priority: 3 };
    const tricky = { text: 'quote " backslash \\ slash / 日本語 🎉 \u0001', big: 1.5e300, negativeZero: -0, list: [null, true] };
    const items: Array<{ job: typeof noop | typeof other; payload: unknown; options?: EnqueueOptions; expect: Record<string, unknown> }> = [
      { job: noop, payload: 1, expect: { state: 'queued', queue: 'default', priority: 0, metadata: {} } },
      { job: noop, payload: tricky, expect: { state: 'queued' } },
      { job: noop, payload: null, expect: { state: 'queued' } },
      { job: noop, payload: 3, options: { delay: '1m' }, expect: { state: 'scheduled', runAt: clock.now() + 60_000 } },
      { job: noop, payload: 4, options: { delay: '2m' }, expect: { state: 'scheduled', runAt: clock.now() + 120_000 } },
      { job: noop, payload: 5, options: { metadata: { tag: 'x' } }, expect: { metadata: { tag: 'x' } } },
      { job: noop, payload: 6, options: { metadata: { tag: 'x' } }, expect: { metadata: { tag: 'x' } } },
      { job: noop, payload: 7, options: { metadata: { tag: 'y' } }, expect: { metadata: { tag: 'y' } } },
      { job: noop, payload: 8, options: shared, expect: { priority: 3 } },
      { job: noop, payload: 9, options: shared, expect: { priority: 3 } },
      { job: other, payload: 10, expect: { name: 'other', priority: 0 } },
      { job: other, payload: 11, options: { queue: 'q2', maxAttempts: 7, timeout: '2s', keepCompleted: '1h', keepFailed: null }, expect: { queue: 'q2', maxAttempts: 7, timeoutMs: 2000, keepCompletedMs: 3_600_000, keepFailedMs: null } },
      { job: other, payload: 12, options: { backoff: { type: 'fixed', delay: '1s' } }, expect: { backoff: { type: 'fixed', delay: '1s' } } },
      { job: other, payload: 13, options: { backoff: 'none' }, expect: { backoff: 'none' } },
      { job: other, payload: 14, options: { key: 'k' }, expect: { key: 'k' } },
      { job: noop, payload: 15, options: { runAt: clock.now() - 1000 }, expect: { state: 'queued', runAt: clock.now() } },
      { job: noop, payload: 16, expect: { state: 'queued', name: 'noop', key: null, backoff: null } },
    ];
    const results = await client.enqueueMany(items.map(({ job, payload, options }) => (options === undefined ? { job, payload } : { job, payload, options })));
    expect(results.every((result) => result.created)).toBe(true);
    expect(new Set(results.map((result) => result.id)).size).toBe(items.length);
    for (const [index, item] of items.entries()) {
      const record = await client.get(results[index]!.id);
      expect(record, `item ${index}`).toMatchObject({ name: item.job.name, payload: JSON.parse(JSON.stringify(item.payload)), createdAt: clock.now(), ...item.expect });
    }
    // The first job's defaults, written out, as a lone enqueue writes them.
    const alone = await client.get((await client.enqueue(noop, 1)).id);
    const first = await client.get(results[0]!.id);
    const { id: _aloneId, ...aloneRest } = alone!;
    const { id: _firstId, ...firstRest } = first!;
    expect(firstRest).toEqual(aloneRest);
  });

  test('payloads, metadata and results keep every character through the store and the worker', async ({ client }) => {
    const text = 'héllo – 日本語 🎉 "quoted" \\ back\\slash / slash \u0001 control \t tab, and an empty string next';
    const payload = { text, empty: '', list: [null, true, 1.5e300, -0], nested: { '': 'empty key' } };
    let seen: unknown;
    const echo = defineJob({ name: 'echo', run: (input: typeof payload) => { seen = input; return { echoed: input.text }; } });
    await startWorker([echo]);
    const { id } = await client.enqueue(echo, payload, { metadata: { tag: 'ü/∑' } });
    const record = await client.waitFor(id);
    expect(seen).toEqual(JSON.parse(JSON.stringify(payload)));
    expect(record).toMatchObject({ state: 'completed', result: { echoed: text }, metadata: { tag: 'ü/∑' } });
  });

  test('text no store can keep (NUL, a lone surrogate) is refused alike everywhere, naming the path, and nothing is written', async ({ backend, client }) => {
    const refused: Array<[unknown, string]> = [
      [{ note: 'a\u0000b' }, 'note'],
      [{ list: ['ok', 'x\ud800'] }, 'list[1]'],
      [{ nested: { '\udc00': 1 } }, 'nested.\\udc00'],
      [{ 'k\u0000': 'v' }, 'k\\u0000'],
    ];
    for (const [payload, path] of refused) {
      await expect(client.enqueue(noop, payload)).rejects.toSatisfy(
        (error: unknown) => error instanceof PayloadNotJsonError && error.field === 'payload' && error.path === path,
      );
    }
    await expect(client.enqueue(noop, 1, { metadata: { tag: '\u0000' } })).rejects.toSatisfy(
      (error: unknown) => error instanceof PayloadNotJsonError && error.field === 'metadata' && error.path === 'tag',
    );
    await expect(client.enqueue(noop, 1, { key: 'order-\u0000' })).rejects.toSatisfy(
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'key',
    );
    expect((await backend.list({})).jobs).toHaveLength(0);
  });

  test('bad input is rejected at enqueue with a typed error naming the problem, and nothing is written', async ({ clock, backend, client }) => {
    const strict = defineJob({ name: 'strict', schema: positiveNumber, run: (n) => n });
    client = createClient({ backend, clock, jobs: [strict] });
    await expect(client.enqueue('no-such-job', {})).rejects.toSatisfy(
      (error: unknown) => error instanceof UnknownJobError && error.jobName === 'no-such-job' && error.message.includes('strict'),
    );
    await expect(client.enqueue(strict, -1)).rejects.toSatisfy(
      (error: unknown) => error instanceof PayloadValidationError && error.payload === -1 && error.message.includes('positive'),
    );
    class Money {
      cents = 1;
    }
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const notJson: Array<[unknown, string]> = [
      [{ callback: () => 1 }, 'callback'],
      [{ amount: new Money() }, 'amount'],
      [{ id: 10n }, 'id'],
      [{ nested: { cycle } }, 'nested.cycle.self'],
      [{ when: new Date() }, 'when'],
      [{ list: [1, Number.NaN] }, 'list[1]'],
    ];
    for (const [payload, path] of notJson) {
      await expect(client.enqueue(noop, payload)).rejects.toSatisfy((error: unknown) => error instanceof PayloadNotJsonError && error.path === path);
    }
    await expect(client.enqueue(noop, 1, { delay: -5 })).rejects.toSatisfy(
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'delay' && error.value === -5,
    );
    await expect(client.enqueue(noop, 1, { maxAttempts: 0 })).rejects.toSatisfy(
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'maxAttempts' && error.value === 0,
    );
    await expect(client.enqueue(noop, 1, { priority: 1.5 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(client.enqueue(noop, 1, { queue: 'has space' })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(client.enqueue(noop, 1, { delay: '5 parsecs' as never })).rejects.toBeInstanceOf(InvalidOptionError);
    // Beyond any time a store keeps as a valid Date; and NaN is named NaN, not null.
    await expect(client.enqueue(noop, 1, { delay: 1e300 })).rejects.toThrow('Invalid delay: 1e+300. Expected a duration of at most 1000 years.');
    await expect(client.enqueue(noop, 1, { delay: Number.NaN })).rejects.toThrow('Invalid delay: NaN.');
    await expect(client.enqueue(noop, 1, { runAt: Date.UTC(10000, 0, 1) })).rejects.toSatisfy(
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'runAt' && error.message.includes('before the year 10000'),
    );
    await expect(client.enqueue(noop, 1, { runAt: new Date(Number.NaN) })).rejects.toThrow('Invalid runAt: Invalid Date.');
    await expect(client.enqueue(noop, 1, { timout: '1s' } as EnqueueOptions)).rejects.toSatisfy(
      (error: unknown) => error instanceof UnknownOptionError && error.suggestion === 'timeout',
    );
    expect((await backend.list({})).jobs).toHaveLength(0);
    expect((await backend.stats()).counts).toMatchObject({ queued: 0, scheduled: 0 });
  });
}

/** A minimal Standard Schema, so the suite needs no validator package. */
const positiveNumber: StandardSchemaV1<number, number> = {
  '~standard': {
    version: 1,
    vendor: 'jobsmith-test',
    validate: (value) =>
      typeof value === 'number' && value > 0 ? { value } : { issues: [{ message: 'expected a positive number', path: [] }] },
  },
};
