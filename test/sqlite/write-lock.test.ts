/**
 * Waiting for a write lock another connection (as another process would) holds: the wait is
 * on a timer, so this process runs on meanwhile; the writes that queue up meanwhile go
 * through together once the lock is free, each atomic on its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend, type SqliteBackendOptions } from '../../src/backends/sqlite/sqlite-backend.ts';
import { InvalidStateError, LeaseLostError, StoreError } from '../../src/domain/errors.ts';
import { newJob } from './fixtures/new-job.ts';

let dir: string;
let file: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jobsmith-sqlite-lock-'));
  file = join(dir, 'jobs.db');
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function openBackend(options: Partial<SqliteBackendOptions> = {}): Promise<SqliteBackend> {
  const backend = new SqliteBackend({ path: file, ...options });
  cleanups.push(() => backend.close());
  await backend.open();
  return backend;
}

/** Another connection that takes the write lock, as another process would. */
function lockHolder(): { release: () => void } {
  const other = new Database(file);
  cleanups.push(() => void other.close());
  other.exec('BEGIN IMMEDIATE');
  return { release: () => other.exec('COMMIT') };
}

/** Counts 5 ms ticks of this process's event loop until stopped. */
function tickCounter(): { stop: () => number } {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  return {
    stop: () => {
      clearInterval(timer);
      return ticks;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An enqueue made while another connection holds the lock for 200 ms: this process ticks on meanwhile, and the job is stored once the lock is free. */
async function expectEnqueueWaitsForLock(backend: SqliteBackend): Promise<void> {
  const lock = lockHolder();
  const ticks = tickCounter();
  const job = newJob();
  const enqueued = backend.enqueue([job]);
  await sleep(200);
  lock.release();
  expect(await enqueued).toEqual([{ id: job.id, created: true }]);
  expect(ticks.stop()).toBeGreaterThan(10);
  expect((await backend.get(job.id))?.state).toBe('queued');
}

describe('sqlite: waiting for the write lock', () => {
  // The old backend waited inside SQLite: the timer that was to release the lock could not
  // fire until the busy timeout gave up, so the enqueue failed and nothing ticked meanwhile.
  it('a write waits on a timer while another connection holds the lock, and goes through once it is free', async () => {
    await expectEnqueueWaitsForLock(await openBackend());
  });

  // A lone keyless enqueue into a queue this backend has written to is one INSERT, run in
  // autocommit without BEGIN IMMEDIATE (sqlite-write-queue.ts): it waits for the lock the same way.
  it('a lone one-statement enqueue (autocommit) waits on a timer for the lock too, and a taken id fails it alone', async () => {
    const backend = await openBackend({ busyTimeoutMs: 2_000 });
    const [first] = await backend.enqueue([newJob()]);
    await expectEnqueueWaitsForLock(backend);

    const taken = await backend.enqueue([{ ...newJob(), id: first!.id }]).catch((caught: unknown) => caught);
    expect(taken).toBeInstanceOf(StoreError);
    const after = newJob();
    expect(await backend.enqueue([after])).toEqual([{ id: after.id, created: true }]);
    expect((await backend.stats()).counts.queued).toBe(3);
  });

  it('a lone one-statement enqueue that does not get the lock within busyTimeout fails with a transient StoreError', async () => {
    const backend = await openBackend({ busyTimeoutMs: 150 });
    await backend.enqueue([newJob()]);
    lockHolder();
    const error = await backend.enqueue([newJob()]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ transient: true, details: { operation: 'enqueue', sqliteCode: 'SQLITE_BUSY' } });
  });

  // The old backend blocked for the whole busy timeout and called the failure permanent.
  it('a write that does not get the lock within busyTimeout fails with a transient StoreError (SQLITE_BUSY)', async () => {
    const backend = await openBackend({ busyTimeoutMs: 300 });
    const lock = lockHolder();
    const ticks = tickCounter();
    const error = await backend.enqueue([newJob()]).catch((caught: unknown) => caught);
    expect(ticks.stop()).toBeGreaterThan(10);
    lock.release();
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ transient: true, details: { operation: 'enqueue', sqliteCode: 'SQLITE_BUSY' } });
  });

  it('the writes that queued while waiting go through together, and one that fails is undone alone', async () => {
    const backend = await openBackend();
    const [running] = await backend.enqueue([newJob()]);
    const { jobs } = await backend.claim({ workerId: 'w', leaseMs: 60_000, queues: ['default'], names: ['work'], limit: 1 });
    expect(jobs.map((job) => job.id)).toEqual([running!.id]);

    const lock = lockHolder();
    const first = newJob();
    const last = newJob();
    const calls = [
      backend.enqueue([first]),
      backend.retry(running!.id), // a running job cannot be retried
      backend.recordProgress({ id: running!.id, token: 'not-the-lease' }, { percent: 50, message: null, at: Date.now() }),
      backend.pause('paused-queue'),
      backend.enqueue([last]),
    ].map((call) => call.then((value) => ({ value }), (error: unknown) => ({ error })));
    await sleep(50);
    lock.release();
    const [enqueuedFirst, retried, progressed, paused, enqueuedLast] = await Promise.all(calls);
    expect(enqueuedFirst).toEqual({ value: [{ id: first.id, created: true }] });
    expect((retried as { error: unknown }).error).toBeInstanceOf(InvalidStateError);
    expect((progressed as { error: unknown }).error).toBeInstanceOf(LeaseLostError);
    expect(paused).toEqual({ value: undefined });
    expect(enqueuedLast).toEqual({ value: [{ id: last.id, created: true }] });
    expect((await backend.get(first.id))?.state).toBe('queued');
    expect((await backend.get(last.id))?.state).toBe('queued');
    expect((await backend.get(running!.id))?.progress).toBeNull();
    expect((await backend.stats()).queues.find((queue) => queue.queue === 'paused-queue')?.paused).toBe(true);
  });

  it('a write that runs out of room among queued writes fails alone; the others are stored', async () => {
    const backend = await openBackend();
    await backend.enqueue([newJob()]);
    const db = (backend as unknown as { db: Database.Database }).db;
    db.pragma(`max_page_count = ${(db.pragma('page_count', { simple: true }) as number) + 2}`);
    const lock = lockHolder();
    const small = newJob();
    const huge = newJob({ payload: JSON.stringify({ pad: 'x'.repeat(200_000) }) });
    const alsoSmall = newJob();
    const calls = [backend.enqueue([small]), backend.enqueue([huge]), backend.enqueue([alsoSmall])].map((call) =>
      call.then((value) => ({ value }), (error: unknown) => ({ error })),
    );
    await sleep(50);
    lock.release();
    const [first, second, third] = await Promise.all(calls);
    expect(first).toEqual({ value: [{ id: small.id, created: true }] });
    expect((second as { error: unknown }).error).toMatchObject({ code: 'STORE_ERROR', transient: true, details: { sqliteCode: 'SQLITE_FULL' } });
    expect(third).toEqual({ value: [{ id: alsoSmall.id, created: true }] });
    expect(await backend.get(huge.id)).toBeNull();
  });
});
