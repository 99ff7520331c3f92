// What SQLite keeps on disk per finished job (issue #21's disk floor), beyond the conformance
// suite: migration 9's relative times and token prefixes, read back and recognised as before,
// and the free pages a new file gives back (auto_vacuum=INCREMENTAL).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { sqliteMigrations } from '../../src/backends/sqlite/sqlite-migrations.ts';
import type { NewJob } from '../../src/contract/backend.ts';
import type { JobRecord } from '../../src/domain/job-record.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';
import { newJob as fixtureJob } from './fixtures/new-job.ts';
import { closeHandles } from './fixtures/close-handles.ts';

const start = Date.UTC(2026, 0, 1, 12);
let dir: string;
let file: string;
let clock: FakeClock;
const opened: Array<SqliteBackend | Database.Database> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jobsmith-sqlite-disk-'));
  file = join(dir, 'jobs.db');
  clock = new FakeClock(start);
});

afterEach(async () => {
  await closeHandles(opened);
  rmSync(dir, { recursive: true, force: true });
});

async function backend(): Promise<SqliteBackend> {
  const instance = new SqliteBackend({ path: file, clock, synchronous: 'normal' });
  opened.push(instance);
  await instance.open();
  return instance;
}

function connect(): Database.Database {
  const db = new Database(file, { fileMustExist: true });
  opened.push(db);
  return db;
}

function newJob(id: string, overrides: Partial<NewJob> = {}): NewJob {
  return fixtureJob({ id, runAt: clock.now(), createdAt: clock.now(), ...overrides });
}

async function claim(instance: SqliteBackend, limit = 1) {
  return (await instance.claim({ workerId: 'w', leaseMs: 60_000, queues: ['default'], names: ['work'], limit })).jobs;
}

/** The file's size once its log is folded into it. */
function foldedSize(): number {
  const db = new Database(file);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return statSync(file).size;
}

const error = (at: number) => ({ name: 'Error', message: 'no', at, attempt: 1 });

describe('migration 9: finished rows keep times relative to created_at and a token prefix', () => {
  it('a file whose finished rows migration 8 moved reads back the same times, prunes by expiry and recognises repeated outcomes', async () => {
    // A version-8 file: rows finished before migration 8, which moved them to jobsmith_finished.
    const before = new Database(file);
    before.pragma('foreign_keys = ON');
    before.exec('CREATE TABLE jobsmith_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const apply = (migration: { version: number; sql: string }) => {
      before.exec(migration.sql);
      before.prepare('INSERT INTO jobsmith_migrations VALUES (?, ?)').run(migration.version, start);
    };
    for (const migration of sqliteMigrations.filter((m) => m.version < 8)) apply(migration);
    const insert = before.prepare(`INSERT INTO jobsmith_jobs (id, name, queue, state, payload, metadata, priority, max_attempts, attempts,
      run_at, created_at, started_at, finished_at, expires_at, result, settled_token)
      VALUES (?, 'work', 'default', ?, '{}', '{}', 0, 1, 1, ?, ?, ?, ?, ?, ?, ?)`);
    // A UUID token (36 characters, as lease tokens were before compact ones), due an hour before
    // it was made, kept for 30 days; a cancelled job that never started and never expires; a
    // completion whose expiry is past at `start`.
    const uuidToken = '5b0f4a1e-8c2d-4e6f-9a1b-3c5d7e9f0a2b';
    insert.run('done', 'completed', start - 3_600_000, start - 10_000, start - 9_000, start - 8_500, start + 30 * 86_400_000, '7', uuidToken);
    insert.run('gone', 'cancelled', start - 5_000, start - 5_000, null, start - 4_000, null, null, null);
    insert.run('old', 'completed', start - 200_000, start - 200_000, start - 199_999, start - 199_000, start - 1, 'null', 'short-token');
    apply(sqliteMigrations.find((m) => m.version === 8)!);
    const readBack = (db: Database.Database) => db.prepare('SELECT * FROM jobsmith_finished_job ORDER BY id').all();
    const atVersion8 = readBack(before);
    expect(atVersion8).toHaveLength(3);
    before.close();

    const instance = await backend();
    const db = connect();
    expect(db.prepare('SELECT max(version) AS v FROM jobsmith_migrations').get()).toEqual({ v: sqliteMigrations.at(-1)!.version });
    // Every column of the view, times included, as migration 8 showed them; only the token is shorter.
    // (Less the view's `seq`, always NULL for a finished row, which migration 10 dropped with the column.)
    expect(readBack(db)).toEqual(
      atVersion8.map((row) => {
        const { seq: _seq, ...rest } = row as { seq: null; settled_token: string | null };
        return { ...rest, settled_token: rest.settled_token?.slice(0, 16) ?? null };
      }),
    );
    expect(db.prepare('SELECT id, run_after, started_after, finished_after, expires_after, settled_token FROM jobsmith_finished ORDER BY id').all()).toEqual([
      { id: 'done', run_after: -3_590_000, started_after: 1_000, finished_after: 1_500, expires_after: 30 * 86_400_000 + 10_000, settled_token: uuidToken.slice(0, 16) },
      { id: 'gone', run_after: 0, started_after: null, finished_after: 1_000, expires_after: null, settled_token: null },
      { id: 'old', run_after: 0, started_after: 1, finished_after: 1_000, expires_after: 199_999, settled_token: 'short-token' },
    ]);
    const done = (await instance.get('done'))!;
    expect(times(done)).toEqual({ runAt: start - 3_600_000, createdAt: start - 10_000, startedAt: start - 9_000, finishedAt: start - 8_500, expiresAt: start + 30 * 86_400_000 });
    expect((await instance.list({ state: 'completed' })).jobs.map(times)).toEqual([times((await instance.get('old'))!), times(done)]);
    // The whole old token, and its prefix, are recognised; another token is not.
    const complete = (id: string, token: string) => ({ kind: 'complete' as const, id, token, result: 7, expiresAt: null });
    expect((await instance.settle([complete('done', uuidToken), complete('done', uuidToken.slice(0, 16)), complete('done', 'another-claim-token')])).applied).toEqual([true, true, false]);
    expect((await instance.settle([complete('old', 'short-token')])).applied).toEqual([true]);
    // Prune by expiry compares created_at + expires_after: only 'old' has expired.
    expect(await instance.prune({ expired: true })).toBe(1);
    expect((await instance.findByIdPrefix('', 10)).map((job) => job.id)).toEqual(['done', 'gone']);
    // Prune by finishing time: 'gone' finished at start - 4,000, 'done' at start - 8,500.
    expect(await instance.prune({ finishedBy: start - 5_000 })).toBe(1);
    expect((await instance.findByIdPrefix('', 10)).map((job) => job.id)).toEqual(['gone']);
    // A retried job's start time is made absolute again in jobsmith_jobs.
    const retried = await instance.retry('gone');
    expect(times(retried)).toMatchObject({ createdAt: start - 5_000, startedAt: null, finishedAt: null, expiresAt: null });
  });

  it('jobs finished by this backend read back the times they were given, whatever outcome finished them', async () => {
    const instance = await backend();
    const created = clock.now();
    await instance.enqueue([newJob('c', { runAt: created - 50 }), newJob('f'), newJob('x')]);
    await clock.advance('2s');
    const jobs = await claim(instance, 3);
    await clock.advance('300ms');
    const token = (id: string) => jobs.find((job) => job.id === id)!.lease.token;
    const settledAt = clock.now();
    expect((await instance.settle([
      { kind: 'complete', id: 'c', token: token('c'), result: null, expiresAt: settledAt + 86_400_000 },
      { kind: 'fail', id: 'f', token: token('f'), error: error(settledAt), countAttempt: true, expiresAt: settledAt + 7 * 86_400_000, hookPending: false },
      { kind: 'cancel', id: 'x', token: token('x'), error: null, expiresAt: null },
    ])).applied).toEqual([true, true, true]);
    const db = connect();
    expect(db.prepare('SELECT count(*) AS n FROM jobsmith_jobs').get()).toEqual({ n: 0 });
    expect(times((await instance.get('c'))!)).toEqual({ runAt: created - 50, createdAt: created, startedAt: created + 2_000, finishedAt: settledAt, expiresAt: settledAt + 86_400_000 });
    expect(times((await instance.get('f'))!)).toEqual({ runAt: created, createdAt: created, startedAt: created + 2_000, finishedAt: settledAt, expiresAt: settledAt + 7 * 86_400_000 });
    expect(times((await instance.get('x'))!)).toEqual({ runAt: created, createdAt: created, startedAt: created + 2_000, finishedAt: settledAt, expiresAt: null });
    // Stored small: offsets of a few seconds (1–3 bytes each) and 16-character tokens.
    expect(db.prepare("SELECT run_after, started_after, finished_after, expires_after, length(settled_token) AS token FROM jobsmith_finished WHERE id = 'c'").get()).toEqual({
      run_after: -50,
      started_after: 2_000,
      finished_after: 2_300,
      expires_after: 2_300 + 86_400_000,
      token: 16,
    });
  });
});

describe('a repeated outcome, recognised by the 16-character prefix of its token (migration 9)', () => {
  it('is reported applied with the same token and not with another claim\'s, for each outcome that finishes a job', async () => {
    const instance = await backend();
    // 'r' is claimed and retried first: its first claim's token must not match its finished row.
    await instance.enqueue([newJob('r', { maxAttempts: 2 })]);
    const [first] = await claim(instance);
    expect((await instance.settle([{ kind: 'retry', id: 'r', token: first!.lease.token, error: error(clock.now()), runAt: clock.now(), countAttempt: true }])).applied).toEqual([true]);
    await instance.enqueue([newJob('c'), newJob('f'), newJob('x'), newJob('h')]);
    const jobs = await claim(instance, 5);
    expect(jobs.map((job) => job.id).sort()).toEqual(['c', 'f', 'h', 'r', 'x']);
    // Batch tokens: `<16 characters>-<place in the batch>`, the prefix shared by the batch, the suffix each job's own.
    expect(new Set(jobs.map((job) => job.lease.token.slice(0, 16))).size).toBe(1);
    expect(jobs.every((job) => job.lease.token.length > 16)).toBe(true);
    const token = (id: string) => jobs.find((job) => job.id === id)!.lease.token;
    const outcomes = () => [
      { kind: 'complete' as const, id: 'c', token: token('c'), result: 1, expiresAt: null },
      { kind: 'fail' as const, id: 'f', token: token('f'), error: error(clock.now()), countAttempt: true, expiresAt: null, hookPending: false },
      { kind: 'cancel' as const, id: 'x', token: token('x'), error: null, expiresAt: null },
      { kind: 'fail' as const, id: 'h', token: token('h'), error: error(clock.now()), countAttempt: true, expiresAt: null, hookPending: true },
      { kind: 'complete' as const, id: 'r', token: token('r'), result: 2, expiresAt: null },
    ];
    expect((await instance.settle(outcomes())).applied).toEqual([true, true, true, true, true]);
    // 'h' waits for its hook in jobsmith_jobs with its whole token; its hook's end moves it.
    expect((await instance.settle([{ kind: 'hook-done', id: 'h', token: token('h') }])).applied).toEqual([true]);
    const db = connect();
    expect(db.prepare('SELECT id, settled_token FROM jobsmith_finished ORDER BY id').all()).toEqual(
      ['c', 'f', 'h', 'r', 'x'].map((id) => ({ id, settled_token: token(id).slice(0, 16) })),
    );
    // Written again after a lost reply: each is recognised, and changes nothing.
    expect((await instance.settle(outcomes())).applied).toEqual([true, true, true, true, true]);
    expect((await instance.settle([{ kind: 'hook-done', id: 'h', token: token('h') }])).applied).toEqual([true]);
    expect((await instance.get('c'))!.result).toBe(1);
    expect((await instance.stats()).counts).toMatchObject({ completed: 2, failed: 2, cancelled: 1 });
    // 'r''s first claim, and a made-up claim, are not.
    const stale = (id: string, staleToken: string) => ({ kind: 'complete' as const, id, token: staleToken, result: 3, expiresAt: null });
    expect((await instance.settle([stale('r', first!.lease.token), stale('c', 'AAAAAAAAAAAAAAAA-1'), stale('c', token('c').slice(0, 15))])).applied).toEqual([false, false, false]);
    expect((await instance.settle([{ kind: 'hook-done', id: 'h', token: first!.lease.token }])).applied).toEqual([false]);
  });
});

describe('free pages given back (auto_vacuum=INCREMENTAL)', () => {
  it('a new file is made with auto_vacuum=INCREMENTAL, and shrinks when a prune removes rows', async () => {
    const instance = await backend();
    const db = connect();
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
    const payload = JSON.stringify({ text: 'x'.repeat(2_000) });
    await instance.enqueue(Array.from({ length: 2_000 }, (_, i) => newJob(`job-${String(i).padStart(5, '0')}`, { payload })));
    for (let jobs = await claim(instance, 500); jobs.length > 0; jobs = await claim(instance, 500)) {
      await instance.settle(jobs.map((job) => ({ kind: 'complete' as const, id: job.id, token: job.lease.token, result: null, expiresAt: null })));
    }
    const full = foldedSize();
    expect(full).toBeGreaterThan(2_000 * 2_000);
    await clock.advance('1s');
    expect(await instance.prune({ finishedBy: clock.now() })).toBe(2_000);
    expect(db.pragma('freelist_count', { simple: true })).toBe(0);
    expect(foldedSize()).toBeLessThan(full / 10);
  });

  it('close gives back the pages the queued rows left once they moved to jobsmith_finished', async () => {
    const instance = await backend();
    const payload = JSON.stringify({ text: 'x'.repeat(500) });
    await instance.enqueue(Array.from({ length: 4_000 }, (_, i) => newJob(`job-${String(i).padStart(5, '0')}`, { payload })));
    for (let jobs = await claim(instance, 1_000); jobs.length > 0; jobs = await claim(instance, 1_000)) {
      await instance.settle(jobs.map((job) => ({ kind: 'complete' as const, id: job.id, token: job.lease.token, result: null, expiresAt: null })));
    }
    const db = new Database(file);
    const free = db.pragma('freelist_count', { simple: true }) as number;
    expect(free).toBeGreaterThan(0);
    const open = foldedSize();
    await instance.close();
    expect(db.pragma('freelist_count', { simple: true })).toBe(0);
    db.close();
    expect(foldedSize()).toBeLessThanOrEqual(open - free * 4096);
  });

  it('a file made before keeps auto_vacuum=NONE, and prune works as before', async () => {
    const before = new Database(file);
    before.exec('CREATE TABLE other_app (x)');
    before.close();
    const instance = await backend();
    const db = connect();
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(0);
    await instance.enqueue([newJob('a')]);
    const [job] = await claim(instance);
    await instance.settle([{ kind: 'complete', id: job!.id, token: job!.lease.token, result: null, expiresAt: null }]);
    await clock.advance('1s');
    expect(await instance.prune({ finishedBy: clock.now() })).toBe(1);
  });
});

function times(record: JobRecord) {
  return { runAt: record.runAt, createdAt: record.createdAt, startedAt: record.startedAt, finishedAt: record.finishedAt, expiresAt: record.expiresAt };
}
