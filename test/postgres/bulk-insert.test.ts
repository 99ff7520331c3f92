/**
 * The PostgreSQL enqueue's three INSERTs (sql/queue.sql): `insertJobs` (keys, queue rows),
 * `insertKeylessJobs` (keyless jobs into queues the backend has recorded) and
 * `insertSharedJobs` (keyless jobs that share every setting, bound once), all fed array
 * literals that postgres-array-literals.ts builds. Texts that a hand-built literal could get
 * wrong must come back exactly as they went in, through each statement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewJob } from '../../src/contract/job-queue.ts';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { numberArrayLiteral, textArrayLiteral } from '../../src/backends/postgres/postgres-array-literals.ts';
import { newJobId } from '../../src/domain/ids.ts';
import { StoreError } from '../../src/domain/errors.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');

const awkward = ['', 'NULL', 'null', 'a,b', '{x}', 'say "hi"', 'back\\slash', '\\"', ' padded ', 'ünï €', 'line\nbreak', "it's"];

describe('postgres array literals', () => {
  it('quotes every text, escapes only backslashes and double quotes, and writes NULL for null', () => {
    expect(textArrayLiteral(['a', null, '', 'NULL', 'say "hi"', 'back\\slash'])).toBe('{"a",NULL,"","NULL","say \\"hi\\"","back\\\\slash"}');
    expect(numberArrayLiteral([0, null, -3, 1764900000000])).toBe('{0,NULL,-3,1764900000000}');
    expect(textArrayLiteral([])).toBe('{}');
  });
});

describe.skipIf(servers.skip)('postgres backend: the bulk INSERTs', () => {
  let server: PostgresServer;
  let backend: PostgresBackend;

  beforeAll(async () => {
    server = await startPostgres();
    backend = new PostgresBackend({ connectionString: await server.createDatabase('bulk_insert') });
    await backend.open();
  }, 120_000);

  afterAll(async () => {
    await backend?.close();
    await server?.stop();
  });

  const job = (index: number, overrides: Partial<NewJob> = {}): NewJob => {
    const now = Date.now();
    const text = awkward[index % awkward.length]!;
    return {
      id: newJobId(now),
      name: `job ${text}`,
      queue: `queue ${text}`,
      payload: JSON.stringify({ text, index }),
      metadata: { text },
      priority: index % 3,
      maxAttempts: 2,
      backoff: index % 2 === 0 ? null : { type: 'fixed', delay: 5 },
      timeoutMs: index % 2 === 0 ? null : 1_000,
      keepCompletedMs: null,
      keepFailedMs: 60_000,
      key: null,
      runAt: now,
      createdAt: now,
      ...overrides,
    };
  };

  it('stores awkward texts exactly, first with the queue rows and then through the keyless INSERT', async () => {
    // The first call records the queues (insertJobs); the second finds them recorded and has
    // no keys (insertKeylessJobs); the third has a key again (insertJobs).
    const calls = [
      awkward.map((_, index) => job(index)),
      awkward.map((_, index) => job(index)),
      awkward.map((_, index) => job(index, { key: `key ${awkward[index]} ${index}` })),
    ];
    for (const jobs of calls) {
      const results = await backend.enqueue(jobs);
      expect(results).toEqual(jobs.map((stored) => ({ id: stored.id, created: true })));
      for (const stored of jobs) {
        const record = await backend.get(stored.id);
        expect(record).toMatchObject({
          id: stored.id,
          name: stored.name,
          queue: stored.queue,
          state: 'queued',
          payload: JSON.parse(stored.payload),
          metadata: stored.metadata,
          priority: stored.priority,
          maxAttempts: stored.maxAttempts,
          key: stored.key,
        });
      }
    }
    const queues = (await backend.stats()).queues.map((queue) => queue.queue);
    for (const text of awkward) expect(queues).toContain(`queue ${text}`);
  });

  it('stores a batch of alike keyless jobs (insertSharedJobs) with each its own id, payload, run time and state, and the settings they share', async () => {
    const now = Date.now();
    const settings = { name: 'shared "job"', queue: 'shared\\queue', metadata: { tenant: "it's {x}", list: [1, 'a,b'] }, backoff: { type: 'fixed' as const, delay: 7 }, priority: 1, timeoutMs: 2_000 };
    await backend.enqueue([job(0, settings)]); // records the queue: the next call takes the keyless statements
    const batch = awkward.map((_, index) => job(index, { ...settings, runAt: index % 3 === 0 ? now + 3_600_000 : now, createdAt: now }));
    expect(await backend.enqueue(batch)).toEqual(batch.map((stored) => ({ id: stored.id, created: true })));
    for (const stored of batch) {
      expect(await backend.get(stored.id)).toMatchObject({
        id: stored.id,
        name: settings.name,
        queue: settings.queue,
        state: stored.runAt > now ? 'scheduled' : 'queued',
        payload: JSON.parse(stored.payload),
        metadata: settings.metadata,
        backoff: settings.backoff,
        priority: 1,
        maxAttempts: 2,
        timeoutMs: 2_000,
        keepCompletedMs: null,
        keepFailedMs: 60_000,
        key: null,
        runAt: stored.runAt,
        createdAt: now,
      });
    }
    // A taken id fails the whole alike batch, as it fails any keyless one.
    const clashing = [job(1, { ...settings, createdAt: now }), { ...job(2, { ...settings, createdAt: now }), id: batch[1]!.id }];
    await expect(backend.enqueue(clashing)).rejects.toBeInstanceOf(StoreError);
    expect(await backend.get(clashing[0]!.id)).toBeNull();
  });

  it('fails a keyless batch whose id is taken, and stores none of it', async () => {
    const first = job(0);
    await backend.enqueue([first]);
    const clash = [job(1), { ...job(2), id: first.id, name: 'another' }];
    await expect(backend.enqueue(clash)).rejects.toBeInstanceOf(StoreError);
    expect(await backend.get(clash[0]!.id)).toBeNull();
  });
});
