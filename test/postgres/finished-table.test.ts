/**
 * Migration 11 (finished jobs in a table of their own) on a schema that already holds jobs,
 * and the moves between the two tables that the conformance suite sees only through the contract.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewJob } from '../../src/contract/job-queue.ts';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { postgresMigrations } from '../../src/backends/postgres/postgres-migrations.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');

describe.skipIf(servers.skip)('postgres backend: finished jobs in their own table (migration 11)', () => {
  let server: PostgresServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 3 });
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  const ids = {
    completed: '00000000-0000-4000-8000-000000000001',
    hookPending: '00000000-0000-4000-8000-000000000002',
    queued: '00000000-0000-4000-8000-000000000003',
    cancelled: '00000000-0000-4000-8000-000000000004',
  };

  it('moves the finished jobs of a version-10 schema, keeps a pending hook and a step where they belong, and reads them all back', async () => {
    const schema = 'v10';
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`);
    for (const migration of postgresMigrations({ S: `"${schema}"`, channel: `jobsmith_${schema}` }).filter((m) => m.version <= 10)) {
      await pool.query(migration.sql);
      await pool.query(`INSERT INTO ${schema}.migrations VALUES ($1, 0)`, [migration.version]);
    }
    const now = Date.now();
    const insert = (id: string, state: string, extra: string) =>
      pool.query(
        `INSERT INTO ${schema}.jobs (id, name, queue, state, payload, max_attempts, run_at, created_at, attempts, finished_at, failed_hook, lease_token, lease_worker, lease_expires_at)
         SELECT $1, 'job', 'q', $2, '{}', 3, $3, $3, ${extra}`,
        [id, state, now],
      );
    await insert(ids.completed, 'completed', `1, ${now}, NULL, NULL, NULL, NULL`);
    await insert(ids.hookPending, 'failed', `1, ${now}, 'pending', 'token', 'w', ${now + 60_000}`);
    await insert(ids.queued, 'queued', '0, NULL, NULL, NULL, NULL, NULL');
    await insert(ids.cancelled, 'cancelled', `0, ${now}, NULL, NULL, NULL, NULL`);
    await pool.query(`INSERT INTO ${schema}.steps (job_id, name, started_at, record) VALUES ($1, 'a', $2, '{"name":"a"}')`, [ids.completed, now]);

    const backend = new PostgresBackend({ pool, schema });
    await backend.open();
    try {
      const inTable = async (table: string) =>
        (await pool.query<{ id: string }>(`SELECT id FROM ${schema}.${table} ORDER BY id`)).rows.map((row) => row.id);
      expect(await inTable('jobs')).toEqual([ids.hookPending, ids.queued]);
      expect(await inTable('finished_jobs')).toEqual([ids.completed, ids.cancelled]);
      expect(await backend.get(ids.completed)).toMatchObject({ state: 'completed' });
      expect(await backend.get(ids.hookPending)).toMatchObject({ state: 'failed' });
      expect((await backend.list({})).jobs.map((job) => job.id)).toEqual([ids.cancelled, ids.queued, ids.hookPending, ids.completed]);
      expect((await backend.list({ limit: 1, cursor: (await backend.list({ limit: 2 })).nextCursor ?? undefined })).jobs.map((job) => job.id)).toEqual([
        ids.hookPending,
      ]);
      expect((await backend.stats()).counts).toMatchObject({ completed: 1, failed: 1, queued: 1, cancelled: 1 });
      expect(await backend.listSteps(ids.completed)).toEqual([{ name: 'a' }]);

      // A retry moves the cancelled job back; its row is active again and claimable.
      expect(await backend.retry(ids.cancelled)).toMatchObject({ state: 'queued' });
      expect(await inTable('jobs')).toEqual([ids.hookPending, ids.queued, ids.cancelled]);

      // Pruning a finished job takes its steps (the trigger); deleting an active one too.
      expect(await backend.prune({ finishedBy: now + 1, states: ['completed'] })).toBe(1);
      expect(await backend.listSteps(ids.completed)).toEqual([]);
      expect(await backend.get(ids.completed)).toBeNull();
      expect(await backend.delete(ids.queued)).toBe(true);
      expect(await inTable('jobs')).toEqual([ids.hookPending, ids.cancelled]);
    } finally {
      await backend.close();
    }
  });

  it('a completion moves its job, a failure and a cancel are moved by the trigger, a failure with its hook pending stays until the hook is done', async () => {
    const schema = 'moves';
    const backend = new PostgresBackend({ pool, schema });
    await backend.open();
    try {
      const now = Date.now();
      const job = (id: string): NewJob => ({
        id, name: 'job', queue: 'q', payload: '{}', metadata: {}, priority: 0, key: null, maxAttempts: 1, backoff: null, timeoutMs: null,
        keepCompletedMs: null, keepFailedMs: null, runAt: now, createdAt: now,
      });
      await backend.enqueue([ids.completed, ids.hookPending, ids.queued, ids.cancelled].map(job));
      const { jobs } = await backend.claim({ workerId: 'w', leaseMs: 60_000, queues: ['q'], names: ['job'], limit: 4 });
      const token = (id: string) => jobs.find((claimed) => claimed.id === id)!.lease.token;
      const error = { name: 'Error', message: 'no', at: now, attempt: 1 };
      const { applied } = await backend.settle([
        { id: ids.completed, token: token(ids.completed), kind: 'complete', result: 7, expiresAt: null },
        { id: ids.hookPending, token: token(ids.hookPending), kind: 'fail', error, countAttempt: true, expiresAt: null, hookPending: true },
        { id: ids.queued, token: token(ids.queued), kind: 'fail', error, countAttempt: true, expiresAt: null, hookPending: false },
        { id: ids.cancelled, token: token(ids.cancelled), kind: 'cancel', error, expiresAt: null },
      ]);
      expect(applied).toEqual([true, true, true, true]);
      const inTable = async (table: string) =>
        (await pool.query<{ id: string }>(`SELECT id FROM ${schema}.${table} ORDER BY id`)).rows.map((row) => row.id);
      expect(await inTable('jobs')).toEqual([ids.hookPending]);
      expect(await inTable('finished_jobs')).toEqual([ids.completed, ids.queued, ids.cancelled]);
      expect(await backend.get(ids.completed)).toMatchObject({ state: 'completed', result: 7, attempts: 1 });
      // The same completion sent again after a lost reply is recognised in finished_jobs.
      const again = await backend.settle([{ id: ids.completed, token: token(ids.completed), kind: 'complete', result: 7, expiresAt: null }]);
      expect(again.applied).toEqual([true]);
      const done = await backend.settle([{ id: ids.hookPending, token: token(ids.hookPending), kind: 'hook-done' }]);
      expect(done.applied).toEqual([true]);
      expect(await inTable('jobs')).toEqual([]);
      expect(await backend.get(ids.hookPending)).toMatchObject({ state: 'failed' });
    } finally {
      await backend.close();
    }
  });
});
