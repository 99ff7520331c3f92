/**
 * Enqueueing inside the caller's own transaction, and migrations when many processes
 * start at once.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { createClient, createWorker, defineJob } from '../../src/index.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');

describe.skipIf(servers.skip)('postgres backend: transactions and migrations', () => {
  let server: PostgresServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 5 });
    await pool.query('CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)');
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  const shipOrder = defineJob({ name: 'ship-order', run: (payload: { orderId: number }) => payload.orderId });

  it('a job enqueued in the caller’s transaction exists only if it commits, and is invisible before', async () => {
    const client = createClient({ backend: new PostgresBackend({ pool, schema: 'tx' }), jobs: [shipOrder] });
    await (await client.backend()).open();
    const ran: number[] = [];
    const worker = createWorker({
      backend: new PostgresBackend({ pool, schema: 'tx' }),
      jobs: [defineJob({ name: 'ship-order', run: (payload: { orderId: number }) => void ran.push(payload.orderId) })],
      pollInterval: '100ms',
    });
    await worker.start();
    try {
      // Rolled back: neither the order nor its job exists.
      const rolledBack = await pool.connect();
      let doomedId: string;
      try {
        await rolledBack.query('BEGIN');
        const { rows } = await rolledBack.query<{ id: number }>("INSERT INTO orders (item) VALUES ('lost') RETURNING id");
        ({ id: doomedId } = await client.enqueue(shipOrder, { orderId: rows[0]!.id }, { tx: rolledBack }));
        await rolledBack.query('ROLLBACK');
      } finally {
        rolledBack.release();
      }
      await expect(client.get(doomedId)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });

      // Committed: both exist, and the job is not run before the commit.
      const committed = await pool.connect();
      let orderId: number;
      let jobId: string;
      try {
        await committed.query('BEGIN');
        const { rows } = await committed.query<{ id: number }>("INSERT INTO orders (item) VALUES ('book') RETURNING id");
        orderId = rows[0]!.id;
        ({ id: jobId } = await client.enqueue(shipOrder, { orderId }, { tx: committed }));
        await new Promise((resolve) => setTimeout(resolve, 400)); // several worker polls
        expect(ran).toEqual([]);
        await expect(client.get(jobId)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
        await committed.query('COMMIT');
      } finally {
        committed.release();
      }
      const record = await client.waitFor(jobId, { timeout: '10s' });
      expect(record.state).toBe('completed');
      expect(ran).toEqual([orderId]);

      // enqueueMany in a transaction is all or nothing with the caller's work.
      const many = await pool.connect();
      try {
        await many.query('BEGIN');
        const results = await client.enqueueMany(
          [1, 2, 3].map((n) => ({ job: shipOrder, payload: { orderId: 1000 + n } })),
          { tx: many },
        );
        expect(results).toHaveLength(3);
        await many.query('ROLLBACK');
      } finally {
        many.release();
      }
      expect((await client.list({ name: 'ship-order' })).jobs).toHaveLength(1);
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('a tx that is not a pg client is rejected, and other backends refuse tx', async () => {
    const client = createClient({ backend: new PostgresBackend({ pool, schema: 'tx' }), jobs: [shipOrder] });
    await expect(client.enqueue(shipOrder, { orderId: 1 }, { tx: { notAClient: true } })).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'tx' });
    const memory = createClient({ backend: 'memory:', jobs: [shipOrder] });
    await expect(memory.enqueue(shipOrder, { orderId: 1 }, { tx: {} })).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'tx' });
    await client.close();
    await memory.close();
  });

  it('ten processes’ worth of backends migrating one schema at once apply each migration exactly once', async () => {
    const backends = Array.from({ length: 10 }, () => new PostgresBackend({ connectionString: server.url, schema: 'racing', poolSize: 2 }));
    await Promise.all(backends.map((backend) => backend.open()));
    const { rows } = await server.query<{ version: number; n: number }>('SELECT version, count(*)::int AS n FROM racing.migrations GROUP BY version');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.n === 1)).toBe(true);
    await Promise.all(backends.map((backend) => backend.close()));
  });

  it('hot statements are prepared once per connection of its own pool, never on the caller’s transaction, and not at all when turned off', async () => {
    /** Names of the statements prepared on the one connection of a one-connection pool, after an enqueue, a claim and a settle. */
    async function preparedAfterWork(preparedStatements: boolean | undefined, schema: string): Promise<string[]> {
      const single = new pg.Pool({ connectionString: server.url, max: 1 });
      const backend = new PostgresBackend({ pool: single, schema, ...(preparedStatements === undefined ? {} : { preparedStatements }) });
      const client = createClient({ backend, jobs: [shipOrder] });
      try {
        const { id } = await client.enqueue(shipOrder, { orderId: 1 });
        const claimed = await backend.claim({ queues: ['default'], names: ['ship-order'], limit: 5, workerId: 'w', leaseMs: 30_000 });
        expect(claimed.jobs.map((job) => job.id)).toEqual([id]);
        const lease = claimed.jobs[0]!;
        const { applied } = await backend.settle([{ kind: 'complete', id, token: lease.lease.token, result: 1, expiresAt: null }]);
        expect(applied).toEqual([true]);
        // Twice over, so a statement the connection already holds is reused rather than prepared again (which pg refuses).
        await client.enqueue(shipOrder, { orderId: 2 });
        await client.enqueueMany([
          { job: shipOrder, payload: { orderId: 3 } },
          { job: shipOrder, payload: { orderId: 4 }, options: { priority: 5 } },
        ]);
        const { rows } = await single.query<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE name LIKE 'jobsmith%' ORDER BY name");
        return rows.map((row) => row.name);
      } finally {
        await client.close();
        await single.end();
      }
    }
    const names = await preparedAfterWork(undefined, 'prepared_on');
    // The first enqueue records its queue's row (insert); the second, keyless into a recorded
    // queue, binds its settings once (insert_shared); two unlike keyless jobs are the plain INSERT (insert_keyless).
    expect(names).toHaveLength(4);
    expect(names.some((name) => /^jobsmith_insert_[0-9a-f]/.test(name))).toBe(true);
    expect(names.some((name) => name.startsWith('jobsmith_insert_shared_'))).toBe(true);
    expect(names.some((name) => name.startsWith('jobsmith_insert_keyless_'))).toBe(true);
    expect(names.some((name) => name.startsWith('jobsmith_settle_and_claim_'))).toBe(true);
    expect(await preparedAfterWork(false, 'prepared_off')).toEqual([]);

    // The caller's own connection: used for the enqueue, left without statements of ours.
    const client = createClient({ backend: new PostgresBackend({ connectionString: server.url, schema: 'prepared_tx' }), jobs: [shipOrder] });
    await (await client.backend()).open();
    const own = new pg.Client({ connectionString: server.url });
    await own.connect();
    try {
      await own.query('BEGIN');
      await client.enqueue(shipOrder, { orderId: 3 }, { tx: own });
      await own.query('COMMIT');
      const { rows } = await own.query("SELECT name FROM pg_prepared_statements WHERE name LIKE 'jobsmith%'");
      expect(rows).toEqual([]);
    } finally {
      await own.end();
      await client.close();
    }
  });

  it('a heartbeat and a settle of the same jobs, racing on two connections, never deadlock', { timeout: 60_000 }, async () => {
    // Both statements lock many rows; if they took them in different orders, each could hold
    // a row the other waits for. The settle gets its outcomes newest first, the heartbeat its
    // leases oldest first, every round.
    const backend = new PostgresBackend({ connectionString: server.url, schema: 'lock_order', poolSize: 4 });
    const client = createClient({ backend, jobs: [shipOrder] });
    try {
      for (let round = 0; round < 15; round++) {
        await client.enqueueMany(Array.from({ length: 100 }, (_, n) => ({ job: shipOrder, payload: { orderId: n } })));
        const { jobs } = await backend.claim({ queues: ['default'], names: ['ship-order'], limit: 100, workerId: 'w', leaseMs: 30_000 });
        expect(jobs).toHaveLength(100);
        const leases = jobs.map((job) => ({ id: job.id, token: job.lease.token })).sort((a, b) => (a.id < b.id ? -1 : 1));
        const outcomes = [...leases].reverse().map((lease) => ({ ...lease, kind: 'complete' as const, result: null, expiresAt: null }));
        const [renewed, settled] = await Promise.all([backend.renewLeases(leases, 30_000), backend.settle(outcomes)]);
        // Each job was either renewed before its completion or found finished after it.
        expect(renewed).toHaveLength(100);
        expect(settled.applied.every(Boolean)).toBe(true);
      }
    } finally {
      await client.close();
    }
  });

  it('migrate: false leaves the schema alone and says what is missing', async () => {
    const backend = new PostgresBackend({ connectionString: server.url, schema: 'never_migrated', migrate: false });
    await backend.open();
    await expect(backend.stats()).rejects.toSatisfy((error: unknown) => (error as { details?: { pgCode?: string } }).details?.pgCode === '42P01');
    await backend.close();
  });
});
