/**
 * A full disk is a passing condition, not a broken store: writes fail with a transient
 * StoreError that workers back off from, prune can still free space, and the write-ahead log,
 * which would otherwise keep the space it grew to, is folded back and cut once a write runs
 * out of room. The database is made full with `PRAGMA max_page_count` on the backend's own
 * connection (the setting is per connection), so no special volume is needed.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import type { NewJob } from '../../src/contract/backend.ts';
import { StoreError } from '../../src/domain/errors.ts';
import { createClient, createWorker, defineJob } from '../../src/index.ts';
import { newJob } from './fixtures/new-job.ts';

let dir: string;
let file: string;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jobsmith-sqlite-full-'));
  file = join(dir, 'jobs.db');
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function openBackend(): Promise<SqliteBackend> {
  const backend = new SqliteBackend({ path: file });
  cleanups.push(() => backend.close());
  await backend.open();
  return backend;
}

/** The backend's own connection: `max_page_count` holds only for the connection that sets it. */
function connectionOf(backend: SqliteBackend): Database.Database {
  const db = (backend as unknown as { db: Database.Database | null }).db;
  if (!db) throw new Error('the backend is not open');
  return db;
}

/** Lets the database grow by `pages` more pages at most (0: it is full now). */
function limitPages(backend: SqliteBackend, pages: number): void {
  const db = connectionOf(backend);
  db.pragma(`max_page_count = ${(db.pragma('page_count', { simple: true }) as number) + pages}`);
}

function walBytes(): number {
  return existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0;
}

/** A job of about 1 kB, to fill pages quickly. */
function paddedJob(n: number): NewJob {
  return newJob({ payload: JSON.stringify({ n, pad: 'x'.repeat(1000) }) });
}

/** Enqueues one job at a time until the store refuses; resolves with the refusal. */
async function enqueueUntilFull(backend: SqliteBackend): Promise<StoreError> {
  for (let n = 0; n < 100_000; n++) {
    try {
      await backend.enqueue([paddedJob(n)]);
    } catch (error) {
      expect(error).toBeInstanceOf(StoreError);
      return error as StoreError;
    }
  }
  throw new Error('the store never ran full');
}

async function completeAll(backend: SqliteBackend): Promise<number> {
  let completed = 0;
  for (;;) {
    const { jobs } = await backend.claim({ workerId: 'w', leaseMs: 60_000, queues: ['default'], names: ['work'], limit: 100 });
    if (jobs.length === 0) return completed;
    const { applied } = await backend.settle(jobs.map((job) => ({ kind: 'complete', id: job.id, token: job.lease.token, result: null, expiresAt: null })));
    completed += applied.filter(Boolean).length;
  }
}

describe('sqlite: a full disk', () => {
  // The old backend marked SQLITE_FULL transient: false, as if the store were broken for good.
  it('fails a write with a transient StoreError (SQLITE_FULL); prune still frees space, and writes work again', async () => {
    const backend = await openBackend();
    for (let n = 0; n < 300; n++) await backend.enqueue([paddedJob(n)]);
    expect(await completeAll(backend)).toBe(300);
    limitPages(backend, 0);

    const error = await enqueueUntilFull(backend);
    expect(error).toMatchObject({ code: 'STORE_ERROR', transient: true, details: { operation: 'enqueue', sqliteCode: 'SQLITE_FULL' } });
    expect((error.cause as { code?: unknown }).code).toBe('SQLITE_FULL');

    expect(await backend.prune({ finishedBy: Date.now() })).toBe(300);
    await backend.enqueue([paddedJob(-1)]);
  });

  // The old backend left the log as it was: megabytes SQLite folds back only past its own
  // threshold and never gives back to the volume, so a volume that ran full stayed full.
  it('folds the write-ahead log into the database and cuts it to zero bytes once a write runs out of room', async () => {
    const backend = await openBackend();
    for (let n = 0; n < 200; n++) await backend.enqueue([paddedJob(n)]);
    expect(walBytes()).toBeGreaterThan(100_000);
    limitPages(backend, 0);
    const error = await enqueueUntilFull(backend);
    expect(error.details).toMatchObject({ sqliteCode: 'SQLITE_FULL', walFold: 'folded and truncated' });
    expect(walBytes()).toBe(0);
  });

  it('a fold that another connection holds back is done before a later write, once that connection lets go', async () => {
    const backend = await openBackend();
    for (let n = 0; n < 200; n++) await backend.enqueue([paddedJob(n)]);
    limitPages(backend, 0);
    // Another process in the middle of a read holds the log: it cannot be cut under it.
    const reader = new (await import('better-sqlite3')).default(file);
    cleanups.push(async () => void reader.close());
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM jobsmith_jobs').get();
    // A fresh frame after the reader's snapshot: a small job, which fits in the pages the file has
    // (a padded one needs an overflow page of its own in the id-keyed jobsmith_jobs, migration 10).
    await backend.enqueue([newJob()]);
    const error = await enqueueUntilFull(backend);
    expect(error.details).toMatchObject({ sqliteCode: 'SQLITE_FULL', walFold: expect.stringMatching(/^deferred/) });
    expect(walBytes()).toBeGreaterThan(0);
    reader.exec('COMMIT');
    await new Promise((resolve) => setTimeout(resolve, 150)); // folds are tried at most every 100 ms
    expect(await backend.delete('no such job')).toBe(false); // a write that needs no room
    expect(walBytes()).toBe(0);
  });

  // The old backend kept whatever log it found: a store restarted after running full stayed full.
  it('a store opened with a log above its size limit folds it back before its first write', async () => {
    const backend = await openBackend();
    // A reader on an old snapshot keeps the log from restarting, so it grows past its limit.
    const reader = new (await import('better-sqlite3')).default(file);
    cleanups.push(async () => void reader.close());
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM jobsmith_jobs').get();
    for (let n = 0; n < 40; n++) await backend.enqueue(Array.from({ length: 100 }, (_, i) => paddedJob(n * 100 + i)));
    expect(walBytes()).toBeGreaterThan(6 * 1024 * 1024); // the limit the backend sets
    // The files as a crash (or a kill, or a full volume at close) leaves them, opened anew.
    const copy = join(dir, 'copy.db');
    copyFileSync(file, copy);
    copyFileSync(`${file}-wal`, `${copy}-wal`);
    const reopened = new SqliteBackend({ path: copy });
    cleanups.push(() => reopened.close());
    await reopened.open();
    expect(await reopened.delete('no such job')).toBe(false);
    expect(statSync(`${copy}-wal`).size).toBe(0);
    expect((await reopened.stats()).counts.queued).toBe(4000);
  });

  // The worker retried on the old backend too, but was told the error was permanent.
  it('a worker backs off from a full store and writes the outcome once space returns', { timeout: 30_000 }, async () => {
    const backend = await openBackend();
    let finish!: () => void;
    const handlerDone = new Promise<void>((resolve) => (finish = resolve));
    let runs = 0;
    const big = defineJob<{ n: number }, string>({
      name: 'big-result',
      run: async () => {
        runs++;
        finish();
        return 'r'.repeat(200_000);
      },
    });
    const client = createClient({ backend, jobs: [big] });
    const worker = createWorker({ backend, jobs: [big], concurrency: 1, pruneInterval: null });
    const errors: unknown[] = [];
    worker.on('worker:error', ({ error }) => errors.push(error));
    cleanups.push(() => worker.stop({ timeout: 0 }));
    limitPages(backend, 5); // room to enqueue and claim, not for a 200 kB result
    const { id } = await client.enqueue(big, { n: 1 });
    await worker.start();
    await handlerDone;
    const deadline = Date.now() + 10_000;
    while (errors.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors.length).toBeGreaterThanOrEqual(2);
    for (const error of errors) expect(error).toMatchObject({ code: 'STORE_ERROR', transient: true, details: { sqliteCode: 'SQLITE_FULL' } });
    expect((await client.get(id))?.state).toBe('running');

    limitPages(backend, 10_000); // space came back
    expect((await client.waitFor(id, { timeout: '10s' })).state).toBe('completed');
    expect(runs).toBe(1);
  });
});
