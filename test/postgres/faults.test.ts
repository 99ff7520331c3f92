/**
 * The database fails under running workers: a crash-restart (`pg_ctl restart -m
 * immediate`) and every connection killed (`pg_terminate_backend`). The workers must
 * report it, reconnect on their own within seconds of the server accepting connections,
 * and finish every job; jobs that were running come back through their leases.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import type { BackendEvent } from '../../src/contract/backend.ts';
import { createClient, createWorker, type StoreError } from '../../src/index.ts';
import { waitUntil } from '../integration/fixtures/harness.ts';
import { countedSlowJob, FaultTestResources, runThroughFault, startWhileDown } from '../integration/fixtures/store-faults.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');

describe.skipIf(servers.skip)('postgres backend under database faults', () => {
  let server: PostgresServer;
  let schemas = 0;
  const resources = new FaultTestResources();
  const ranTimes = new Map<number, number>();
  const slowJob = countedSlowJob(ranTimes);

  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  afterEach(() => resources.release());

  for (const fault of ['restart -m immediate', 'pg_terminate_backend'] as const) {
    it(`workers ride out ${fault} and finish every job`, { timeout: 90_000 }, async () => {
      const { worker, jobs, resumedAfterMs } = await runThroughFault({
        url: `${server.url}?schema=faults_${++schemas}`,
        resources,
        ran: ranTimes,
        lease: '3s',
        // Within seconds of the server accepting connections again (a restart takes a few itself).
        resumeWithinMs: 5_000 + 3_000,
        fault: async () => {
          if (fault === 'restart -m immediate') await server.restart({ mode: 'immediate' });
          else expect(await server.terminateConnections()).toBeGreaterThan(0);
        },
      });
      expect(worker.health()).toMatchObject({ backendReachable: true });
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
      const tookMs = await startWhileDown({ url: `${down.url}?schema=late`, server: down, resources, downForMs: 3000 });
      console.log(`worker started while the database was down ran a job ${tookMs} ms after it came up`);
    } finally {
      await down.stop();
    }
  });

  it('a notification channel that cannot connect is reported once per outage, and notifications flow once the server is back', { timeout: 90_000 }, async () => {
    const url = `${server.url}?schema=listen_down`;
    const listening = new PostgresBackend({ connectionString: url });
    const job = countedSlowJob(new Map());
    const producer = createClient({ backend: url, jobs: [job] });
    const events: BackendEvent[] = [];
    const listenErrors = () =>
      events.flatMap((event) => (event.type === 'connection-error' && (event.error as StoreError).details?.operation === 'listen' ? [event.error as StoreError] : []));
    try {
      await listening.open();
      await server.kill();
      listening.subscribe((event) => events.push(event));
      await waitUntil('the failed LISTEN reported', () => listenErrors().length > 0 || 'no connection-error yet', { timeoutMs: 10_000 });
      // The listener goes on trying (every 2 s at most) without reporting each try.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(listenErrors()).toHaveLength(1);
      expect(listenErrors()[0]).toMatchObject({ code: 'STORE_ERROR', transient: true });

      await server.start();
      await waitUntil("the listener's reconnect", () => events.some((event) => event.type === 'changed') || 'no changed event yet', { timeoutMs: 20_000 });
      await producer.enqueue(job, 1);
      await waitUntil("the producer's notification", () => events.some((event) => event.type === 'enqueued') || 'no enqueued event yet', { timeoutMs: 10_000 });
      expect(listenErrors()).toHaveLength(1);
    } finally {
      await producer.close();
      await listening.close();
      // The tests after this one need the server, even when this one failed while it was down.
      if (!server.running) await server.start();
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
      resources.client(client);
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
