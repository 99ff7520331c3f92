/**
 * The database fails under running workers: a crash-restart (`pg_ctl restart -m
 * immediate`) and every connection killed (`pg_terminate_backend`). The workers must
 * report it, reconnect on their own within seconds of the server accepting connections,
 * and finish every job; jobs that were running come back through their leases.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { type Client, createClient, createWorker, defineJob, type Worker } from '../../src/index.ts';
import { waitUntil } from '../integration/fixtures/harness.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');

describe.skipIf(servers.skip)('postgres backend under database faults', () => {
  let server: PostgresServer;
  let schemas = 0;
  let workers: Worker[] = [];
  let clients: Client[] = [];

  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    for (const worker of workers) await worker.stop({ timeout: 0 }).catch(() => undefined);
    for (const client of clients) await client.close();
    workers = [];
    clients = [];
  });

  const ranTimes = new Map<number, number>();
  const slowJob = defineJob({
    name: 'slow',
    maxAttempts: 1,
    run: async (n: number, ctx) => {
      ranTimes.set(n, (ranTimes.get(n) ?? 0) + 1);
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 30);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        });
      });
      return n;
    },
  });

  const setup = async () => {
    const url = `${server.url}?schema=faults_${++schemas}`;
    const client = createClient({ backend: url, jobs: [slowJob] });
    clients.push(client);
    const errors: string[] = [];
    const worker = createWorker({ backend: url, jobs: [slowJob], concurrency: 10, lease: '3s', heartbeat: '500ms', pollInterval: '250ms' });
    worker.on('worker:error', ({ during }) => errors.push(during));
    workers.push(worker);
    await worker.start();
    return { client, worker, errors, url };
  };

  const completedCount = async (client: Client) => (await client.stats()).counts.completed;

  /** Polls until `check` holds; the store may be down meanwhile, so a failed check only means "not yet". */
  const waitFor = (what: string, check: () => Promise<boolean>, timeoutMs: number) =>
    waitUntil(what, async () => ((await check()) ? true : 'not yet'), { timeoutMs, intervalMs: 100, tolerateErrors: true });

  for (const fault of ['restart -m immediate', 'pg_terminate_backend'] as const) {
    it(`workers ride out ${fault} and finish every job`, { timeout: 90_000 }, async () => {
      ranTimes.clear();
      const { client, worker, errors } = await setup();
      const total = 600;
      await client.enqueueMany(Array.from({ length: total }, (_, n) => ({ job: slowJob, payload: n })));
      await waitFor('some progress', async () => (await completedCount(client)) >= 100, 30_000);

      if (fault === 'restart -m immediate') await server.restart({ mode: 'immediate' });
      else expect(await server.terminateConnections()).toBeGreaterThan(0);
      const back = Date.now();
      const before = await completedCount(client).catch(() => 0);

      // Work resumes within seconds of the server accepting connections, with no restart of the worker.
      await waitFor('the worker to resume', async () => (await completedCount(client)) > before + 20, 5_000 + 3_000);
      const resumedAfterMs = Date.now() - back;
      await waitFor('every job to complete', async () => (await completedCount(client)) === total, 60_000);

      const jobs = [];
      for await (const job of client.jobs({ limit: 1000 })) jobs.push(job);
      expect(jobs).toHaveLength(total);
      expect(jobs.every((job) => job.state === 'completed')).toBe(true);
      expect([...ranTimes.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, n) => n));
      expect(worker.health()).toMatchObject({ running: true, backendReachable: true });
      // The cut was noticed and reported, not swallowed.
      expect(errors.length).toBeGreaterThan(0);
      const reruns = [...ranTimes.values()].filter((count) => count > 1).length;
      const recovered = jobs.filter((job) => job.crashes > 0).length;
      // A re-run only happens to a job whose attempt was cut off, and is counted as a crash.
      expect(reruns).toBeLessThanOrEqual(recovered);
      console.log(`${fault}: resumed ${resumedAfterMs} ms after the server was back; ${reruns} re-runs, ${recovered} recovered through leases`);
    });
  }

  it('a worker started while the database is down keeps trying, and works within 5 s of it coming up', { timeout: 90_000 }, async () => {
    const down = await startPostgres();
    try {
      const url = `${down.url}?schema=late`;
      await down.kill();
      const errors: unknown[] = [];
      const worker = createWorker({ backend: url, jobs: [slowJob], pollInterval: '250ms' });
      worker.on('worker:error', ({ error }) => errors.push(error));
      workers.push(worker);
      await worker.start();
      expect(worker.health().backendReachable).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(errors.length).toBeGreaterThan(1);
      expect(errors.every((error) => (error as { code?: string }).code === 'STORE_ERROR' && (error as { transient?: boolean }).transient === true)).toBe(true);
      await down.start();
      const up = Date.now();
      const client = createClient({ backend: url, jobs: [slowJob] });
      clients.push(client);
      const { id } = await client.enqueue(slowJob, 1);
      await client.waitFor(id, { timeout: '10s' });
      const tookMs = Date.now() - up;
      expect(tookMs).toBeLessThan(5000);
      console.log(`worker started while the database was down ran a job ${tookMs} ms after it came up`);
    } finally {
      await down.stop();
    }
  });

  describe('bad input at start gives a typed error, never an unhandled rejection', () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    beforeAll(() => {
      process.on('unhandledRejection', onUnhandled);
    });
    afterAll(() => {
      process.off('unhandledRejection', onUnhandled);
    });

    it('wrong credentials', async () => {
      const url = server.urlFor({ user: server.passwordRole.user, password: 'not-the-password' });
      const worker = createWorker({ backend: url, jobs: [slowJob] });
      await expect(worker.start()).rejects.toSatisfy(
        (error: unknown) =>
          (error as { code?: string }).code === 'STORE_ERROR' &&
          (error as { transient?: boolean }).transient === false &&
          /password/i.test((error as Error).message) &&
          !(error as Error).message.includes('not-the-password'),
      );
      const client = createClient({ backend: url });
      clients.push(client);
      await expect(client.stats()).rejects.toMatchObject({ code: 'STORE_ERROR', details: { pgCode: '28P01' } });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
    });

    it('an unreachable host', async () => {
      const worker = createWorker({ backend: 'postgres://jobsmith@host.invalid:5432/nothing', jobs: [slowJob] });
      await expect(worker.start()).rejects.toMatchObject({ code: 'STORE_ERROR', transient: false });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
    });

    it('a role without rights on the schema', async () => {
      await server.query('CREATE SCHEMA IF NOT EXISTS locked');
      const roleUrl = await server.createRole('no_rights', 'pw');
      await server.query('REVOKE ALL ON SCHEMA locked FROM PUBLIC');
      await server.query('REVOKE CREATE ON DATABASE postgres FROM no_rights');
      const backend = new PostgresBackend({ connectionString: roleUrl, schema: 'locked' });
      await expect(backend.open()).rejects.toSatisfy(
        (error: unknown) =>
          (error as { code?: string }).code === 'STORE_ERROR' &&
          (error as { details?: { pgCode?: string } }).details?.pgCode === '42501' &&
          /rights/.test((error as Error).message),
      );
      await backend.close();
      const worker = createWorker({ backend: `${roleUrl.split('?')[0]}?schema=locked`, jobs: [slowJob] });
      await expect(worker.start()).rejects.toMatchObject({ code: 'STORE_ERROR', transient: false });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
    });

    it('a malformed connection string', async () => {
      const worker = createWorker({ backend: 'postgres://user:secret@:notaport/db', jobs: [slowJob] });
      await expect(worker.start()).rejects.toSatisfy(
        (error: unknown) => (error as { code?: string }).code === 'INVALID_URL' && !(error as Error).message.includes('secret'),
      );
    });
  });
});
