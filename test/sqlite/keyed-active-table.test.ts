// Migration 10: jobsmith_jobs keyed by the job's id, WITHOUT ROWID, with no seq (issue #21's
// enqueue floors). What the conformance suite cannot see on a fresh file: a version-9 file's
// waiting and running jobs come through the rebuild with every column, still claimable in
// priority and run-time order, their keys still held, their leases still honoured.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { sqliteMigrations } from '../../src/backends/sqlite/sqlite-migrations.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';
import { newJob } from './fixtures/new-job.ts';
import { closeHandles } from './fixtures/close-handles.ts';

const start = Date.UTC(2026, 0, 1, 12);
let dir: string;
let file: string;
let clock: FakeClock;
const opened: Array<SqliteBackend | Database.Database> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jobsmith-sqlite-keyed-'));
  file = join(dir, 'jobs.db');
  clock = new FakeClock(start);
});

afterEach(async () => {
  await closeHandles(opened);
  rmSync(dir, { recursive: true, force: true });
});

describe('migration 10: the active jobs table keyed by id', () => {
  it('keeps a version-9 file’s waiting and running jobs, their order, keys and leases', async () => {
    const before = new Database(file);
    opened.push(before);
    before.exec('CREATE TABLE jobsmith_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const migration of sqliteMigrations.filter((m) => m.version <= 9)) {
      before.exec(migration.sql);
      before.prepare('INSERT INTO jobsmith_migrations VALUES (?, ?)').run(migration.version, start);
    }
    const insert = before.prepare(`INSERT INTO jobsmith_jobs (id, name, queue, state, payload, metadata, priority, key, max_attempts, run_at, created_at,
      started_at, lease_token, lease_worker, lease_expires_at, progress_history, attempt_history)
      VALUES (?, 'work', 'default', ?, ?, '{"m":1}', ?, ?, 3, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // Ids out of enqueue order on purpose: the claim orders by priority, then run time, then id.
    insert.run('job-c', 'queued', '{"n":1}', 0, null, start - 3_000, start - 3_000, null, null, null, null, '[]', null);
    insert.run('job-a', 'queued', '{"n":2}', 5, 'held-key', start - 1_000, start - 1_000, null, null, null, null, '[]', null);
    insert.run('job-b', 'queued', '{"n":3}', 0, null, start - 2_000, start - 2_000, null, null, null, null, '[]', null);
    insert.run('job-r', 'running', '{"n":4}', 0, null, start - 5_000, start - 5_000, start - 4_000, 'lease-token-r', 'w0', start + 60_000, '[{"p":1}]',
      '[{"attempt":1,"outcome":"crashed"}]');
    insert.run('job-s', 'scheduled', '{"n":5}', 0, null, start + 60_000, start - 1_000, null, null, null, null, '[]', null);
    const rowsAt9 = before.prepare('SELECT * FROM jobsmith_jobs ORDER BY id').all() as Array<Record<string, unknown>>;
    before.close();

    const backend = new SqliteBackend({ path: file, clock, synchronous: 'normal' });
    opened.push(backend);
    await backend.open();
    const db = new Database(file);
    opened.push(db);
    expect(db.prepare('SELECT max(version) AS v FROM jobsmith_migrations').get()).toEqual({ v: sqliteMigrations.at(-1)!.version });
    expect((db.prepare("SELECT sql FROM sqlite_master WHERE name = 'jobsmith_jobs'").get() as { sql: string }).sql).toMatch(/WITHOUT ROWID$/);
    // Every column but seq, unchanged.
    expect(db.prepare('SELECT * FROM jobsmith_jobs ORDER BY id').all()).toEqual(rowsAt9.map(({ seq: _seq, ...rest }) => rest));

    // The key is still held: the same key again answers with its holder.
    expect(await backend.enqueue([newJob({ key: 'held-key', runAt: clock.now(), createdAt: clock.now() })])).toEqual([{ id: 'job-a', created: false }]);
    // Priority first, then run time; the running job's lease is still its own.
    const claimed = await backend.claim({ workerId: 'w1', leaseMs: 30_000, queues: ['default'], names: ['work'], limit: 10 });
    expect(claimed.jobs.map((job) => job.id)).toEqual(['job-a', 'job-c', 'job-b']);
    expect(new Set(claimed.jobs.map((job) => job.lease.token)).size).toBe(3);
    expect((await backend.renewLeases([{ id: 'job-r', token: 'lease-token-r' }], 30_000))[0]).toMatchObject({ id: 'job-r', held: true });
    // A completion still moves the row out (migration 8's trigger, made again), and its attempt history stays.
    const { applied } = await backend.settle([{ kind: 'complete', id: 'job-r', token: 'lease-token-r', result: 7, expiresAt: null }]);
    expect(applied).toEqual([true]);
    expect(db.prepare("SELECT count(*) AS n FROM jobsmith_jobs WHERE id = 'job-r'").get()).toEqual({ n: 0 });
    expect(await backend.get('job-r')).toMatchObject({ state: 'completed', result: 7, attemptHistory: [{ attempt: 1, outcome: 'crashed' }] });
  });

  it('orders a batch claim by id within the same priority and run time, and gives each attempt its own token', async () => {
    const backend = new SqliteBackend({ path: file, clock, synchronous: 'normal' });
    opened.push(backend);
    await backend.open();
    const jobs = Array.from({ length: 60 }, () => newJob({ runAt: clock.now(), createdAt: clock.now() }));
    await backend.enqueue([...jobs].reverse());
    const claimed = await backend.claim({ workerId: 'w1', leaseMs: 30_000, queues: ['default'], names: ['work'], limit: 60 });
    // Ids are UUIDv7, increasing in the order they were made, whatever order they were sent in.
    expect(claimed.jobs.map((job) => job.id)).toEqual(jobs.map((job) => job.id));
    const tokens = claimed.jobs.map((job) => job.lease.token);
    expect(new Set(tokens).size).toBe(60);
    expect(new Set(tokens.map((token) => token.slice(0, 16))).size).toBe(1);
  });
});
