// Capability flows on SQLite, beyond the shared conformance suite: graphs as deep as a flow may
// be (maxFlowJobs), the rows and indexes behind them, and the paths of jobs outside flows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { sqliteStatementTexts } from '../../src/backends/sqlite/sqlite-connection.ts';
import { sqliteMigrations } from '../../src/backends/sqlite/sqlite-migrations.ts';
import type { BackendEvent, ChildFailurePolicy, FlowJob, NewFlow, NewJob } from '../../src/contract/backend.ts';
import { childFailedError, maxFlowJobs, waitingForChildrenRunAt } from '../../src/contract/flow-store.ts';
import { InvalidFlowError } from '../../src/domain/errors.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';
import { newJob as fixtureJob } from './fixtures/new-job.ts';
import { closeHandles } from './fixtures/close-handles.ts';

const start = Date.UTC(2026, 0, 1, 12);
let dir: string;
let clock: FakeClock;
const opened: Array<SqliteBackend | Database.Database> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jobsmith-sqlite-flows-'));
  clock = new FakeClock(start);
});

afterEach(async () => {
  await closeHandles(opened);
  rmSync(dir, { recursive: true, force: true });
});

async function backend(): Promise<SqliteBackend> {
  const instance = new SqliteBackend({ path: join(dir, 'jobs.db'), clock, synchronous: 'normal' });
  opened.push(instance);
  await instance.open();
  return instance;
}

function connect(): Database.Database {
  const db = new Database(join(dir, 'jobs.db'), { fileMustExist: true });
  opened.push(db);
  return db;
}

/** The shared fixture's job, with this id and on the fake clock. */
function newJob(id: string, overrides: Partial<NewJob> = {}): NewJob {
  return fixtureJob({ id, runAt: clock.now(), createdAt: clock.now(), ...overrides });
}

function flowJob(id: string, children: string[] = [], policy: ChildFailurePolicy = 'fail', overrides: Partial<FlowJob> = {}): FlowJob {
  return { ...newJob(id), dependsOn: children.map((childId) => ({ childId, onChildFailure: policy })), runIf: 'always', ...overrides };
}

/** A chain of `length` jobs: `c<i>` waits for `c<i-1>`; `c0` runs first. */
function chain(length: number, policy: ChildFailurePolicy = 'fail'): NewFlow {
  const id = (i: number) => `c${String(i).padStart(5, '0')}`;
  return { flowId: 'chain', jobs: Array.from({ length }, (_, i) => flowJob(id(i), i === 0 ? [] : [id(i - 1)], policy)) };
}

async function claimOne(instance: SqliteBackend) {
  const { jobs } = await instance.claim({ workerId: 'w', leaseMs: 60_000, queues: ['default'], names: ['work'], limit: 1 });
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

function stateCounts(db: Database.Database): Record<string, number> {
  // Finished rows are in jobsmith_finished (migration 8); the view holds both tables.
  const rows = db.prepare('SELECT state, count(*) AS n FROM jobsmith_any_job GROUP BY state').all() as Array<{ state: string; n: number }>;
  return Object.fromEntries(rows.map((row) => [row.state, row.n]));
}

describe('graphs as deep as a flow may be', () => {
  it(`a chain of ${maxFlowJobs}: one failure fails every parent above it in the same settle`, async () => {
    const instance = await backend();
    await instance.enqueueFlow(chain(maxFlowJobs));
    const first = await claimOne(instance);
    expect(first.id).toBe('c00000');
    const settled = await instance.settle([
      { kind: 'fail', id: first.id, token: first.lease.token, error: { name: 'Error', message: 'no', at: clock.now(), attempt: 1 }, countAttempt: true, expiresAt: null, hookPending: false },
    ]);
    expect(settled.applied).toEqual([true]);
    expect(stateCounts(connect())).toEqual({ failed: maxFlowJobs });
    const top = (await instance.get(`c${maxFlowJobs - 1}`))!;
    expect(top.error).toEqual(childFailedError({ id: `c${String(maxFlowJobs - 2).padStart(5, '0')}`, name: 'work', state: 'failed' }, clock.now()));
    expect(top.flow).toEqual({ flowId: 'chain', children: 1, pendingChildren: 0, hasParents: false });
    expect(await instance.flowProgress('chain')).toMatchObject({ total: maxFlowJobs, finished: maxFlowJobs, leaves: { total: 1, finished: 1 } });
  }, 60_000);

  it(`a chain of ${maxFlowJobs}: cancelling its last parent cancels every job below it, and asks the running one to stop`, async () => {
    const instance = await backend();
    await instance.enqueueFlow(chain(maxFlowJobs));
    const first = await claimOne(instance);
    const events: BackendEvent[] = [];
    instance.subscribe((event) => events.push(event));
    const result = await instance.cancel(`c${maxFlowJobs - 1}`);
    expect(result.outcome).toBe('cancelled');
    expect(stateCounts(connect())).toEqual({ cancelled: maxFlowJobs - 1, running: 1 });
    expect((await instance.get(first.id))!.cancelRequested).toBe(true);
    expect(events).toContainEqual({ type: 'cancel-requested', id: first.id });
    // The running one, cancelled at last, finds every parent finished: its counter alone goes down.
    await instance.settle([{ kind: 'cancel', id: first.id, token: first.lease.token, error: null, expiresAt: null }]);
    expect((await instance.get('c00001'))!.flow).toEqual({ flowId: 'chain', children: 1, pendingChildren: 0, hasParents: true });
    expect(stateCounts(connect())).toEqual({ cancelled: maxFlowJobs });
  }, 60_000);

  it(`a chain of ${maxFlowJobs} finished is pruned whole, parents and dependencies, in one call`, async () => {
    const instance = await backend();
    await instance.enqueueFlow(chain(maxFlowJobs, 'cancel'));
    await instance.cancel('c00000');
    expect(stateCounts(connect())).toEqual({ cancelled: maxFlowJobs });
    await clock.advance('1s');
    expect(await instance.prune({ finishedBy: clock.now() })).toBe(maxFlowJobs);
    expect(connect().prepare('SELECT count(*) AS n FROM jobsmith_dependencies').get()).toEqual({ n: 0 });
    expect(await instance.flowProgress('chain')).toBeNull();
  }, 60_000);
});

describe('writing a flow', () => {
  it('is all or nothing: an id already taken fails it with InvalidFlowError and writes no row', async () => {
    const instance = await backend();
    await instance.enqueue([newJob('taken')]);
    const flow: NewFlow = { flowId: 'f', jobs: [flowJob('a'), flowJob('b', ['a']), flowJob('taken'), flowJob('p', ['b', 'taken'])] };
    const error = await instance.enqueueFlow(flow).then(
      () => null,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(InvalidFlowError);
    expect((error as InvalidFlowError).code).toBe('INVALID_FLOW');
    expect((error as InvalidFlowError).details).toMatchObject({ id: 'taken' });
    const db = connect();
    expect(db.prepare('SELECT id FROM jobsmith_jobs').all()).toEqual([{ id: 'taken' }]);
    expect(db.prepare('SELECT count(*) AS n FROM jobsmith_dependencies').get()).toEqual({ n: 0 });
  });

  it('stores a waiting parent as scheduled at waitingForChildrenRunAt, and a claim does not report it as the next run', async () => {
    const instance = await backend();
    await instance.enqueueFlow({ flowId: 'f', jobs: [flowJob('a', [], 'fail', { runAt: start + 60_000 }), flowJob('p', ['a'])] });
    expect(await instance.get('p')).toMatchObject({ state: 'scheduled', runAt: waitingForChildrenRunAt, flow: { flowId: 'f', children: 1, pendingChildren: 1, hasParents: false } });
    const claimed = await instance.claim({ workerId: 'w', leaseMs: 60_000, queues: ['default'], names: ['work'], limit: 1 });
    expect(claimed).toEqual({ jobs: [], nextRunAt: start + 60_000 });
    await instance.cancel('a');
    // Only the waiting parent is left scheduled: nothing to sleep until.
    expect((await instance.get('p'))!.state).toBe('failed');
    await instance.enqueueFlow({ flowId: 'g', jobs: [flowJob('x', [], 'fail', { name: 'other' }), flowJob('q', ['x'])] });
    expect(await instance.claim({ workerId: 'w', leaseMs: 60_000, queues: ['default'], names: ['work'], limit: 1 })).toEqual({ jobs: [], nextRunAt: null });
  });
});

describe('jobs outside flows', () => {
  it('carry no flow in their record and no flow columns set', async () => {
    const instance = await backend();
    await instance.enqueue([newJob('plain')]);
    const record = (await instance.get('plain'))!;
    expect('flow' in record).toBe(false);
    expect((await instance.list({})).jobs.every((job) => !('flow' in job))).toBe(true);
    const row = connect().prepare('SELECT flow_id, has_parents, total_children, pending_children, run_if FROM jobsmith_jobs').get();
    expect(row).toEqual({ flow_id: null, has_parents: 0, total_children: 0, pending_children: 0, run_if: null });
  });

  it('settle and claim statements read has_parents and nothing else of flows', () => {
    const texts = sqliteStatementTexts();
    for (const name of ['completeBatch', 'completeMoved', 'fail', 'cancelRunning', 'expired', 'ready', 'startBatch', 'start', 'cancelExpired'] as const) {
      expect(texts[name], name).not.toMatch(/jobsmith_dependencies/);
      // completeBatch copies a completed row's flow columns into jobsmith_finished (migration 8),
      // as it copies every other, without testing them.
      const read = name === 'completeBatch' ? texts[name].replace(/j\.(flow_id|total_children|pending_children)\b/g, '').replace(/\b(flow_id|total_children|pending_children),/g, '') : texts[name];
      expect(read, name).not.toMatch(/flow_id|pending_children|total_children/);
    }
    for (const name of ['completeBatch', 'fail', 'cancelRunning', 'expired'] as const) expect(texts[name], name).toMatch(/has_parents/);
  });

  it('enqueue, claim, every settle, the takeover of an expired cancel-requested job and cancel never read the dependencies table', async () => {
    const instance = await backend();
    // Without the table, any of these statements that touched it would fail with "no such table".
    const db = connect();
    db.exec('DROP TRIGGER jobsmith_jobs_parent_deleted; DROP TABLE jobsmith_dependencies;');
    await instance.enqueue(['done', 'failed', 'cancelled', 'crashed', 'waiting'].map((id) => newJob(id)));
    const { jobs } = await instance.claim({ workerId: 'w', leaseMs: 1000, queues: ['default'], names: ['work'], limit: 4 });
    const token = (id: string) => jobs.find((job) => job.id === id)!.lease.token;
    const settled = await instance.settle(
      [
        { kind: 'complete', id: 'done', token: token('done'), result: 1, expiresAt: null },
        { kind: 'fail', id: 'failed', token: token('failed'), error: { name: 'Error', message: 'no', at: clock.now(), attempt: 1 }, countAttempt: true, expiresAt: null, hookPending: true },
        { kind: 'cancel', id: 'cancelled', token: token('cancelled'), error: null, expiresAt: null },
      ],
      { workerId: 'w', leaseMs: 1000, queues: ['default'], names: ['work'], limit: 1 },
    );
    expect(settled.applied).toEqual([true, true, true]);
    expect(settled.claimed!.jobs.map((job) => job.id)).toEqual(['waiting']);
    expect((await instance.cancel('crashed')).outcome).toBe('cancel-requested');
    await clock.advance('2s');
    await instance.claim({ workerId: 'w', leaseMs: 1000, queues: ['default'], names: ['work'], limit: 5 });
    expect((await instance.get('crashed'))!.state).toBe('cancelled');
    await instance.enqueue([newJob('queued')]);
    expect((await instance.cancel('queued')).outcome).toBe('cancelled');
  });

  it('every statement of flows looks its rows up through an index, with or without statistics', async () => {
    const instance = await backend();
    await instance.enqueue(Array.from({ length: 500 }, (_, i) => newJob(`plain-${i}`)));
    await instance.enqueueFlow(chain(200));
    const db = connect();
    const texts = sqliteStatementTexts();
    for (const analyzed of [false, true]) {
      if (analyzed) db.exec('ANALYZE');
      for (const name of ['resolveDependencies', 'countDown', 'anyNotCompleted', 'unfinishedDescendants', 'childrenOf', 'flowCounts', 'finishedFlowCounts', 'takenId'] as const) {
        const parameters = name === 'resolveDependencies' ? [{ outcome: 'completed', childId: 'c00001' }] : ['c00001'];
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${texts[name]}`).all(...parameters) as Array<{ detail: string }>).map((row) => row.detail);
        // A SCAN is of the few rows the statement was handed (json_each) or found (below), never of a table.
        for (const detail of plan.filter((line) => line.startsWith('SCAN '))) expect(detail, `${name} (analyzed: ${analyzed})`).toMatch(/^SCAN (below|json_each)/);
        expect(plan.join('\n'), name).not.toMatch(/jobsmith_jobs_state/);
      }
    }
  });

  it('stats count waiting parents by a seek in the partial index of scheduled jobs, never a scan of the jobs', async () => {
    const instance = await backend();
    await instance.enqueue(Array.from({ length: 500 }, (_, i) => newJob(`plain-${i}`, { runAt: i % 2 === 0 ? clock.now() : clock.now() + 60_000 })));
    await instance.enqueueFlow(chain(50));
    const db = connect();
    const text = sqliteStatementTexts().waitingForChildren;
    for (const analyzed of [false, true]) {
      if (analyzed) db.exec('ANALYZE');
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(waitingForChildrenRunAt) as Array<{ detail: string }>).map((row) => row.detail);
      expect(plan.join('\n'), `analyzed: ${analyzed}`).toMatch(/SEARCH jobsmith_jobs USING INDEX jobsmith_jobs_scheduled \(run_at=\?\)/);
      expect(plan.filter((line) => line.startsWith('SCAN ')), `analyzed: ${analyzed}`).toEqual([]);
    }
    expect(db.prepare(text).all(waitingForChildrenRunAt)).toEqual([{ queue: 'default', count: 49 }]);
    expect((await instance.stats()).waitingForChildren).toBe(49);
  });

  it('a flow is found through the partial index on flow_id, which holds no job outside flows', async () => {
    const instance = await backend();
    await instance.enqueue([newJob('plain')]);
    await instance.enqueueFlow({ flowId: 'f', jobs: [flowJob('a'), flowJob('p', ['a'])] });
    const db = connect();
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sqliteStatementTexts().flowCounts}`).all('f') as Array<{ detail: string }>).map((row) => row.detail);
    expect(plan.join('\n')).toMatch(/USING INDEX jobsmith_jobs_flow \(flow_id=\?\)/);
    expect(db.prepare('SELECT count(*) AS n FROM jobsmith_jobs INDEXED BY jobsmith_jobs_flow WHERE flow_id IS NOT NULL').get()).toEqual({ n: 2 });
  });
});

describe('the migration', () => {
  it('adds flows to a file written before them: its jobs stay outside any flow', async () => {
    const file = join(dir, 'jobs.db');
    const before = new Database(file);
    before.exec('CREATE TABLE jobsmith_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const migration of sqliteMigrations.filter((m) => m.version < 7)) {
      before.exec(migration.sql);
      before.prepare('INSERT INTO jobsmith_migrations VALUES (?, ?)').run(migration.version, start);
    }
    before
      .prepare("INSERT INTO jobsmith_jobs (id, name, queue, state, payload, metadata, priority, max_attempts, run_at, created_at) VALUES ('old', 'work', 'default', 'queued', '{}', '{}', 0, 1, ?, ?)")
      .run(start, start);
    before.close();
    const instance = await backend();
    const record = (await instance.get('old'))!;
    expect(record.state).toBe('queued');
    expect('flow' in record).toBe(false);
    const job = await claimOne(instance);
    expect((await instance.settle([{ kind: 'complete', id: job.id, token: job.lease.token, result: 1, expiresAt: null }])).applied).toEqual([true]);
  });
});

describe('the migration of finished jobs to their own table (migration 8)', () => {
  it('moves the finished rows of a file written before it, keeps their steps, counts them, and leaves a failure whose hook is pending', async () => {
    const file = join(dir, 'jobs.db');
    const before = new Database(file);
    before.pragma('foreign_keys = ON');
    before.exec('CREATE TABLE jobsmith_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const migration of sqliteMigrations.filter((m) => m.version < 8)) {
      before.exec(migration.sql);
      before.prepare('INSERT INTO jobsmith_migrations VALUES (?, ?)').run(migration.version, start);
    }
    const insert = before.prepare(`INSERT INTO jobsmith_jobs (id, name, queue, state, payload, metadata, priority, max_attempts, attempts,
      run_at, created_at, finished_at, result, failed_hook, settled_token, lease_token, lease_worker, lease_expires_at)
      VALUES (?, 'work', 'default', ?, '{}', ?, 0, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    insert.run('done', 'completed', '{"who":"me"}', 1, start, start, start, '42', null, 'token-done', null, null, null);
    insert.run('gone', 'cancelled', '{}', 0, start, start, start, null, null, null, null, null, null);
    insert.run('hooked', 'failed', '{}', 1, start, start, start, null, 'pending', 'token-hooked', 'token-hooked', 'w', start + 60_000);
    insert.run('waiting', 'queued', '{}', 0, start, start, null, null, null, null, null, null, null);
    before.prepare(`INSERT INTO jobsmith_steps (job_id, name, started_at, record) VALUES ('done', 'fetch', ?, '{"name":"fetch"}')`).run(start);
    before.close();

    const instance = await backend();
    const db = connect();
    expect(db.prepare('SELECT id FROM jobsmith_finished ORDER BY id').all()).toEqual([{ id: 'done' }, { id: 'gone' }]);
    expect(db.prepare('SELECT id FROM jobsmith_jobs ORDER BY id').all()).toEqual([{ id: 'hooked' }, { id: 'waiting' }]);
    const done = (await instance.get('done'))!;
    expect([done.state, done.result, done.metadata, done.progressHistory, done.logs, done.lease]).toEqual(['completed', 42, { who: 'me' }, [], [], null]);
    expect((await instance.findByIdPrefix('', 10)).map((job) => job.id)).toEqual(['done', 'gone', 'hooked', 'waiting']);
    expect((await instance.list({})).jobs.map((job) => job.id)).toEqual(['waiting', 'hooked', 'gone', 'done']);
    expect(db.prepare("SELECT job_id FROM jobsmith_steps").all()).toEqual([{ job_id: 'done' }]);
    expect((await instance.stats()).counts).toMatchObject({ completed: 1, cancelled: 1, failed: 1, queued: 1 });
    // The repeated outcome of the finished job is still recognised.
    expect((await instance.settle([{ kind: 'complete', id: 'done', token: 'token-done', result: 42, expiresAt: null }])).applied).toEqual([true]);
    // The hook's end moves the failure; prune then takes the finished rows and their steps.
    expect((await instance.settle([{ kind: 'hook-done', id: 'hooked', token: 'token-hooked' }])).applied).toEqual([true]);
    expect(db.prepare('SELECT id FROM jobsmith_finished ORDER BY id').all()).toEqual([{ id: 'done' }, { id: 'gone' }, { id: 'hooked' }]);
    await clock.advance('1s');
    expect(await instance.prune({ finishedBy: clock.now() })).toBe(3);
    expect(db.prepare('SELECT count(*) AS n FROM jobsmith_steps').get()).toEqual({ n: 0 });
    expect((await instance.stats()).counts).toMatchObject({ completed: 0, cancelled: 0, failed: 0, queued: 1 });
  });
});

describe('completions moved by completeBatch (migration 8)', () => {
  it('the same completion twice in one settle is applied once and reported applied twice; the row is in jobsmith_finished only', async () => {
    const instance = await backend();
    await instance.enqueue([newJob('twice')]);
    const job = await claimOne(instance);
    const completion = { kind: 'complete' as const, id: job.id, token: job.lease.token, result: { ok: true }, expiresAt: null };
    expect((await instance.settle([completion, completion])).applied).toEqual([true, true]);
    const db = connect();
    expect(db.prepare('SELECT count(*) AS n FROM jobsmith_jobs').get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT id, state, attempts, result, settled_token FROM jobsmith_finished').all()).toEqual([
      // The token's claim part alone (migration 9): a batch claim's token is `<16 characters>-<place in the batch>`.
      { id: 'twice', state: 1, attempts: 1, result: '{"ok":true}', settled_token: job.lease.token.slice(0, 16) },
    ]);
    expect((await instance.stats()).counts).toMatchObject({ completed: 1, running: 0 });
  });
});

describe('deleting and pruning around a flow', () => {
  it('a waiting parent deleted takes its dependencies: its children stay, without parents', async () => {
    const instance = await backend();
    await instance.enqueueFlow({ flowId: 'f', jobs: [flowJob('a'), flowJob('b'), flowJob('p', ['a', 'b']), flowJob('q', ['b'])] });
    expect(await instance.delete('p')).toBe(true);
    expect(await instance.listChildren('p')).toEqual([]);
    expect((await instance.get('a'))!.flow!.hasParents).toBe(false);
    expect((await instance.get('b'))!.flow!.hasParents).toBe(true);
    expect(connect().prepare('SELECT parent_id, child_id FROM jobsmith_dependencies').all()).toEqual([{ parent_id: 'q', child_id: 'b' }]);
  });

  it('prune keeps a finished child while its parent has not finished, and lets it go after', async () => {
    const instance = await backend();
    await instance.enqueueFlow({ flowId: 'f', jobs: [flowJob('a'), flowJob('b'), flowJob('p', ['a', 'b'], 'continue')] });
    await instance.cancel('a');
    expect((await instance.get('p'))!.state).toBe('queued');
    await clock.advance('1s');
    expect(await instance.prune({ finishedBy: clock.now() })).toBe(0);
    await instance.cancel('p');
    await instance.cancel('b');
    expect(await instance.prune({ finishedBy: clock.now(), states: ['cancelled'] })).toBe(3);
    expect(connect().prepare('SELECT count(*) AS n FROM jobsmith_dependencies').get()).toEqual({ n: 0 });
  });
});
